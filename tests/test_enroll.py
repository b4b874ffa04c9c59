"""Enrollment, classification, guard rails and bad input, under CPython."""
import array
import os

import numpy as np
import pytest

from host_tools.oracle import knn_ref
from tinyenroll import errors, kernels, learner, model
from tinyenroll.enroll import Enroller
from tinyenroll.errors import InputError, Refused, StoreFull

DIM = 8


def clusters(seed=0, n_cls=3, per=4, spread=10):
    rng = np.random.default_rng(seed)
    cent = rng.integers(-60, 60, size=(n_cls, DIM))
    rows, labs = [], []
    for i in range(n_cls * per):
        c = i % n_cls
        rows.append(np.clip(cent[c] + rng.integers(-spread, spread + 1, DIM), -128, 127).astype(np.int8))
        labs.append(c)
    return cent, np.array(rows), np.array(labs)


def fresh(tmp_path, **kw):
    return learner.Learner(None, str(tmp_path / "st"), dim=DIM, **kw)


def files(tmp_path):
    return {p: open(os.path.join(tmp_path, p), "rb").read() for p in sorted(os.listdir(tmp_path))}


@pytest.mark.parametrize("mode", ["knn", "prototype"])
def test_classify_matches_reference_and_survives_restart(tmp_path, mode):
    cent, rows, labs = clusters()
    L = fresh(tmp_path, mode=mode)
    names = ["c0", "c1", "c2"]
    for r, c in zip(rows, labs):
        L.enroll(names[c], embedding=r.tobytes())
    assert L.labels() == [("c0", 4), ("c1", 4), ("c2", 4)]
    assert L.threshold() == knn_ref.calibrate(rows, labs, 3, 3, mode)
    assert L.threshold()[1] == "loo"
    rng = np.random.default_rng(5)
    again = fresh(tmp_path, mode=mode)
    for _ in range(50):
        q = rng.integers(-128, 128, DIM).astype(np.int8)
        want = knn_ref.classify(q, rows, labs, names, 3, mode)
        assert L.classify(embedding=q.tobytes()) == want
        assert again.classify(embedding=q.tobytes()) == want
    label, score, margin = L.classify(embedding=cent[1].astype(np.int8).tobytes())
    assert label == "c1" and margin > 0


