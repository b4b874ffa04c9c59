"""Few-shot evaluation: a short run on the real data, its table, JSON and plots, and AUROC."""
import json
import sys

import numpy as np
import pytest

from host_tools import cli
from host_tools.evaluate import fewshot
from host_tools.learn import conv_recipe


@pytest.fixture(autouse=True)
def smoke_conv(monkeypatch):
    """The conv candidate trains a few steps here (tests/test_conv_recipe.py tests it)."""
    monkeypatch.setattr(conv_recipe, "RECIPE", dict(conv_recipe.RECIPE, **conv_recipe.SMOKE))


def test_auroc_counts_pairs_and_ties():
    assert fewshot.auroc([1, 2], [3, 4]) == 1.0
    assert fewshot.auroc([3, 4], [1, 2]) == 0.0
    assert fewshot.auroc([1, 3], [2, 2]) == 0.5
    assert fewshot.auroc([2], [2]) == 0.5


def test_one_nn_and_raw_features():
    sup = np.array([[0.0, 0.0], [10.0, 10.0]])
    assert fewshot.one_nn(sup, ["a", "b"], np.array([[1.0, 2.0], [9.0, 7.0]])).tolist() == ["a", "b"]
    f = fewshot.raw_features([np.arange(10.0)[:, None], np.ones((7, 1))])
    assert f.shape == (2, 64)
    assert abs(f[0].mean()) < 1e-9 and abs(f[0].std() - 1) < 1e-9 and f[0][0] < f[0][-1]
    assert not f[1].any()  # a flat window stays zero, no division by zero
    two = fewshot.raw_features([np.stack([np.arange(5.0), -np.arange(5.0)], 1)])
    assert two.shape == (1, 128) and two[0][:64].tolist() == (-two[0][64:]).tolist()


def test_fewshot_small_run_and_plots(tmp_path):
    r = fewshot.evaluate("PickupGestureWiimoteZ", episodes=5, progress=False)
    a = r["accuracy"]
    assert r["ways"] == 5 and r["novel"] == ["6", "7", "8", "9", "10"]
    for kind in ("raw", "float", "int8", "floatp", "int8p"):
        assert 0.3 < a[kind]["5"] <= 1.0 and 0.2 < a[kind]["1"] <= 1.0
    assert abs(a["int8"]["5"] - a["float"]["5"]) < 0.05
    o = r["open_set"]
    assert 0.0 <= o["auroc"] <= 1.0 and 0.0 <= o["rejected_unknown"] <= 1.0
    assert np.array(r["confusion_int8_5shot"]).sum() == 5 * r["queries"]
    paths = fewshot.plots([r], str(tmp_path))
    assert len(paths) == 3 and all((tmp_path / p.split("/")[-1]).stat().st_size > 5000 for p in paths)
    text = fewshot.table([r])
    assert "int8p" in text and "1-way" not in text and "5-way" in text


def test_fewshot_cli_json(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # without PyTorch: pca and whiten only
    assert cli.main(["fewshot", "--dataset", "JapaneseVowels", "--episodes", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 1 and out[0]["ways"] == 4 and out[0]["base"] == ["1", "2", "3", "4", "5"]
    a = out[0]["accuracy"]
    assert set(a) == {"raw", "float", "int8", "floatp", "int8p"}
    assert out[0]["model"]["weights"] <= 20000 and out[0]["model"]["method"] == "whiten"
    # the whitened embedding beats raw windows on new speakers (measured: 98.7 vs 91.5 % over 200)
    assert a["int8p"]["5"] > a["raw"]["5"] and abs(a["int8"]["5"] - a["float"]["5"]) < 0.03


def test_conv_row_when_validation_chooses_another_method(monkeypatch):
    pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")
    real = fewshot.validate

    def validate(*a, **kw):  # pca chosen, conv's best validation row at 16 dims, prototype
        choice, rows = real(*a, **kw)
        rows = [r for r in rows if r["method"] != "conv"] + [
            {"method": "conv", "dim": 16, "rule": "knn", "val_accuracy": 0.1},
            {"method": "conv", "dim": 16, "rule": "prototype", "val_accuracy": 0.2}]
        return dict(choice, method="pca", dim=16, rule="knn", val_accuracy=0.9), rows
    monkeypatch.setattr(fewshot, "validate", validate)
    r = fewshot.evaluate("PickupGestureWiimoteZ", episodes=2, progress=False)
    c = r["conv_test"]
    assert r["model"]["method"] == "pca" and c["model"]["method"] == "conv" and c["model"]["embedding"] == 16
    assert c["chosen_column"] == "int8p" and set(c["accuracy"]) == {"float", "int8", "floatp", "int8p"}
    text = fewshot.table([r])
    assert "PickupGestureW conv" in text and "NOT the method validation chose" in text


def test_wilson_interval_against_known_values():
    # values worked out by hand from Wilson's formula: 21 of 25 right -> 65.3 % .. 93.6 %
    lo, hi = fewshot.wilson(0.84, 25)
    assert abs(lo - 0.6535) < 1e-3 and abs(hi - 0.9360) < 1e-3
    assert fewshot.wilson(1.0, 10)[1] == 1.0 and fewshot.wilson(0.0, 10)[0] == 0.0


def test_choices_are_made_on_base_classes_only(monkeypatch):
    # validation never sees a novel class or a TEST window: every series train.fit and
    # firmware_embed get during validate() belongs to a base class's TRAIN windows
    from host_tools.data import datasets
    from host_tools.learn import train
    tr, ltr = datasets.load("PickupGestureWiimoteZ", "TRAIN")
    base, novel = datasets.base_novel(ltr)
    seen = []

    def recording(real_fit):
        def fit(series, labels, **kw):
            seen.extend(labels)
            return real_fit(series, labels, **kw)
        return fit
    monkeypatch.setattr(train, "fit", recording(train.fit))
    monkeypatch.setattr(conv_recipe, "fit", recording(conv_recipe.fit))
    choice, rows = fewshot.validate(tr, ltr, base, episodes=3)
    assert set(seen) <= set(base) and set(choice["val_classes"]) <= set(base)
    assert not set(choice["fit_classes"]) & set(choice["val_classes"])
    assert {(r["method"], r["dim"], r["rule"]) for r in rows} >= {("pca", 16, "knn"), ("pca", 32, "prototype")}
    assert ({r["method"] for r in rows} >= {"conv"}) == conv_recipe.available()
    assert choice["val_accuracy"] == max(r["val_accuracy"] for r in rows)
