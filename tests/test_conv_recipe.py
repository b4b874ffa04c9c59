"""The conv few-shot candidate (host_tools/learn/conv_recipe.py): its export runs on the firmware
bit for bit as the reference, smoke training is reproducible, and fewshot offers it only where
PyTorch can be imported."""
import sys

import numpy as np
import pytest

from host_tools.data import datasets
from host_tools.evaluate import fewshot
from host_tools.learn import conv_recipe, train
from host_tools.oracle import modelfile, reference


def _base_windows(name, per_class=3):
    tr, ltr = datasets.load(name, "TRAIN")
    base, _ = datasets.base_novel(ltr)
    keep = [i for c in base[:3] for i in [j for j, y in enumerate(ltr) if y == c][:per_class]]
    return [tr[i] for i in keep], [ltr[i] for i in keep]


@pytest.mark.parametrize("name, layers_in", [("PickupGestureWiimoteZ", 64), ("JapaneseVowels", 12 * 16)])
def test_export_runs_on_the_firmware_as_the_reference(name, layers_in):
    pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")
    series, labels = _base_windows(name)
    model, info = conv_recipe.fit(series, labels, seed=0, smoke=True)
    data = modelfile.to_bytes(model)
    m = modelfile.from_bytes(data)
    assert [layer["type"] for layer in m["layers"]] == ["conv1d", "relu", "conv1d", "relu", "maxpool", "dense",
                                                        "l2norm"]
    assert m["in_dim"] == layers_in and info["method"] == "conv"
    assert sum(int(layer["w"].size) for layer in m["layers"] if "w" in layer) < 8 * 1024
    x = train.prepare_all(series, info["length"])
    E = train.firmware_embed(data, x)                       # tinyenroll.model, plain backend
    assert E.shape == (len(series), 32) and np.array_equal(E, reference.forward_batch(m, x))
    F = conv_recipe.float_embed(info, x)                    # the folded float layers agree with int8
    cos = (E * F).sum(1) / np.linalg.norm(E, axis=1)
    assert np.median(cos) > 0.95


def test_smoke_training_is_deterministic():
    pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")
    series, labels = _base_windows("PickupGestureWiimoteZ")
    a, b, c = (modelfile.to_bytes(conv_recipe.fit(series, labels, seed=s, smoke=True)[0]) for s in (0, 0, 1))
    assert a == b and a != c


def test_arch_fits_both_front_end_lengths():
    for length in (64, 16):
        a = conv_recipe.arch_for(length)
        t2 = ((length - a["k1"]) // a["s1"] + 1 - a["k2"]) // a["s2"] + 1
        assert t2 // a["pool"] == 3


def test_conv_is_a_candidate_only_when_torch_imports(monkeypatch):
    assert ("conv" in fewshot.methods()) == conv_recipe.available()
    monkeypatch.setitem(sys.modules, "torch", None)           # import torch now fails
    assert not conv_recipe.available() and fewshot.methods() == ("pca", "whiten")
    r = fewshot.evaluate("PickupGestureWiimoteZ", episodes=2, progress=False)
    assert {v["method"] for v in r["validation"]} == {"pca", "whiten"} and r["conv_test"] is None
    assert fewshot.NO_TORCH in fewshot.table([r])
