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


def test_the_unknown_percent_rule_picks_the_tightest_within_the_bound():
    curve = {p: {"known_rejected": r} for p, r in [(100, 7.6), (110, 4.9), (120, 2.9), (130, 1.7), (150, 0.8)]}
    assert motion_eval.choose_pct(curve) == 120
    with pytest.raises(ValueError, match="at most 3"):
        motion_eval.choose_pct({100: {"known_rejected": 3.1}})


def test_open_set_rates_equal_the_firmware_enroller_at_each_percent():
    """The curve is computed from the threshold at 100 % (q itself): at p % it must be exactly
    the firmware's own decision with unknown_pct=p."""
    from tinyenroll import enroll
    rng = np.random.default_rng(3)
    y = np.repeat(np.array(hapt.TRANSITIONS), 8)
    E = np.clip(rng.normal(0, 40, (len(y), 16)) + 30 * (y[:, None] % 3 - 1), -128, 127).astype(np.int8)
    B = rng.integers(-128, 128, (20, 16)).astype(np.int8)
    curve = motion_eval.open_set(E, y, B, pcts=(60, 120), n=6, seed=1)
    for p in (60, 120):
        rng2 = np.random.default_rng(1)  # the same episodes, decided by the firmware at p %
        kr, ur = [], []
        for _ in range(6):
            classes = sorted(rng2.choice(hapt.TRANSITIONS, 3, replace=False).tolist())
            sup = np.concatenate([rng2.choice(np.flatnonzero(y == c), 5, replace=False) for c in classes])
            known = np.setdiff1d(np.flatnonzero(np.isin(y, classes)), sup)
            e = enroll.Enroller(16, k=1, capacity=15, max_classes=3, max_per_class=5, unknown_pct=p)
            for i in sup:
                e.add(str(y[i]), E[i].tobytes())
            kr.append(np.mean([e.classify(E[i].tobytes())[0] is None for i in known]))
            ur.append(np.mean([e.classify(v.tobytes())[0] is None for v in np.concatenate([E[~np.isin(y, classes)], B])]))
        assert curve[p]["known_rejected"] == pytest.approx(100 * np.mean(kr))
        assert curve[p]["unknown_rejected"] == pytest.approx(100 * np.mean(ur))
    assert curve[60]["unknown_rejected"] > curve[120]["unknown_rejected"]


def test_the_final_test_refuses_a_model_without_a_percent_chosen_on_validation(tmp_path):
    import shutil
    path = str(tmp_path / "m.tem")
    shutil.copy(SHIPPED, path)
    with pytest.raises(ValueError, match="choose it on validation first"):
        motion_eval.evaluate(path, final_test=True, log=lambda *_: None)
    assert motion_eval.recorded_pct(SHIPPED) in motion_eval.PCTS  # the shipped model carries its choices
    assert motion_eval.recorded_pct(SHIPPED, "unknown_dist") in motion_eval.DISTS


def test_the_one_shot_distance_rule_and_its_curve():
    curve = {t: {"known_rejected": r} for t, r in [(26000, 7.7), (28000, 4.3), (30000, 1.6), (32000, 0.8)]}
    assert motion_eval.choose_dist(curve) == 30000
    with pytest.raises(ValueError, match="at most 3"):
        motion_eval.choose_dist({10000: {"known_rejected": 50.0}})
    rng = np.random.default_rng(4)
    y = np.repeat(np.array(hapt.TRANSITIONS), 6)
    E = np.clip(rng.normal(0, 40, (len(y), 16)) + 30 * (y[:, None] % 3 - 1), -128, 127).astype(np.int8)
    B = rng.integers(-128, 128, (10, 16)).astype(np.int8)
    one = motion_eval.open_set_one_shot(E, y, B, dists=(0, 10 ** 6), n=5)
    assert one[0]["known_rejected"] > 90 and one[0]["unknown_rejected"] > 90  # at distance 0 all is unknown
    assert one[10 ** 6] == {"known_rejected": 0.0, "unknown_rejected": 0.0}


def test_basicmotions_transfer_reads_the_corpus_and_its_columns_agree_with_numpy():
    from host_tools.evaluate import motion_transfer
    x, y = motion_transfer.load()
    assert x.shape == (80, 6 * motion.LENGTH) and x.dtype == np.int8
    assert {c: int((y == c).sum()) for c in set(y.tolist())} == {"Standing": 20, "Walking": 20, "Running": 20,
                                                                  "Badminton": 20}
    res = motion_transfer.evaluate(SHIPPED, episodes=4, log=lambda *_: None)
    eps = motion_eval.episodes(y, np.zeros(len(y), int), 3, n=4, ways=sorted(set(y.tolist())))
    # raw Euclid and int8 1-NN recomputed here: numpy over the front end's windows, and the numpy
    # reference model's embeddings (the firmware's Enroller breaks ties its own way: within a point)
    X = x.astype(np.float64)
    E = reference.forward_batch(modelfile.read(SHIPPED), x).astype(np.float64)

    def acc(V):
        return 100 * np.mean([(y[s][((V[q][:, None] - V[s][None]) ** 2).sum(-1).argmin(1)] == y[q]).mean()
                              for s, q in eps])
    assert res["rows"]["raw Euclid 1-NN"]["K3"][0] == pytest.approx(acc(X))
    assert abs(res["rows"]["int8 1-NN (firmware)"]["K3"][0] - acc(E)) < 1.0
    assert all(0 <= v[0] <= 100 for r in res["rows"].values() for v in r.values())
