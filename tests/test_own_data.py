"""fewshot --data and anomaly-eval --data: the maker's own recordings through the existing
evaluations, and one-line refusals."""
import json

import numpy as np

from host_tools import cli
from host_tools.data import recording
from test_train_data import _windows


def test_fewshot_on_a_recording_with_a_model_trained_on_it(tmp_path, capsys):
    w, labels = _windows(n_per=7)
    rec = str(tmp_path / "rec")
    recording.write_folder(rec, w, labels, 50, recording.MPU_NAMES, "LSB")
    model = str(tmp_path / "m.tem")
    assert cli.main(["train", "--recording", rec, "--out", model]) == 0
    capsys.readouterr()
    assert cli.main(["fewshot", "--data", rec, "--model", model, "--episodes", "5", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["windows"] == 14 and set(res["accuracy"]) == {"1", "5"}
    assert res["accuracy"]["5"]["int8"] > 0.9  # two very different motions
    assert cli.main(["fewshot", "--data", rec, "--episodes", "5"]) == 2
    assert "needs --model" in capsys.readouterr().err
    # a model for other data is refused in one line
    assert cli.main(["fewshot", "--data", rec, "--model", "host_tools/models/wiimote.tem"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "takes 64 values" in err[0], err


def test_anomaly_eval_on_a_ter_recording(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rate = 20
    t = np.arange(rate * 80) / rate
    x = np.stack([2000 * np.sin(2 * np.pi * 1 * t + k) for k in range(3)], 1) + rng.normal(0, 100, (len(t), 3))
    x[rate * 60:rate * 65] += 6000 * np.sin(2 * np.pi * 6 * t[rate * 60:rate * 65])[:, None]  # a shake
    p = str(tmp_path / "walk.ter")
    recording.write(p, np.round(x).astype(np.int16), rate, channels=["x", "y", "z"], units="mg")
    assert cli.main(["anomaly-eval", "--data", p, "--learn", "30", "--sweep", "", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    det = [r for r in out["results"] if r["method"] == "detector"][0]
    assert det["recording"] == "walk.ter" and det["normal_windows"] > 0
    # settings chosen on the first half of the scored windows, figures from the windows after it
    sp = out["split"]["walk.ter"]
    assert sp["held_out_samples"][0] >= sp["selection_samples"][1]
    csv = tmp_path / "short.csv"
    csv.write_text("x,y\n1,2\n3,4\n")
    assert cli.main(["anomaly-eval", "--data", str(csv), "--rate", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs more than" in err[0], err
