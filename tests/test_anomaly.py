"""The on-device anomaly detector equals its numpy reference, keeps its guard rails, loses nothing."""
import binascii
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from host_tools.evaluate import anomaly_eval
from host_tools.oracle import anomaly_ref
from tinyenroll import anomaly, errors, kernels, learner

CASES = int(os.environ.get("TINYENROLL_ANOMALY_CASES", "400"))


@st.composite
def scenarios(draw):
    """Settings, a learning stream and a scoring stream (raw ints or int8 embeddings)."""
    raw = draw(st.booleans())
    dim = draw(st.integers(1, 24))
    k = draw(st.integers(1, 4))
    capacity = draw(st.integers(k + 1, 24))
    n_learn = draw(st.integers(k + 1, 60))
    n_test = draw(st.integers(1, 20))
    seed = draw(st.integers(0, 2 ** 31))
    qd = draw(st.integers(1, 20))
    qn = draw(st.integers(0, qd))
    margin = (draw(st.integers(1, 64)), draw(st.integers(1, 64)))
    adapt = draw(st.sampled_from([0, 0, 1, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if raw:
        # features of very different scales, some constant, some near the +-2**29 limit
        scale = rng.choice([0, 1, 7, 300, 1 << 14, 1 << 26], size=dim)
        offset = rng.integers(-(1 << 20), 1 << 20, size=dim)
        gen = lambda m: (offset + rng.integers(-1, 2, size=(m, dim)) * scale  # noqa: E731
                         + rng.normal(0, 1, size=(m, dim)) * scale).astype(np.int64)
        learn = np.clip(gen(n_learn), -(1 << 29) + 1, (1 << 29) - 1)
        test = np.clip(gen(n_test) * rng.integers(1, 4), -(1 << 29) + 1, (1 << 29) - 1)
    else:
        learn = rng.integers(-128, 128, size=(n_learn, dim)).astype(np.int8)
        test = rng.integers(-128, 128, size=(n_test, dim)).astype(np.int8)
    return dict(raw=raw, dim=dim, k=k, capacity=capacity, seed=seed, quantile=(qn, qd),
                margin=margin, adapt_every=adapt), learn, test


def _vec(v, raw):
    return [int(a) for a in v] if raw else np.asarray(v, dtype=np.int8).tobytes()


def run_firmware(cfg, learn, test):
    d = anomaly.Detector(cfg["dim"], capacity=cfg["capacity"], k=cfg["k"], quantile=cfg["quantile"],
                         margin=cfg["margin"], seed=cfg["seed"], raw=cfg["raw"], adapt_every=cfg["adapt_every"])
    for v in learn:
        d.learn(_vec(v, cfg["raw"]))
    d.finish()
    return d, [d.check(_vec(v, cfg["raw"])) for v in test]


def run_reference(cfg, learn, test):
    r = anomaly_ref.Detector(cfg["dim"], capacity=cfg["capacity"], k=cfg["k"], quantile=cfg["quantile"],
                             margin=cfg["margin"], seed=cfg["seed"], raw=cfg["raw"], adapt_every=cfg["adapt_every"])
    for v in learn:
        r.learn(v)
    r.finish()
    return r, [r.check(v) for v in test]


@pytest.mark.parametrize("backend", ["plain"], indirect=True)
@settings(max_examples=CASES)
@given(case=scenarios())
def test_firmware_equals_reference(backend, case):
    cfg, learn, test = case
    d, got = run_firmware(cfg, learn, test)
    r, want = run_reference(cfg, learn, test)
    assert d.threshold == r.threshold
    assert got == want
    assert bytes(d.rows[:d.count * d.dim]) == r.rows.astype(np.int8).tobytes()
    if cfg["raw"]:
        assert list(d.center) == [int(c) for c in r.center]


@settings(max_examples=CASES // 3)
@given(case=scenarios())
def test_ulab_backend_equals_reference(ulab_standin, case):
    cfg, learn, test = case
    d, got = run_firmware(cfg, learn, test)
    r, want = run_reference(cfg, learn, test)
    assert d.threshold == r.threshold
    assert got == want


@settings(max_examples=300)
@given(st.integers(0, anomaly.PRNG_M - 1))
def test_prng_is_the_lehmer_rule_in_small_ints(x):
    y = anomaly.prng_next(x)
    assert y == anomaly_ref.prng_next(x) == (anomaly.PRNG_A * x) % anomaly.PRNG_M
    # Schrage's intermediates stay inside a board's 31-bit small int
    assert anomaly.PRNG_A * (x % anomaly.PRNG_Q) < 1 << 30
    assert anomaly.PRNG_R * (x // anomaly.PRNG_Q) < 1 << 30


def _learned(n=200, dim=8, capacity=32, seed=5, **kw):
    rng = np.random.default_rng(seed)
    d = anomaly.Detector(dim, capacity=capacity, seed=seed, **kw)
    rows = rng.integers(-20, 21, size=(n, dim)).astype(np.int8)
    for v in rows:
        d.learn(v.tobytes())
    return d, rows


def test_memory_is_bounded_and_reservoir_uniform():
    d = anomaly.Detector(1, capacity=50, k=1, seed=3, raw=True)
    size = len(d.rows)
    for t in range(20000):
        d.learn([t])
    assert d.count == 50 and d.seen == 20000 and len(d.rows) == size
    kept = sorted(d._rawrows[:50])
    # a uniform sample of 0..19999: about half from each half, and from late in the stream too
    assert 15 <= sum(1 for v in kept if v < 10000) <= 35
    assert kept[-1] > 15000 and kept[0] < 5000


def test_default_threshold_flags_no_learning_row_and_flags_far_windows():
    d, rows = _learned()
    d.finish()
    n = d.count
    stored = np.frombuffer(bytes(d.rows[:n * d.dim]), dtype=np.int8).reshape(n, d.dim)
    # leave-one-out score of each stored row is at most the threshold (quantile = max, margin 1)
    for i in range(n):
        others = np.delete(stored, i, axis=0)
        assert anomaly_ref.kth_distances(stored[i:i + 1], others, d.k)[0] <= d.threshold
    far = np.full(d.dim, 120, dtype=np.int8).tobytes()
    s, flagged = d.check(far)
    assert flagged and s > d.threshold


def test_flagged_windows_are_never_learned_by_drift():
    d, rows = _learned(adapt_every=1)
    d.finish()
    before = bytes(d.rows)
    for i in range(50):
        s, flagged = d.check(np.full(d.dim, 100 - i, dtype=np.int8).tobytes())
        assert flagged
    assert bytes(d.rows) == before and d.adapted == 0
    # windows well inside normal (here: copies of stored rows) are learned, and only they
    n, dim = d.count, d.dim
    stored = [bytes(d.rows[i * dim:(i + 1) * dim]) for i in range(n)]
    fed = set()
    for v in stored * 3:
        current = set(bytes(d.rows[i * dim:(i + 1) * dim]) for i in range(n))
        s, flagged = d.check(v)
        assert flagged == (s > d.threshold)
        assert not flagged or v not in current
        if 2 * s <= d.threshold:
            fed.add(v)
    assert d.adapted > 0
    assert set(bytes(d.rows[i * dim:(i + 1) * dim]) for i in range(n)) <= set(stored)
    assert d.adapted <= 3 * len(fed)


def test_drift_adaptation_follows_slow_drift_but_not_anomalies():
    rng = np.random.default_rng(9)

    def window(mean):
        return np.clip(np.round(mean + rng.normal(0, 4, size=6)), -127, 127).astype(np.int8).tobytes()

    plain = anomaly.Detector(6, capacity=64, seed=2)
    adapt = anomaly.Detector(6, capacity=64, seed=2, adapt_every=1)
    for _ in range(200):
        w = window(0)
        plain.learn(w)
        adapt.learn(w)
    plain.finish()
    adapt.finish()
    flags_plain = flags_adapt = caught = 0
    for t in range(2000):
        w = window(t * 0.01)                    # the machine's normal slowly moves by 20 (5 sigma)
        flags_plain += plain.check(w)[1]
        flags_adapt += adapt.check(w)[1]
        if t % 100 == 99:                       # and now and then a real anomaly
            caught += adapt.check(window(t * 0.01 + 60))[1]
    assert flags_plain > 1000                   # without adaptation the drift is mostly "anomalous"
    assert flags_adapt * 4 < flags_plain
    assert caught == 20                         # adaptation never absorbed the anomalies
    assert adapt.adapted > 100


class Guard:
    frozen = False


def test_frozen_refuses_learning_and_stops_drift():
    g = Guard()
    d, rows = _learned(guard=g, adapt_every=1)
    g.frozen = True
    seen = d.seen
    with pytest.raises(errors.Frozen):
        d.learn(rows[0].tobytes())
    with pytest.raises(errors.Frozen):
        d.finish()
    assert d.seen == seen and d.phase == anomaly.LEARNING
    g.frozen = False
    d.finish()
    g.frozen = True
    before = bytes(d.rows)
    for v in rows[:20]:
        d.check(v.tobytes())
    assert bytes(d.rows) == before and d.adapted == 0
    d.frozen, g.frozen = True, False
    with pytest.raises(errors.Frozen):
        d.learn(rows[0].tobytes())


def test_reset_forgets_and_replays_identically():
    d, rows = _learned()
    d.finish()
    first = (d.threshold, bytes(d.rows))
    d.reset()
    assert d.phase == anomaly.LEARNING and d.count == 0 and d.seen == 0
    with pytest.raises(ValueError, match="learning"):
        d.score(rows[0].tobytes())
    for v in rows:
        d.learn(v.tobytes())
    d.finish()
    assert (d.threshold, bytes(d.rows)) == first


def test_bad_input_is_refused_and_changes_nothing():
    for kw, word in (({"dim": 0}, "dim"), ({"dim": 300}, "dim"), ({"dim": 4, "k": 0}, "k"),
                     ({"dim": 4, "capacity": 1}, "capacity"), ({"dim": 4, "margin": (0, 1)}, "margin"),
                     ({"dim": 4, "quantile": (3, 2)}, "quantile")):
        with pytest.raises(ValueError, match=word):
            anomaly.Detector(**kw)
    d = anomaly.Detector(3, capacity=8, k=1, raw=True)
    for bad in ([1, 2], [1, 2, 3, 4], [1, 2, 1 << 29], [1, 2.5, 3], [1, -(1 << 29), 3]):
        with pytest.raises(ValueError):
            d.learn(bad)
    assert d.seen == 0 and d.count == 0
    d.learn([1, 2, 3])
    with pytest.raises(ValueError, match="more than k"):
        d.finish()
    assert d.phase == anomaly.LEARNING
    e = anomaly.Detector(3, capacity=8, k=1)
    with pytest.raises(ValueError, match="int8"):
        e.learn([1, 2, 3])
    with pytest.raises(ValueError, match="still learning"):
        e.score(b"abc")


def test_state_roundtrip_and_every_corruption_detected():
    d, rows = _learned(raw=False)
    d.finish()
    blob = d.to_bytes()
    e = anomaly.Detector.from_bytes(blob)
    assert e.to_bytes() == blob
    for v in rows[:20]:
        assert e.check(v.tobytes()) == d.check(v.tobytes())
    for cut in range(len(blob)):
        with pytest.raises(ValueError):
            anomaly.Detector.from_bytes(blob[:cut])
    rng = np.random.default_rng(1)
    for bit in rng.choice(len(blob) * 8, size=200, replace=False):
        bad = bytearray(blob)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ValueError):
            anomaly.Detector.from_bytes(bytes(bad))


def test_raw_state_roundtrip():
    rng = np.random.default_rng(2)
    d = anomaly.Detector(5, capacity=16, raw=True)
    for v in rng.integers(-5000, 5000, size=(40, 5)):
        d.learn([int(a) for a in v])
    d.finish()
    e = anomaly.Detector.from_bytes(d.to_bytes())
    for v in rng.integers(-9000, 9000, size=(20, 5)):
        v = [int(a) for a in v]
        assert e.check(v) == d.check(v)


def test_saved_with_the_learner_under_its_guard_rails(tmp_path):
    prefix = str(tmp_path / "learned")
    L = learner.Learner(None, prefix, dim=8)
    L.enroll("wave", embedding=bytes(8))
    assert anomaly.Detector.load(L) is None
    d, rows = _learned(guard=L)
    d.finish()
    gen = d.save(L, why="test")
    assert any("anomaly" in line and "why=test" in line for line in L.audit())
    # a fresh boot finds it beside the enrolled examples, and it scores the same
    L2 = learner.Learner(None, prefix, dim=8)
    e = anomaly.Detector.load(L2)
    assert e.to_bytes() == d.to_bytes() and L2.labels() == [("wave", 1)]
    for v in rows[:10]:
        assert e.check(v.tobytes()) == d.check(v.tobytes())
    # frozen: learning and saving refused, nothing written
    L2.freeze()
    before = L2.store.generation
    with pytest.raises(errors.Frozen):
        e.save(L2)
    with pytest.raises(errors.Frozen):
        e.reset()
    with pytest.raises(errors.Frozen):
        e.learn(rows[0].tobytes())
    with pytest.raises(errors.Frozen):
        L2.rollback()
    assert L2.store.generation == before
    # undo and factory reset act on it like on everything else learned: undo takes back the
    # last change to what is learned (the save; freeze/unfreeze do not count), once
    L2.unfreeze()
    L2.rollback()
    assert anomaly.Detector.load(L2) is None and L2.labels() == [("wave", 1)]
    with pytest.raises(errors.Refused, match="nothing to undo"):
        L2.rollback()
    d.save(L2)
    assert anomaly.Detector.load(L2).to_bytes() == d.to_bytes()
    L2.reset()
    assert anomaly.Detector.load(L2) is None
    assert anomaly.Detector.load(learner.Learner(None, prefix, dim=8)) is None
    assert gen >= 2


MPY_SCRIPT = r"""
import sys, gc, json, binascii
from tinyenroll import anomaly, kernels
v = [0] * 45
x = 1
gc.collect()
free0 = gc.mem_free()
# a long learning phase in bounded memory: 128 x 45 raw features, 3000 windows
d = anomaly.Detector(45, capacity=128, k=2, raw=True)
low = free0
for t in range(3000):
    for i in range(45):
        x = anomaly.prng_next(x)
        v[i] = (x % 2001) - 1000
    d.learn(v)
    if t % 500 == 499:
        gc.collect()
        low = min(low, gc.mem_free())
d.finish()
gc.collect()
summary = json.dumps({"learn_bytes": free0 - low, "after_finish": free0 - gc.mem_free(),
                  "threshold": d.threshold, "rows_crc": binascii.crc32(d.rows), "count": d.count})
d = v = None
gc.collect()
out = []
fh = open(sys.argv[1])
while True:
    line = fh.readline()
    if not line:
        break
    c = json.loads(line)
    kernels.select(c["backend"])
    d = anomaly.Detector(c["dim"], capacity=c["capacity"], k=c["k"], quantile=tuple(c["quantile"]),
                         margin=tuple(c["margin"]), seed=c["seed"], raw=c["raw"], adapt_every=c["adapt_every"])
    for v in c["learn"]:
        d.learn(v if c["raw"] else bytes([x & 255 for x in v]))
    d.finish()
    res = []
    for v in c["test"]:
        s, f = d.check(v if c["raw"] else bytes([x & 255 for x in v]))
        res.append([s, f])
    print(json.dumps({"threshold": d.threshold, "checks": res, "state": d.to_bytes().hex()}))
    c = d = None
    gc.collect()
print(summary)
"""


def test_micropython_backends_equal_reference(tmp_path):
    rng = np.random.default_rng(11)
    cases = []
    for backend in ("viper", "plain"):
        for i in range(8):
            raw = i % 2 == 0
            dim = int(rng.integers(1, 24))
            k = int(rng.integers(1, 4))
            cfg = dict(backend=backend, raw=raw, dim=dim, k=k, capacity=int(rng.integers(k + 1, 40)),
                       seed=int(rng.integers(0, 2 ** 31)), quantile=[int(rng.integers(0, 10)), 10],
                       margin=[int(rng.integers(1, 5)), int(rng.integers(1, 3))], adapt_every=int(i % 3))
            n = int(rng.integers(k + 1, 50))
            if raw:
                learn = rng.integers(-(1 << 20), 1 << 20, size=(n, dim)) * rng.integers(0, 3, size=dim)
                test = rng.integers(-(1 << 21), 1 << 21, size=(15, dim))
            else:
                learn = rng.integers(-128, 128, size=(n, dim))
                test = rng.integers(-128, 128, size=(15, dim))
            cfg["learn"] = learn.tolist()
            cfg["test"] = test.tolist()
            cases.append(cfg)
    (tmp_path / "cases.json").write_text("".join(json.dumps(c) + "\n" for c in cases))
    script = tmp_path / "anomaly_mpy.py"
    script.write_text(MPY_SCRIPT)
    p = mpy.run(str(script), timeout=600, args=[tmp_path / "cases.json"])
    assert p.returncode == 0, p.stderr + p.stdout
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(cases) + 1
    got = json.loads(lines[-1])
    for c, line in zip(cases, lines):
        g = json.loads(line)
        cfg = dict(c)
        cfg["quantile"] = tuple(c["quantile"])
        cfg["margin"] = tuple(c["margin"])
        learn = np.array(c["learn"], dtype=np.int64)
        test = np.array(c["test"], dtype=np.int64)
        r, want = run_reference(cfg, learn, test)
        assert g["threshold"] == r.threshold, c["backend"]
        assert [tuple(x) for x in g["checks"]] == [(s, bool(f)) for s, f in want], c["backend"]
        # the board's saved state loads on the host and scores the same
        e = anomaly.Detector.from_bytes(bytes.fromhex(g["state"]))
        assert e.threshold == r.threshold
    # raw rows during learning (128 x 45 int32 = 23040 bytes) plus the int8 set: bounded
    print("micropython: peak heap of a 3000-window learning phase %d bytes, detector kept after finish %d bytes"
          % (got["learn_bytes"], got["after_finish"]))
    assert got["learn_bytes"] < 40000
    assert got["after_finish"] < 12000
    # and that long phase computed what the reference computes from the same stream
    ref = anomaly_ref.Detector(45, capacity=128, k=2, raw=True)
    x = 1
    for t in range(3000):
        v = []
        for i in range(45):
            x = anomaly_ref.prng_next(x)
            v.append((x % 2001) - 1000)
        ref.learn(v)
    ref.finish()
    assert got["threshold"] == ref.threshold
    assert got["count"] == 128
    assert got["rows_crc"] == binascii.crc32(ref.rows.astype(np.int8).tobytes())


def test_evaluation_detector_at_least_as_good_as_better_baseline():
    # real recordings from the aeon wheel; inside, the firmware detector under CPython and the
    # features + detector in real micropython (96K heap, viper) are checked against the reference
    out = anomaly_eval.evaluate(list(anomaly_eval.NAMES), sweep=(), micropython=True)
    by = {(r["recording"], r["method"]): r for r in out["results"]}
    # the setting reported is the best of the selection table, which holds selection-half scores only
    best = max(out["selection"], key=lambda e: e["score"])
    assert out["chosen"] == best["setting"] or best["score"] == [
        e for e in out["selection"] if e["setting"] == out["chosen"]][0]["score"]
    for rec, sp in out["split"].items():
        # held-out windows share no sample with the selection windows, and come after them
        assert sp["held_out_samples"][0] >= sp["selection_samples"][1], rec
        assert sp["held_out"][0] > sp["selection"][1]
    for rec in ("daphnet+fog", "bleeding", "bleeding+trend", "ecg"):
        det = by[(rec, "detector")]
        best = max(by[(rec, "z-score")]["auc"], by[(rec, "k-means")]["auc"])
        assert det["auc"] >= best - 1e-9, (rec, det["auc"], best)
        assert det["caught"] == det["episodes"] > 0
    assert by[("daphnet", "detector")]["episodes"] == 0   # the shipped excerpt has no labelled episode
    assert by[("daphnet", "detector")]["false_alarm_rate"] <= by[("daphnet", "k-means")]["false_alarm_rate"]
    assert all(by[(rec, "micropython")]["auc"] == by[(rec, "detector")]["auc"] for rec in anomaly_eval.NAMES)
    # the slow level ramp: every late normal window flagged without a fix, none with level-free features
    drift = {(r["recording"], r["method"]): r for r in out["drift"]}
    assert drift[("bleeding+trend", "no drift, level")]["false_alarm_rate"] > 0.9
    for m in ("no drift, level-free", "drift/16, level-free"):
        assert drift[("bleeding+trend", m)]["false_alarm_rate"] < 0.01
        assert drift[("bleeding+trend", m)]["caught"] == 1
    # inserted anomalies or drift, and generated data, are marked wherever the results are shown
    assert by[("daphnet+fog", "detector")]["semi_synthetic"] and not by[("bleeding", "detector")]["semi_synthetic"]
    assert by[("bleeding+trend", "detector")]["semi_synthetic"] and by[("ecg", "detector")]["synthetic"]
    text = anomaly_eval.table(out["results"])
    assert "daphnet+fog*" in text and "bleeding+trend*" in text and "ecg*" in text and "SEMI-SYNTHETIC" in text
    assert "bleeding*" not in text and "daphnet* " not in text


def test_settings_are_chosen_without_the_held_out_windows():
    """Changing every held-out window (features and labels) changes nothing in the choice; changing
    the selection windows does (so the check can fail)."""
    recs = anomaly_eval.recordings(["bleeding+trend", "ecg"])
    settings = anomaly_eval.grid(ks=(2, 1), margins=((1, 1),), adapts=(0, 16))
    chosen, table = anomaly_eval.choose(recs, settings)
    for rec in recs:
        sel, held = rec.split()
        assert len(held) and set(sel.tolist()).isdisjoint(held.tolist())
        assert rec.starts[held].min() >= rec.starts[sel].max() + rec.size
        rest = np.arange(len(sel), len(rec.test))      # held-out plus the gap before it
        rec.test[rest] = rec.test[rest][::-1] * 3 + 1000
        rec.labels[rest] = ~rec.labels[rest]
    again, table2 = anomaly_eval.choose(recs, settings)
    assert again == chosen and [t[1:] for t in table2] == [t[1:] for t in table]
    for rec in recs:
        sel, _ = rec.split()
        rec.test[sel] = rec.test[sel] * 3 + 1000
    _, table3 = anomaly_eval.choose(recs, settings)
    assert [t[1] for t in table3] != [t[1] for t in table]
