"""Temporal-consistency filter and near-miss-then-detection: invariants, guards, both interpreters."""
import json
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from tinyenroll import errors, learner, selflabel


def runs(seq):
    out = []
    for x in seq:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return out


def reference_filter(seq, max_flip, h, unknown_flanks=False):
    """The rule, written over whole runs: a short run between two long runs of one label takes it."""
    rs = runs(seq)
    out = []
    flank = False          # this run is the right flank of a flip: it stays as it is
    for i, (lab, n) in enumerate(rs):
        if not flank and 0 < i < len(rs) - 1 and n <= max_flip and rs[i - 1][0] == rs[i + 1][0] \
                and rs[i - 1][1] >= h and rs[i + 1][1] >= h and (rs[i - 1][0] is not None or unknown_flanks):
            lab = rs[i - 1][0]
            flank = True
        else:
            flank = False
        out.extend([lab] * n)
    return out


def stream(f, seq, vecs=None):
    out = []
    for i, x in enumerate(seq):
        f.push(x, None if vecs is None else vecs[i])
        assert f._n - f._ready <= f.max_flip + f.hysteresis     # bounded lag
        while f._ready:
            lab, orig, v = f.pop()
            out.append((lab, orig, None if v is None else bytes(v)))
    f.flush()
    while f._ready:
        lab, orig, v = f.pop()
        out.append((lab, orig, None if v is None else bytes(v)))
    return out


labels = st.sampled_from(["a", "b", "c", None])
streams = st.lists(labels, max_size=80) | st.lists(st.sampled_from(["a", "b"]), max_size=80)


@settings(max_examples=400)
@given(streams, st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_stream_filter_equals_run_rule(seq, max_flip, h, unknown_flanks):
    f = selflabel.ConsistencyFilter(max_flip, h, unknown_flanks=unknown_flanks)
    out = stream(f, seq)
    assert [o[1] for o in out] == seq                 # order kept, nothing lost or invented
    assert [o[0] for o in out] == reference_filter(seq, max_flip, h, unknown_flanks)
    if not unknown_flanks:
        assert all(o[0] is not None for o in out if o[0] != o[1])   # never changed to unknown
    assert f.changed == sum(1 for o in out if o[0] != o[1])


@settings(max_examples=200)
@given(labels, st.integers(0, 60), st.integers(1, 4), st.integers(1, 4))
def test_constant_stream_passes_unchanged(lab, n, max_flip, h):
    f = selflabel.ConsistencyFilter(max_flip, h)
    assert [o[0] for o in stream(f, [lab] * n)] == [lab] * n and f.changed == 0


@settings(max_examples=300)
@given(streams, st.integers(1, 3), st.integers(1, 4))
def test_only_isolated_short_flips_change(seq, max_flip, h):
    out = [o[0] for o in stream(selflabel.ConsistencyFilter(max_flip, h), seq)]
    rs = runs(seq)
    pos = 0
    for i, (lab, n) in enumerate(rs):
        new = out[pos:pos + n]
        if new != [lab] * n:
            # changed: a whole short run, to the label of both neighbours, each at least h long
            assert n <= max_flip and 0 < i < len(rs) - 1
            assert rs[i - 1][0] == rs[i + 1][0] == new[0] and new == [new[0]] * n
            assert rs[i - 1][1] >= h and rs[i + 1][1] >= h and new[0] is not None
        pos += n
    assert len(runs(out)) <= len(rs)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["a", "b", None]), min_size=1, max_size=30), st.integers(1, 3))
