"""train on the maker's own data: recordings and multi-channel CSV, units from the data,
and one-line refusals instead of silent damage."""
import json

import numpy as np
import pytest

from host_tools import cli
from host_tools.data import datasets, recording
from host_tools.learn import train


def _windows(n_per=6, samples=40, rng=None):
    rng = rng or np.random.default_rng(0)
    t = np.arange(samples)
    out, labels = [], []
    for c, f in enumerate((1, 3)):
        for _ in range(n_per):
            w = np.stack([3000 * np.sin(2 * np.pi * f * t / samples + k) for k in range(6)], 1)
            out.append(np.round(w + rng.normal(0, 200, w.shape)).astype(np.int16))
            labels.append("slow" if c == 0 else "fast")
    return np.stack(out), labels


def _write_csv(path, rows, header):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return str(path)


def test_train_on_a_recording_keeps_int16_units_and_holds_out_validation(tmp_path, capsys):
    w, labels = _windows()
    rec = str(tmp_path / "rec")
    recording.write_folder(rec, w, labels, 50, recording.MPU_NAMES, "LSB")
    out = str(tmp_path / "m.tem")
    assert cli.main(["train", "--recording", rec, "--out", out]) == 0
    text = capsys.readouterr().out
    assert "held-out validation windows" in text and "x1 to int16" in text
    info = json.load(open(out + ".json"))
    assert info["sensor_scale"] == 1.0 and info["channels"] == 6 and info["length"] == 16
    # what train feeds the front end is the board's own int16 window; the old fixed x1000
    # clipped it to +-32767 (a square wave)
    x = train.prepare_all([s * (1 / train.SENSOR_SCALE) for s in w.astype(float)], 16)
    assert np.array_equal(x[0], train.frontend(w[0], 16))
    assert not np.array_equal(train.prepare_all([w[0].astype(float)], 16)[0], x[0])


def test_train_on_training_windows_says_so(tmp_path, capsys):
    w, labels = _windows(n_per=1)
    rec = str(tmp_path / "rec")
    recording.write_folder(rec, w, labels, 50, recording.MPU_NAMES, "LSB")
    assert cli.main(["train", "--recording", rec, "--out", str(tmp_path / "m.tem"), "--length", "8"]) == 0
    assert "training windows themselves" in capsys.readouterr().out


def test_multichannel_csv_and_auto_scale(tmp_path, capsys):
    w, labels = _windows(samples=10)
    header = ["label"] + ["%s_%d" % (c, i) for c in ("ax", "ay") for i in range(10)]
    rows = [[lab] + list(x[:, 0] / 1000.0) + list(x[:, 1] / 1000.0) for x, lab in zip(w, labels)]
    path = _write_csv(tmp_path / "w.csv", rows, header)
    series, got = datasets.read_csv(path)
    assert series[0].shape == (10, 2) and got == labels
    assert np.allclose(series[0][:, 1], w[0, :, 1] / 1000.0)
    assert train.choose_scale(series, "auto", False, False) == 1000.0
    assert cli.main(["train", "--csv", path, "--out", str(tmp_path / "m.tem"), "--length", "8"]) == 0
    assert "x1000 to int16" in capsys.readouterr().out


BAD = {
    "nan": ("label,t0,t1,t2\na,1,2,3\nb,1,NaN,3\n", "row 3 column t1: NaN"),
    "inf": ("label,t0,t1,t2\na,1,2,3\nb,1,inf,3\n", "row 3 column t1: inf"),
    "empty": ("label,t0,t1,t2\na,1,,3\nb,1,2,3\n", "row 2 column t1: empty cell"),
    "word": ("label,t0,t1,t2\na,1,x,3\nb,1,2,3\n", "'x' is not a number"),
    "ragged": ("label,t0,t1,t2\na,1,2,3\nb,1,2\n", "row 3: 3 cells, the header has 4"),
    "one class": ("label,t0,t1,t2\na,1,2,3\na,3,2,1\n", "only one class"),
    "one row": ("label,t0,t1,t2\na,1,2,3\n", "1 window"),
    "no label": ("t0,t1,t2\n1,2,3\n", "needs a 'label' column"),
    "header only": ("label,t0,t1\n", "a header and no windows"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_is_refused_in_one_line(case, tmp_path, capsys):
    text, msg = BAD[case]
    p = tmp_path / "bad.csv"
    p.write_text(text)
    out = tmp_path / "m.tem"
    assert cli.main(["train", "--csv", str(p), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("train: ") and msg in err[0], err
    assert not out.exists()


def test_scale_that_clips_or_zeroes_is_refused(tmp_path, capsys):
    w, labels = _windows()
    rec = str(tmp_path / "rec")
    recording.write_folder(rec, w, labels, 50, recording.MPU_NAMES, "LSB")
    for scale, msg in (("1000", "clips the data"), ("0.0001", "almost all zeros"), ("-1", "positive"),
                       ("abc", "a number or auto")):
        assert cli.main(["train", "--recording", rec, "--scale", scale, "--out", str(tmp_path / "m.tem")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err


def test_unlabelled_stream_and_missing_input_are_refused(tmp_path, capsys):
    w, _ = _windows()
    rec = str(tmp_path / "s")
    recording.write_folder(rec, w, [None] * len(w), 50, recording.MPU_NAMES, "LSB")
    assert cli.main(["train", "--recording", rec, "--out", str(tmp_path / "m.tem")]) == 2
    assert "no label" in capsys.readouterr().err
    assert cli.main(["train", "--csv", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m.tem")]) == 2
    assert "no such file" in capsys.readouterr().err
