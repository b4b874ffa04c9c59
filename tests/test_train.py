"""Training: dataset readers, the train command, reproducibility, firmware = reference."""
import json

import numpy as np

from host_tools import cli, datasets, modelfile, reference, train


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
