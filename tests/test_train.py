"""Training: dataset readers, the train command, reproducibility, firmware = reference."""
import json

import numpy as np

from host_tools import cli
from host_tools.data import datasets
from host_tools.learn import train
from host_tools.oracle import modelfile, reference


def test_parse_ts_and_csv(tmp_path):
    ts = tmp_path / "x.ts"
    ts.write_text("@problemName x\n@data\n1,2,3:4,5,6:a\n7,8:9,10:b\n")
    series, labels = datasets.read_ts(str(ts))
    assert labels == ["a", "b"] and series[0].shape == (3, 2) and series[1][1].tolist() == [8, 10]
    csv = tmp_path / "x.csv"
    csv.write_text("label,t0,t1,t2\nup,1,2,3\ndown,3,2,1\n")
    series, labels = datasets.read_csv(str(csv))
    assert labels == ["up", "down"] and series[1][:, 0].tolist() == [3, 2, 1]
    assert datasets.base_novel(["10", "2", "1", "3", "9"]) == (["1", "2", "3"], ["9", "10"])


def test_train_cli_writes_a_model_the_firmware_runs(tmp_path, capsys):
    out = str(tmp_path / "m.tem")
    assert cli.main(["train", "--dataset", "PickupGestureWiimoteZ", "--classes", "base", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "float embedding" in text and "int8 (firmware)" in text
    m = modelfile.read(out)
    info = json.load(open(out + ".json"))
    assert m["in_dim"] == info["length"] == 64 and info["classes"] == ["1", "2", "3", "4", "5"]
    series, _ = datasets.load("PickupGestureWiimoteZ", "TEST")
    x = train.prepare_all(series[:10], 64)
    assert np.array_equal(train.firmware_embed(open(out, "rb").read(), x), reference.forward_batch(m, x))
    # same seed, same model
    again = str(tmp_path / "again.tem")
    cli.main(["train", "--dataset", "PickupGestureWiimoteZ", "--classes", "base", "--out", again])
    assert open(out, "rb").read() == open(again, "rb").read()


def test_whitening_shrinks_within_class_spread():
    # classes differ along axis 0 by 1; inside a class axis 1 varies 20x more than that
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 20)
    x = np.stack([y + rng.normal(0, 0.1, y.size), rng.normal(0, 20, y.size), rng.normal(0, 0.1, y.size)], 1)
    P, mu = train.whitening(x, y, 3, shrink=0.0)
    plain = train.nearest_accuracy(x[::2], y[::2], x[1::2], y[1::2])
    white = train.nearest_accuracy((x[::2] - mu) @ P, y[::2], (x[1::2] - mu) @ P, y[1::2])
    assert plain < 0.6 and white > 0.9
    assert train.choose_method(y) == "whiten" and train.choose_method(y[::5]) == "pca"


def test_whitened_model_ends_in_l2norm_on_the_firmware():
    series, labels = datasets.load("JapaneseVowels", "TRAIN")
    keep = [i for i, y in enumerate(labels) if y in ("1", "2")][:40]
    s, y = [series[i] for i in keep], [labels[i] for i in keep]
    model, info = train.fit(s, y, dim=16, copies=1)
    assert info["method"] == "whiten" and model["layers"][-1]["type"] == "l2norm"
    x = train.prepare_all(s, info["length"])
    e = train.firmware_embed(modelfile.to_bytes(model), x).astype(np.float64)
    assert np.array_equal(e, reference.forward_batch(model, x))
    assert np.all(np.abs(np.linalg.norm(e, axis=1) - 127) < 6)
    f = train.float_embed(info, x)
    # int8 embedding within a few units of the float one (both ~127 long)
    assert np.abs(e - f).max() < 12