def test_hysteresis_bounds(seq, max_flip):
    # a flip needs h windows on both sides: a stream shorter than 2h + 1 never changes
    f = selflabel.ConsistencyFilter(max_flip, len(seq) // 2 + 1)
    assert [o[0] for o in stream(f, seq)] == seq
    # with h > max_flip no flank can itself be a flip, so raising h only ever removes changes
    changed = []
    for h in range(max_flip + 1, max_flip + 5):
        out = [o[0] for o in stream(selflabel.ConsistencyFilter(max_flip, h), seq)]
        changed.append({i for i, (a, b) in enumerate(zip(seq, out)) if a != b})
    for more, fewer in zip(changed, changed[1:]):
        assert fewer <= more


def test_examples_and_vectors_travel_with_labels():
    seq = ["a", "a", "a", "b", "a", "a", "b", "b", "a", "a", "c", "a"]
    vecs = [bytes([i, i]) for i in range(len(seq))]
    out = stream(selflabel.ConsistencyFilter(1, 2, dim=2), seq, vecs)
    assert [o[0] for o in out] == ["a", "a", "a", "a", "a", "a", "b", "b", "a", "a", "c", "a"]
    assert [o[2] for o in out] == vecs


def test_bad_settings_and_input_are_refused():
    for kw in ({"max_flip": 0}, {"hysteresis": 0}, {"dim": -1}, {"max_flip": 1.5}):
        with pytest.raises(ValueError):
            selflabel.ConsistencyFilter(**kw)
    with pytest.raises(ValueError, match="dim"):
        selflabel.ConsistencyFilter(auto=selflabel.AutoEnroll())
    f = selflabel.ConsistencyFilter(1, 1, dim=3)
    with pytest.raises(ValueError, match="vector"):
        f.push("a", b"\x00\x01")
    assert f._n == 0
    with pytest.raises(ValueError, match="no decided"):
        f.pop()
    g = selflabel.ConsistencyFilter(1, 1)
    for _ in range(3):
        g.push("a")
    with pytest.raises(ValueError, match="pop"):
        g.push("a")
    with pytest.raises(ValueError):
        selflabel.NearMiss(4, near=(1, 1))
    with pytest.raises(ValueError):
        selflabel.NearMiss(4, confident=(3, 2))
    with pytest.raises(ValueError):
        selflabel.AutoEnroll(per_hour=-1)
    with pytest.raises(ValueError, match="vector"):
        selflabel.NearMiss(4).observe(0, None, 10, "a", 5, b"\x00")


def reference_near_miss(events, within, near, confident, per_hour, blocked=()):
    """Plain restatement: [(time, label)] of the near misses the guards accept."""
    held = None
    taken = []
    out = []
    for t, label, score, nearest, thr in events:
        if held is not None and t - held[0] > within:
            held = None
        if label is None:
            if nearest is not None and thr < score and score * near[1] <= thr * near[0]:
                held = (t, nearest)
            continue
        if held is None or held[1] != label or score * confident[1] > thr * confident[0]:
            continue
        lab = held[1]
        held = None
        if lab in blocked or per_hour == 0:
            continue
        if len(taken) >= per_hour and t - taken[-per_hour] < 3600:
            continue
        taken.append(t)
        out.append((t, lab))
    return out


@st.composite
def events(draw):
    n = draw(st.integers(0, 120))
    t = 0
    out = []
    for _ in range(n):
        t += draw(st.sampled_from([0, 1, 1, 2, 5, 400, 1500]))
        thr = draw(st.integers(1, 1000))
        nearest = draw(st.sampled_from(["a", "b", "c"]))
        if draw(st.booleans()):
            score = draw(st.integers(thr + 1, 3 * thr))
            out.append((t, None, score, nearest, thr))
        else:
            out.append((t, nearest, draw(st.integers(0, thr)), nearest, thr))
    return out


@settings(max_examples=300)
@given(events(), st.integers(1, 6), st.sampled_from([(3, 2), (5, 4), (2, 1)]),
       st.sampled_from([(1, 1), (3, 4), (1, 2)]), st.integers(0, 4), st.sampled_from([(), ("b",)]))
def test_near_miss_equals_plain_rule(evs, within, near, confident, per_hour, blocked):
    auto = selflabel.AutoEnroll(per_hour=per_hour)
    auto.blocked = list(blocked)
    nm = selflabel.NearMiss(2, within, near, confident, auto)
    got = []
    for i, (t, label, score, nearest, thr) in enumerate(evs):
        r = nm.observe(t, label, score, nearest, thr, bytes([i % 256, 0]))
        if r is not None:
            got.append((t, r[0]))
    want = reference_near_miss(evs, within, near, confident, per_hour, blocked)
    assert got == want
    assert auto.accepted == len(want)
    assert nm.offers == auto.accepted + sum(auto.refused.values())


def test_near_miss_guards_and_audit_through_the_learner(tmp_path):
    # the learner's caps on automatic learning: 2 per hour (kept on flash), no drift cap here
    L = learner.Learner(None, str(tmp_path / "learned"), dim=4, auto_per_hour=2, auto_drift=None)
    L.enroll("tap", embedding=bytes([10, 0, 0, 0]))
    L.enroll("tap", embedding=bytes([12, 0, 0, 0]))
    auto = selflabel.AutoEnroll(L)
    nm = selflabel.NearMiss(4, within=3, auto=auto)
    near_vec = bytes([30, 1, 0, 0])
    # near miss at t=0, confident detection at t=2: enrolled, audited
    assert nm.observe(0, None, 150, "tap", 100, near_vec) is None
    got = nm.observe(2, "tap", 20, "tap", 100, bytes([11, 0, 0, 0]))
    assert got is not None and got[0] == "tap" and bytes(got[1]) == near_vec
    assert L.labels() == [("tap", 3)]
    assert any("why=auto near-miss" in line for line in L.audit())
    # too late: the near miss expired
    nm.observe(10, None, 150, "tap", 100, near_vec)
    assert nm.observe(14, "tap", 20, "tap", 100, near_vec) is None
    # outside the near band (score > 3/2 threshold) is not a near miss
    nm.observe(20, None, 151, "tap", 100, near_vec)
    assert nm.observe(21, "tap", 20, "tap", 100, near_vec) is None
    # frozen: refused, nothing written
    L.freeze()
    gen = L.store.generation
    nm.observe(30, None, 120, "tap", 100, near_vec)
    assert nm.observe(31, "tap", 20, "tap", 100, near_vec) is None
    assert auto.refused == {"frozen": 1} and L.store.generation == gen
    L.unfreeze()
    # blocked label: refused
    L.block("tap")
    nm.observe(40, None, 120, "tap", 100, near_vec)
    assert nm.observe(41, "tap", 20, "tap", 100, near_vec) is None
    assert auto.refused["blocked"] == 1
    L.unblock("tap")
    # cap: 2 per hour; the first was at t=2, a second now, a third only after t=3602
    nm.observe(50, None, 120, "tap", 100, near_vec)
    assert nm.observe(51, "tap", 20, "tap", 100, near_vec) is not None
    nm.observe(60, None, 120, "tap", 100, near_vec)
    assert nm.observe(61, "tap", 20, "tap", 100, near_vec) is None and auto.refused["cap"] == 1
    nm.observe(3601, None, 120, "tap", 100, near_vec)
    assert nm.observe(3602, "tap", 20, "tap", 100, near_vec) is not None
    assert L.labels() == [("tap", 5)] and auto.accepted == 3
    # the refusal by the cap is in the audit log, and the times survive a restart
    assert any(" at=" in line and "cap: 2 automatic enrollments" in line for line in L.audit())
    L2 = learner.Learner(None, str(tmp_path / "learned"), dim=4, auto_per_hour=2, auto_drift=None)
    with pytest.raises(errors.Refused, match="cap: 2 automatic"):
        L2.auto_enroll("tap", near_vec, 3640)  # kept times 51 and 3602 are within the hour


def test_corrections_enrolled_only_when_opted_in(tmp_path):
    L = learner.Learner(None, str(tmp_path / "learned"), dim=2)
    L.enroll("a", embedding=bytes([1, 1]))
    L.enroll("b", embedding=bytes([90, 90]))
    seq = ["a", "a", "b", "a", "a"]
    vecs = [bytes([i, 0]) for i in range(5)]
    stream(selflabel.ConsistencyFilter(1, 2, dim=2), seq, vecs)
    assert L.labels() == [("a", 1), ("b", 1)]
    auto = selflabel.AutoEnroll(L, per_hour=5)
    stream(selflabel.ConsistencyFilter(1, 2, dim=2, auto=auto), seq, vecs)
    assert L.labels() == [("a", 2), ("b", 1)] and auto.accepted == 1
    assert any("auto consistency: b inside a run of a" in line for line in L.audit())


MPY_SCRIPT = r"""
import sys, json
from tinyenroll import selflabel
fh = open(sys.argv[1])
while True:
    line = fh.readline()
    if not line:
        break
    c = json.loads(line)
    if c["kind"] == "filter":
        f = selflabel.ConsistencyFilter(c["max_flip"], c["h"])
        out = []
        for x in c["seq"]:
            f.push(x)
            while f._ready:
                out.append(f.pop()[0])
        f.flush()
        while f._ready:
            out.append(f.pop()[0])
        print(json.dumps(out))
    else:
        auto = selflabel.AutoEnroll(per_hour=c["per_hour"])
        nm = selflabel.NearMiss(2, c["within"], tuple(c["near"]), tuple(c["confident"]), auto)
        got = []
        for e in c["events"]:
            r = nm.observe(e[0], e[1], e[2], e[3], e[4], b"\x00\x00")
            if r is not None:
                got.append([e[0], r[0]])
        print(json.dumps(got))
"""


def test_micropython_runs_the_same_rules(tmp_path):
    import random
    rnd = random.Random(5)
    cases = []
    for i in range(30):
        seq = [rnd.choice(["a", "b", "c", None]) if i % 2 else rnd.choice(["a", "a", "a", "b"]) for _ in range(60)]
        cases.append({"kind": "filter", "max_flip": 1 + i % 3, "h": 1 + i % 4, "seq": seq})
    for i in range(20):
        evs, t = [], 0
        for _ in range(60):
            t += rnd.choice([0, 1, 2, 5, 900])
            thr = rnd.randint(1, 500)
            lab = rnd.choice(["a", "b"])
            if rnd.random() < 0.5:
                evs.append([t, None, rnd.randint(thr + 1, 3 * thr), lab, thr])
            else:
                evs.append([t, lab, rnd.randint(0, thr), lab, thr])
        cases.append({"kind": "nearmiss", "within": 1 + i % 5, "near": [3, 2], "confident": [3, 4],
                      "per_hour": i % 4, "events": evs})
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    script = tmp_path / "selflabel_mpy.py"
    script.write_text(MPY_SCRIPT)
    argv, env = mpy.command(str(script), heap="96K")
    p = subprocess.run(argv + [str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(cases)
    for c, line in zip(cases, lines):
        got = json.loads(line)
        if c["kind"] == "filter":
            assert got == reference_filter(c["seq"], c["max_flip"], c["h"])
        else:
            want = reference_near_miss([tuple(e) for e in c["events"]], c["within"], (3, 2), (3, 4), c["per_hour"])
            assert [tuple(g) for g in got] == want


def test_evaluation_on_real_gesture_streams():
    # PickupGestureWiimoteZ from the aeon wheel, classified by the enrollment code on raw windows
    import tempfile
    from host_tools.evaluate import selflabel_eval as S
    out = S.evaluate(n_streams=20)
    # streams: every TEST series once per stream, so nothing auto-enrolled is scored again
    test = S.load_ts("TEST")
    streams = S.make_streams(test, 20, 1)
    assert out["repeats"] == 0 and all(sorted(s) == list(range(len(test))) for s in streams)
    # the counts against independent expectations: the windows wrong before the filter are the
    # single-window errors (computed apart, over TEST) once per stream, and the filter's output
    # is the plain run rule (reference_filter above) applied to the same classifications
    for c in out["classifiers"]:
        assert sum(f["wrong_before"] for f in out["filter"] if f["classifier"] == c["name"]) == \
            4 * round(20 * len(test) * (1 - c["accuracy"]))
    train = [(S.to_int8(x, 32), lab) for x, lab in S.load_ts("TRAIN")]
    enrolled, _ = S.split_train(train, 2)
    vecs = [S.to_int8(x, 32) for x, _ in test]
    truth = [lab for _, lab in test]
    with tempfile.TemporaryDirectory() as tmp:
        L = S.new_learner(enrolled, 32, tmp, 1)
        cls = [L.classify(embedding=v.tobytes())[0] for v in vecs]
    for f in out["filter"]:
        if f["classifier"] != out["classifiers"][0]["name"]:
            continue
        wrong = fixed = broken = 0
        for s in streams:
            pred = [cls[i] for i in s]
            after = reference_filter(pred, f["max_flip"], f["hysteresis"])
            wrong += sum(a != truth[i] for a, i in zip(after, s))
            fixed += sum(p != truth[i] and a == truth[i] for p, a, i in zip(pred, after, s))
            broken += sum(p == truth[i] and a != truth[i] for p, a, i in zip(pred, after, s))
        assert (f["wrong_after"], f["fixed"], f["broken"]) == (wrong, fixed, broken), f
        if f["hysteresis"] >= 2:
            assert f["fixed"] >= f["broken"], f         # with hysteresis it repairs at least what it breaks
        if f["hysteresis"] == 2:
            assert f["fixed"] > f["broken"], f
    # near misses: mostly right; a stricter confidence is not wronger; the gate never adds wrong ones
    near = {(tuple(r["near"]), tuple(r["confident"]), r["gate"]): r for r in out["nearmiss"]}
    for r in out["nearmiss"]:
        assert 0 < r["enrolled"] <= r["offers"]
        assert r["enrolled_right"] >= 0.6 * r["enrolled"], r
        assert sum(r["acc_with"]) >= sum(r["acc_without"]), r   # auto-enrollment never costs accuracy
    for gate in ("off", "on"):
        loose, strict = near[((3, 2), (1, 1), gate)], near[((3, 2), (1, 2), gate)]
        assert (strict["enrolled"] - strict["enrolled_right"]) * loose["enrolled"] <= \
            (loose["enrolled"] - loose["enrolled_right"]) * strict["enrolled"]
    for key, r in near.items():
        if key[2] != "off":
            off = near[(key[0], key[1], "off")]
            assert r["enrolled"] - r["enrolled_right"] <= off["enrolled"] - off["enrolled_right"]
    assert {r["gate"] for r in out["nearmiss"]} == {"off", "on"}  # no never-enrolled kinds in these streams


MPY_GUARDS = r"""
import sys
from tinyenroll import learner, selflabel
L = learner.Learner(None, sys.argv[1], dim=4, capacity=3, max_per_class=3, policy="refuse", auto_drift=None,
                    auto_share=None)
L.enroll("tap", embedding=bytes([10, 0, 0, 0]))
L.enroll("tap", embedding=bytes([12, 0, 0, 0]))
auto = selflabel.AutoEnroll(L, per_hour=5)
nm = selflabel.NearMiss(4, within=3, auto=auto)
v = bytes([30, 1, 0, 0])
nm.observe(0, None, 150, "tap", 100, v)
print(nm.observe(1, "tap", 20, "tap", 100, v) is not None)
nm.observe(2, None, 150, "tap", 100, v)
print(nm.observe(3, "tap", 20, "tap", 100, v) is None, auto.refused.get("StoreFull"))
L.forget("tap")
L.enroll("tap", embedding=bytes([10, 0, 0, 0]))
L.block("tap")
nm.observe(4, None, 150, "tap", 100, v)
print(nm.observe(5, "tap", 20, "tap", 100, v) is None, auto.refused.get("blocked"))
L.unblock("tap")
L.freeze()
nm.observe(6, None, 150, "tap", 100, v)
print(nm.observe(7, "tap", 20, "tap", 100, v) is None, auto.refused.get("frozen"), L.labels())
print(len([x for x in L.audit() if "why=auto near-miss" in x]))
"""


def test_micropython_guards_with_the_learner(tmp_path):
    script = tmp_path / "guards_mpy.py"
    script.write_text(MPY_GUARDS)
    argv, env = mpy.command(str(script), heap="96K")
    p = subprocess.run(argv + [str(tmp_path / "learned")], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:5] == ["True", "True 1", "True 1", "True 1 [('tap', 1)]", "1"]


def test_hapt_streams_with_the_motion_model_and_unknown_canaries():
    """HAPT validation subjects through the motion model: streams hold never-enrolled basic
    activities; canaries that must stay unknown refuse auto-enrollments the others let through."""
    from host_tools.data import hapt
    from host_tools.evaluate import selflabel_eval
    train, items, others, _ = selflabel_eval.hapt_streams()
    names = {hapt.ACTIVITIES[c] for c in hapt.TRANSITIONS}
    assert {lab for _, lab in train} == names and others
    assert all(t is None or t in names for _, _, t in items) and any(t is None for _, _, t in items)
    out = selflabel_eval.evaluate(n_streams=4, seed=1, dataset="hapt")
    assert out["windows"] == 4 * len(items) and out["never_enrolled"] == sum(t is None for _, _, t in items)
    near = {(tuple(r["near"]), tuple(r["confident"]), r["gate"]): r for r in out["nearmiss"]}
    for (nb, conf, gate), r in near.items():
        if gate == "on+unknown":
            off = near[(nb, conf, "off")]
            assert r["enrolled"] - r["enrolled_right"] <= off["enrolled"] - off["enrolled_right"], (r, off)
            assert r["canaries"] > near[(nb, conf, "on")]["canaries"]
    loose = near[((3, 2), (1, 1), "on+unknown")]
    assert loose["refused"].get("gate", 0) > 0  # the unknown canaries refused something


def test_a_run_of_identical_refusals_is_one_line_and_a_count(tmp_path):
    """A stream of the same near miss refused again and again (here: by the hourly cap) writes
    one audit line and a count, so the bounded log keeps its commit lines; a commit, or reading
    the log, writes the count first."""
    L = learner.Learner(None, str(tmp_path / "learned"), dim=4, audit_bytes=600, auto_per_hour=1, auto_drift=None)
    L.enroll("tap", embedding=bytes([10, 0, 0, 0]))
    L.auto_enroll("tap", bytes([11, 0, 0, 0]), 0)
    for t in range(1, 201):
        with pytest.raises(errors.Refused, match="cap: 1 automatic"):
            L.auto_enroll("tap", bytes([11, 0, 0, 0]), t)
    lines = L.audit()
    refusals = [line for line in lines if " at=" in line]
    assert len(refusals) == 2 and " at=3 refused: " in refusals[0], lines
    assert refusals[1].endswith(" at=3 repeated 199 more times"), lines
    assert [line.split()[1] for line in lines if " gen=" in line] == ["gen=2", "gen=3"]  # commits kept
    # a different line (a commit) after more repeats: the count goes in before it
    for t in range(201, 204):
        with pytest.raises(errors.Refused):
            L.auto_enroll("tap", bytes([11, 0, 0, 0]), t)
    L.block("x")
    tail = L.audit()[-2:]
    assert tail[0].endswith(" at=3 repeated 3 more times") and " gen=4 block x" in tail[1], tail
    # after the commit the same refusal is a new line again (a new generation)
    with pytest.raises(errors.Refused):
        L.auto_enroll("tap", bytes([11, 0, 0, 0]), 300)
    assert " at=4 refused: " in L.audit()[-1]