def test_far_away_is_unknown_and_threshold_sources(tmp_path):
    L = fresh(tmp_path)
    v = np.full(DIM, 40, np.int8)
    L.enroll("a", embedding=v.tobytes())
    assert L.threshold() == (127 * 127, "default")
    L.enroll("b", embedding=(-v).tobytes())
    assert L.threshold() == (8 * 80 * 80 // 2, "inter-class")
    label, score, _ = L.classify(embedding=np.full(DIM, 60, np.int8).tobytes())
    assert label == "a"
    assert L.classify(embedding=np.array([100, -100] * 4, np.int8).tobytes())[0] is None
    L.set_threshold(10)
    assert L.threshold() == (10, "manual")
    assert L.classify(embedding=np.full(DIM, 42, np.int8).tobytes())[0] is None
    L.set_threshold(None)
    assert L.threshold()[1] == "inter-class"


def test_bad_input_is_refused_and_changes_nothing(tmp_path):
    cent, rows, labs = clusters()
    L = fresh(tmp_path, max_classes=3, max_per_class=4, policy="refuse")
    for r, c in zip(rows, labs):
        L.enroll("c%d" % c, embedding=r.tobytes())
    before = files(tmp_path)
    state = (L.labels(), L.threshold(), L.store.generation)
    good = rows[0].tobytes()
    bad_calls = [
        (InputError, "has 7 values", lambda: L.enroll("c0", embedding=good[:7])),
        (InputError, "int8", lambda: L.enroll("c0", embedding=array.array("h", range(DIM)))),
        (InputError, "int8", lambda: L.enroll("c0", embedding=list(range(DIM)))),
        (InputError, "must be a str", lambda: L.enroll(5, embedding=good)),
        (InputError, "1..16 bytes", lambda: L.enroll("", embedding=good)),
        (InputError, "1..16 bytes", lambda: L.enroll("x" * 17, embedding=good)),
        (InputError, "control character", lambda: L.enroll("a\nb", embedding=good)),
        (InputError, "no enrolled label 'zz'", lambda: L.forget("zz")),
        (StoreFull, "class cap", lambda: L.enroll("new", embedding=good)),
        (StoreFull, "policy 'refuse'", lambda: L.enroll("c0", embedding=good)),
        (InputError, "exactly one", lambda: L.enroll("c0")),
        (InputError, "no model", lambda: L.classify(window=good)),
        (InputError, "not blocked", lambda: L.unblock("c0")),
        (InputError, "threshold must be an int in 0..2147483647", lambda: L.set_threshold(2 ** 31)),
        (InputError, "threshold must be an int", lambda: L.set_threshold(2 ** 32 + 5)),
        (InputError, "threshold must be an int", lambda: L.set_threshold(-1)),
        (InputError, "threshold must be an int", lambda: L.set_threshold(True)),
    ]
    for exc, msg, call in bad_calls:
        with pytest.raises(exc, match=msg):
            call()
        assert (L.labels(), L.threshold(), L.store.generation) == state
    assert files(tmp_path) == before
    L.freeze()
    before = files(tmp_path)
    for call in (lambda: L.enroll("c0", embedding=good), lambda: L.forget("c0"),
                 lambda: L.set_threshold(5), L.rollback, L.reset, lambda: L.unblock("c0"),
                 lambda: L.set_extra(b"ANOM", b"x", "anomaly")):
        with pytest.raises(errors.Frozen, match="frozen"):
            call()
    assert files(tmp_path) == before
    L.unfreeze()
    L.forget("c0")
    assert [n for n, _ in L.labels()] == ["c1", "c2"]


def test_replace_policy_drops_the_most_redundant(tmp_path):
    L = fresh(tmp_path, max_per_class=3)
    base = np.zeros(DIM, np.int8)
    near = base.copy()
    near[0] = 2
    far = base.copy()
    far[1] = 90
    other = base.copy()
    other[2] = -90
    for v in (base, near, far):
        L.enroll("a", embedding=v.tobytes())
    # a fourth example: 'near' and 'base' are each other's nearest, so one of them goes
    what = L.enroll("a", embedding=other.tobytes())
    assert "replaced" in what
    kept = {bytes(L.knn.rows[i * DIM:(i + 1) * DIM]) for i in range(L.knn.count)}
    assert other.tobytes() in kept and far.tobytes() in kept and len(kept) == 3
    # a copy of a kept example is itself the most redundant: nothing changes, nothing is committed
    gen, log = L.store.generation, L.audit()
    assert "the new one was the most redundant" in L.enroll("a", embedding=other.tobytes())
    assert {bytes(L.knn.rows[i * DIM:(i + 1) * DIM]) for i in range(L.knn.count)} == kept
    assert (L.store.generation, L.audit()) == (gen, log)


def test_block_freeze_rollback_reset_and_audit(tmp_path):
    cent, rows, labs = clusters()
    L = fresh(tmp_path, audit_bytes=300)
    for r, c in zip(rows, labs):
        L.enroll("c%d" % c, embedding=r.tobytes())
    q = cent[1].astype(np.int8).tobytes()
    assert L.classify(embedding=q)[0] == "c1"
    L.block("c1")
    assert L.classify(embedding=q)[0] is None
    assert fresh(tmp_path).classify(embedding=q)[0] is None  # the block-list is stored
    L.unblock("c1")
    L.forget("c1")
    assert L.classify(embedding=q)[0] != "c1"
    L.rollback()
    assert L.classify(embedding=q)[0] == "c1"
    L.freeze()
    with pytest.raises(errors.Frozen):
        L.reset()
    L.unfreeze()
    L.reset()
    assert L.labels() == [] and not L.frozen
    with pytest.raises(Refused, match="nothing to undo"):
        L.rollback()
    assert fresh(tmp_path).labels() == []
    log = L.audit()
    assert log[-1].split()[2:4] == ["factory", "reset"]
    size = sum(os.path.getsize(tmp_path / p) for p in os.listdir(tmp_path) if ".log" in p)
    assert size <= 2 * 300
    assert len(log) >= 3


def test_store_from_another_model_is_a_clear_error(tmp_path):
    L = fresh(tmp_path)
    L.enroll("a", embedding=bytes(DIM))
    with pytest.raises(errors.StoreError, match="embedding size 8, this model gives 16"):
        learner.Learner(None, str(tmp_path / "st"), dim=16)
    assert fresh(tmp_path).labels() == [("a", 1)]


def test_failed_flash_write_keeps_the_last_saved_state(tmp_path, monkeypatch):
    L = fresh(tmp_path)
    L.enroll("a", embedding=bytes(DIM))
    from tinyenroll import store

    def broken(*a):
        raise OSError(28, "ENOSPC")
    monkeypatch.setattr(store.os, "rename", broken)
    with pytest.raises(OSError, match="last saved state is back in use"):
        L.enroll("b", embedding=bytes([5] * DIM))
    monkeypatch.undo()
    assert L.labels() == [("a", 1)]
    assert fresh(tmp_path).labels() == [("a", 1)]


def test_enroll_from_windows_through_the_model(tmp_path):
    from host_tools.learn import quantize
    from host_tools.oracle import modelfile, reference
    rng = np.random.default_rng(3)
    m = quantize.quantize_mlp([rng.normal(size=(16, 24)), rng.normal(size=(DIM, 16))],
                              [rng.normal(size=16), rng.normal(size=DIM)], [True, False],
                              rng.normal(size=(64, 24)), 4 / 127)
    path = str(tmp_path / "m.tem")
    modelfile.write(path, m)
    fm = model.load(path)
    L = learner.Learner(fm, str(tmp_path / "st"))
    xs = quantize.quantize_input(rng.normal(size=(6, 24)), 4 / 127)
    for i, x in enumerate(xs):
        L.enroll("ab"[i % 2], window=x.tobytes())
    embs = reference.forward_batch(m, xs)
    labs = np.arange(6) % 2
    for x in quantize.quantize_input(rng.normal(size=(20, 24)), 4 / 127):
        want = knn_ref.classify(reference.forward(m, x), embs, labs, ["a", "b"], 3, "knn")
        assert L.classify(window=x.tobytes()) == want
    with pytest.raises(ValueError, match="23 values, the model takes 24"):
        L.enroll("a", window=bytes(23))
    with pytest.raises(errors.StoreError, match="another model"):
        learner.Learner(None, str(tmp_path / "st"), dim=DIM)


@pytest.mark.parametrize("bits", [32, 64])
def test_search_is_identical_on_the_ulab_backend(tmp_path, bits):
    from host_tools.board import ulab_env
    cent, rows, labs = clusters(seed=2, n_cls=4, per=5, spread=40)
    names = ["a", "b", "c", "d"]
    with ulab_env.use_standin(bits):
        kernels.select("ulab")
        try:
            for mode in ("knn", "prototype"):
                e = Enroller(DIM, k=2, mode=mode)
                for r, c in zip(rows, labs):
                    e.add(names[c], r.tobytes())
                assert e.calibration() == knn_ref.calibrate(rows, labs, 4, 2, mode)
                rng = np.random.default_rng(bits)
                for _ in range(40):
                    q = rng.integers(-128, 128, DIM).astype(np.int8)
                    assert e.classify(q.tobytes()) == knn_ref.classify(q, rows, labs, names, 2, mode)
        finally:
            kernels.select("plain")


@pytest.mark.parametrize("mode", ["knn", "prototype"])
@pytest.mark.parametrize("pct", [1, 37, 100, 150, 999, 1000])
def test_the_unknown_percent_scales_the_leave_one_out_threshold_as_the_reference(tmp_path, mode, pct):
    """T = floor(q * pct / 100) of the 90th-percentile leave-one-out score q, computed by the
    board without the product (small ints) and equal to the reference's plain product."""
    _, rows, labs = clusters(seed=5, n_cls=3, per=4, spread=60)
    L = fresh(tmp_path, mode=mode, unknown_pct=pct)
    names = ["c0", "c1", "c2"]
    for r, c in zip(rows, labs):
        L.enroll(names[c], embedding=r.tobytes())
    t, how = L.threshold()
    assert how == "loo" and (t, how) == knn_ref.calibrate(rows, labs, 3, 3, mode, unknown_pct=pct)
    rng = np.random.default_rng(pct)
    for _ in range(20):
        q = rng.integers(-128, 128, DIM).astype(np.int8)
        assert L.classify(embedding=q.tobytes()) == knn_ref.classify(q, rows, labs, names, 3, mode, unknown_pct=pct)


@pytest.mark.parametrize("pct", [0, 1001, 1.5, True])
def test_an_unknown_percent_out_of_range_is_refused(pct):
    with pytest.raises(InputError, match="unknown_pct"):
        Enroller(DIM, unknown_pct=pct)


@pytest.mark.parametrize("mode", ["knn", "prototype"])
def test_one_example_a_class_uses_the_models_unknown_distance(tmp_path, mode):
    """With one example a class there is no leave-one-out score: the model's unknown_dist
    (chosen on its validation data) is the threshold, as the reference says; once a class has
    two examples the leave-one-out rule takes over again."""
    _, rows, labs = clusters(seed=6, n_cls=3, per=2, spread=30)
    L = fresh(tmp_path, mode=mode, unknown_dist=4321)
    names = ["c0", "c1", "c2"]
    for r, c in zip(rows[:3], labs[:3]):
        L.enroll(names[c], embedding=r.tobytes())
    assert L.threshold() == (4321, "model") == knn_ref.calibrate(rows[:3], labs[:3], 3, 3, mode, unknown_dist=4321)
    rng = np.random.default_rng(6)
    for _ in range(20):
        q = rng.integers(-128, 128, DIM).astype(np.int8)
        assert L.classify(embedding=q.tobytes()) == knn_ref.classify(q, rows[:3], labs[:3], names, 3, mode,
                                                                     unknown_dist=4321)
    L.enroll("c0", embedding=rows[3].tobytes())
    assert L.threshold()[1] == "loo"
    assert fresh(tmp_path / "x", mode=mode).knn.calibration()[1] == "default"
