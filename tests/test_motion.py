"""The motion recipe: reproducible training (smoke), the shipped model's size, cost and fit on a
board, and the evaluation's pieces."""
import subprocess

import numpy as np
import pytest

from host_tools.board import mpy
from host_tools.data import hapt
from host_tools.evaluate import motion_eval
from host_tools.learn import motion
from host_tools.oracle import modelfile, reference

SHIPPED = motion_eval.DEFAULT_MODEL


def test_smoke_training_is_deterministic_and_exports_a_board_model(tmp_path):
    torch = pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")
    assert torch.__version__.startswith("2.13.0")
    a, b = str(tmp_path / "a.tem"), str(tmp_path / "b.tem")
    motion.run(a, smoke=True, log=lambda *_: None)
    motion.run(b, smoke=True, log=lambda *_: None)
    assert open(a, "rb").read() == open(b, "rb").read()      # same seed, same bytes
    m = modelfile.read(a)
    assert [layer["type"] for layer in m["layers"]] == ["conv1d", "relu", "conv1d", "relu", "maxpool", "dense", "l2norm"]
    # the float layers saved beside it agree with the int8 model on real windows
    x, _, _ = motion_eval.windows(hapt.load_validation()[:2], hapt.TRANSITIONS)
    E = reference.forward_batch(m, x).astype(np.float64)
    F = motion.float_forward(a, x)
    cos = (E * F).sum(1) / np.linalg.norm(E, axis=1) / np.linalg.norm(F, axis=1)
    assert np.median(cos) > 0.95


def test_shipped_model_size_and_cost():
    m = modelfile.read(SHIPPED)
    weights = sum(int(layer["w"].size) for layer in m["layers"] if "w" in layer)
    assert weights <= 32 * 1024 and m["in_dim"] == 6 * motion.LENGTH
    assert motion_eval.macs(m) == 30336
    from host_tools.evaluate import baselines
    assert motion_eval.macs(m) + 50 * 32 <= baselines.dtw_ops(motion.LENGTH, 6) / 10


FIT = """
import gc, sys, array
gc.collect()
from tinyenroll import frontend, model, learner
m = model.load(sys.argv[1])
L = learner.Learner(m, sys.argv[2], capacity=200, max_classes=10, max_per_class=20)
raw = array.array('h', bytes(2 * 200 * 6))
x = bytearray(m.in_dim)
for i in range(200):
    for j in range(len(raw)):
        raw[j] = ((i * 131 + j * 17) % 2001) - 1000
    frontend.prepare(raw, 200, 6, 64, x, 2)
    L.knn.add('c%d' % (i % 10), m.embed(x))
label, score, margin = L.classify(window=x)
gc.collect()
print(L.knn.count, label, gc.mem_free())
"""


def test_pipeline_with_200_examples_fits_96k(tmp_path):
    """Front end + the shipped motion model + 200 enrolled examples at a plain ESP32's heap."""
    script = tmp_path / "fit.py"
    script.write_text(FIT)
    argv, env = mpy.command(str(script), heap="96K")
    p = subprocess.run(argv + [SHIPPED, str(tmp_path / "st")], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    count, label, free = p.stdout.split()
    assert int(count) == 200 and label.startswith("c")


def test_episodes_are_fixed_and_never_share_support_and_query():
    y = np.repeat(np.array(hapt.TRANSITIONS), 4)
    subs = np.tile(np.array([25, 26]), 12)
    a = motion_eval.episodes(y, subs, 3, n=20)
    b = motion_eval.episodes(y, subs, 3, n=20)
    for (sa, qa), (sb, qb) in zip(a, b):
        assert np.array_equal(sa, sb) and np.array_equal(qa, qb)
        assert not set(sa) & set(qa) and len(sa) == 18
    for sup, q in motion_eval.episodes(y, subs, 1, personal=True, n=20):
        assert len(set(subs[np.concatenate([sup, q])])) == 1


def test_auroc():
    assert motion_eval.auroc([1, 2], [3, 4]) == 1.0
    assert motion_eval.auroc([3, 4], [1, 2]) == 0.0
    assert motion_eval.auroc([1, 2], [1, 2]) == 0.5
