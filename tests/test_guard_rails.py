"""The guard rails' contract (README "Guard rails"), row by row, in CPython and in the real
micropython (tests/contract_script.py prints one observation per row; both must print the same),
plus the behaviour gate, the persisted integers at their extremes, the audit log after kill -9
and the corrupt newest file kept aside."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from host_tools.board import mpy
from tinyenroll import anomaly, errors, learner, store

HERE = os.path.dirname(os.path.abspath(__file__))


def run_contract(interpreter, tmp_path):
    prefix = str(tmp_path / interpreter / "st")
    os.makedirs(os.path.dirname(prefix))
    script = os.path.join(HERE, "contract_script.py")
    if interpreter == "cpython":
        p = subprocess.run([sys.executable, script, prefix], capture_output=True, text=True, timeout=300)
    else:
        p = mpy.run(script, heap="256K", args=[prefix])  # behaviour, not memory, is tested here
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return dict(line.split(": ", 1) for line in p.stdout.splitlines())


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contract")
    return run_contract("cpython", tmp), run_contract("micropython", tmp)


def test_both_interpreters_observe_the_same_contract(contract):
    cp, mp = contract
    assert cp == mp


@pytest.mark.parametrize("which", [0, 1], ids=["cpython", "micropython"])
def test_each_row_of_the_contract(contract, which):
    c = contract[which]
    # enroll: a commit with its audit line; nothing committed when nothing changed
    assert c["enroll"].startswith("gen=5 gen=5 enroll b")
    assert c["enroll no-op"] == "True"
    # refusals change nothing; guard-rail refusals (blocked, input) write no line
    assert c["enroll blocked"].startswith("Refused unchanged=True log=[]")
    assert c["enroll bad input"].startswith("InputError unchanged=True log=[]")
    assert c["set_threshold 2**31"].startswith("InputError unchanged=True log=[]")
    assert c["set_threshold max"] == "(2147483647, 'manual')"       # survives a reload
    # the gate: refusals name the canary, change nothing and are audited ("at=")
    for row, canary in (("enroll flips canary", "canary 1 (unknown)"), ("forget flips canary", "canary 0 (a)"),
                        ("threshold flips canary", "canary 0 (a)")):
        assert c[row].startswith("Refused unchanged=True log=[") and " refused: " in c[row].split(" | ")[0], row
        assert "behaviour gate: " + canary in c[row], row
    assert c["protect wrong answer"].startswith("Refused unchanged=True log=[]")
    # undo: one step, then refused
    assert "undo (back to generation" in c["undo"] and "'d'" not in c["undo"]
    assert c["undo twice"].startswith("Refused unchanged=True log=[]") and "nothing to undo" in c["undo twice"]
    # automatic learning caps, each refusal audited
    for row in ("auto new class", "auto share", "auto per hour"):
        assert c[row].startswith("Refused unchanged=True log=[") and " refused: " in c[row].split(" | ")[0], row
    assert "never starts a class" in c["auto new class"]
    assert "cap: 1 examples of 'a' came from automatic enrollment" in c["auto share"]
    assert "cap: 2 automatic enrollments in the last hour" in c["auto per hour"]
    # frozen: every change to what is learned refused, nothing written, nothing logged
    for name in ("enroll", "auto_enroll", "forget", "set_threshold", "set_extra", "undo", "reset", "unblock",
                 "unprotect"):
        assert c["frozen " + name].startswith("Frozen unchanged=True log=[]"), name
    for name in ("save", "learn", "reset"):
        assert c["frozen detector " + name].startswith("Frozen unchanged=True log=[]"), name
    assert c["frozen allows"] == "['q'] 2"                           # block and protect only restrict
    assert c["unfreeze"].startswith("gen=") and "unfreeze why=user" in c["unfreeze"]
    assert c["detector reloaded"] == "True"
    # reset: keeps the block-list and factory canaries, drops the rest, no undo after it
    assert c["unprotect factory"].startswith("Refused unchanged=True")
    assert c["reset"].startswith("[] ['q'] [('a', 1, True)] gen=") and c["reset"].endswith("factory reset why=user")
    assert c["undo after reset"].startswith("Refused")


# -- the behaviour gate on its own ---------------------------------------------------------------

def two_classes(tmp_path, **kw):
    L = learner.Learner(None, str(tmp_path / "g"), dim=4, **kw)
    for x in (10, 12, 14):
        L.enroll("a", embedding=bytes([x, 0, 0, 0]))
    for x in (-60, -62, -64):
        L.enroll("b", embedding=bytes([x & 0xFF, 5, 0, 0]))
    return L


def test_gate_margin_bound_and_cap(tmp_path):
    L = two_classes(tmp_path, max_canaries=2, gate=(1, 2))
    L.protect("a", embedding=bytes([11, 0, 0, 0]))
    (_, bound, _), = L.canaries()
    # "b" examples moving towards the canary: refused before its answer flips or its slack
    # (min of margin and threshold - score) falls under the bound
    accepted, refusal = [], None
    for x in (-40, -20, 0, 6, 9, 11, 11, 11):
        try:
            L.enroll("b", embedding=bytes([x & 0xFF, 0, 0, 0]))
            accepted.append(x)
        except errors.Refused as e:
            refusal = str(e)
            break
    assert refusal is not None and "canary 0 (a)" in refusal, (accepted, refusal)
    assert "below its bound %d" % bound in refusal or "would be answered" in refusal
    lab, score, margin = L.classify(embedding=bytes([11, 0, 0, 0]))
    assert lab == "a" and min(margin, L.threshold()[0] - score) >= bound
    assert any("refused: enroll b refused by the behaviour gate" in line for line in L.audit())
    L.protect(None, embedding=bytes([0, 0, 100, 0]))
    with pytest.raises(errors.StoreFull, match="canary set is full"):
        L.protect("a", embedding=bytes([12, 0, 0, 0]))
    # the canaries survive a restart (bounded section, checked on load)
    assert learner.Learner(None, str(tmp_path / "g"), dim=4, max_canaries=2).canaries() == L.canaries()
    with pytest.raises(errors.StoreError, match="canaries"):
        learner.Learner(None, str(tmp_path / "g"), dim=4, max_canaries=1)


def test_gate_drift_cap(tmp_path):
    L = two_classes(tmp_path, auto_share=None, auto_drift=(1, 8))
    thr = L.threshold()[0]
    # small moves are taken, the prototype may not wander further than thr/8 from its anchor
    taken = 0
    for x in range(16, 60, 4):
        try:
            L.auto_enroll("a", bytes([x, 0, 0, 0]), 3600 * x)
            taken += 1
        except errors.Refused as e:
            assert "prototype would move" in str(e)
            break
    assert 0 < taken < 11, (taken, thr)


def test_detector_drift_canary_blocks_drift_towards_a_fault():
    rng = np.random.default_rng(3)
    normal = rng.integers(-6, 7, size=(64, 4))
    fault = np.array([20, 20, 0, 0])

    def run(protect):
        d = anomaly.Detector(4, capacity=32, k=2, adapt_every=1)
        for r in normal:
            d.learn(r.astype(np.int8).tobytes())
        d.finish()
        if protect:
            d.protect(fault.astype(np.int8).tobytes(), True)
        # normal windows creeping towards the fault, each well inside the threshold
        for step in range(2000):
            w = (normal[step % 64] + fault * min(1.0, step / 1600)).round().astype(np.int8)
            d.check(w.tobytes())
        return d, d.check(fault.astype(np.int8).tobytes())[1]

    d0, flagged0 = run(False)
    d1, flagged1 = run(True)
    assert not flagged0            # unguarded drift learned to accept the fault signature
    assert flagged1 and d1.gate_refused > 0
    e = anomaly.Detector.from_bytes(d1.to_bytes())
    assert e.c_flag == [True] and e.to_bytes() == d1.to_bytes()


# -- values that survive a reboot ----------------------------------------------------------------

EXTREMES = r"""
import sys
from tinyenroll import learner, anomaly, errors
p = sys.argv[1]
L = learner.Learner(None, p, dim=4)
L.enroll("a", embedding=bytes(4))
for v in (2**31 - 1, 2**31, 2**32 + 100, 10**12, -1):
    try:
        L.set_threshold(v)
        print("threshold", v, learner.Learner(None, p, dim=4).threshold())
    except errors.InputError as e:
        print("threshold", v, "InputError")
for t in (0, 2**32 - 1, 2**32, -1):
    try:
        L.auto_enroll("a", bytes([1, 0, 0, 0]), t)
        print("time", t, "ok")
    except errors.TinyError as e:
        print("time", t, type(e).__name__)
print("times", learner.Learner(None, p, dim=4).gate.times)
# 256 features, k=16, rows at -128/127: the calibrated threshold is far past 2**31
d = anomaly.Detector(256, capacity=40, k=16, margin=(64, 1))
# Walsh sign patterns: every two rows differ in 128 places by 255
rows = [bytes([0x7F if bin(i & f).count("1") % 2 else 0x80 for f in range(256)]) for i in range(1, 21)]
for r in rows:
    d.learn(r)
d.finish()
e = anomaly.Detector.from_bytes(d.to_bytes())
print("detector", d.threshold, e.threshold, [e.check(r)[1] for r in rows[:3]], d.check(rows[0])[1],
      d.score(rows[0]) < d.threshold)
"""


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_persisted_integers_at_their_extremes(tmp_path, interp):
    script = tmp_path / "extremes.py"
    script.write_text(EXTREMES)
    if interp == "cpython":
        p = subprocess.run([sys.executable, str(script), str(tmp_path / "st")], capture_output=True, text=True)
    else:
        p = mpy.run(str(script), heap="512K", args=[tmp_path / "st"])  # values, not memory, are tested
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[:5] == ["threshold 2147483647 (2147483647, 'manual')", "threshold 2147483648 InputError",
                       "threshold 4294967396 InputError", "threshold 1000000000000 InputError", "threshold -1 InputError"]
    assert out[5:9] == ["time 0 ok", "time 4294967295 ok", "time 4294967296 InputError", "time -1 InputError"]
    assert out[9] == "times [0, 4294967295]"
    # calibrated at 64 * 135252000 = 8656128000, kept as 2**30-1 (anomaly.BIG, the largest small
    # int on a board): flags exactly the same windows
    assert out[10] == "detector 1073741823 1073741823 [False, False, False] False True"


def test_store_generation_is_bounded(tmp_path):
    s = store.Store(str(tmp_path / "st"), 1, 4)
    with open(str(tmp_path / "st.cur"), "wb") as f:
        f.write(store.encode(store.MAX_GENERATION - 1, 1, 4, {b"LABL": b"a"}))
    assert s.load().generation == store.MAX_GENERATION - 1
    with pytest.raises(errors.StoreError, match="last a store can count to"):
        s.commit({b"LABL": b"b"})
    with pytest.raises(errors.StoreError, match="range"):
        store.encode(2 ** 32, 1, 4, {})


def test_store_over_the_caps_is_refused_on_load(tmp_path):
    L = learner.Learner(None, str(tmp_path / "st"), dim=4, max_per_class=5)
    for i in range(5):
        L.enroll("a", embedding=bytes([i * 20, 0, 0, 0]))
    with pytest.raises(errors.StoreError, match="max_per_class=3"):
        learner.Learner(None, str(tmp_path / "st"), dim=4, max_per_class=3)
    with pytest.raises(errors.StoreError, match="caps"):
        learner.Learner(None, str(tmp_path / "st"), dim=4, capacity=4)


# -- power cuts and corrupt files ----------------------------------------------------------------

KILL_WORKER = r"""
import sys
from tinyenroll import learner
CAP = int(sys.argv[2])
L = learner.Learner(None, sys.argv[1], dim=8, capacity=CAP, max_classes=4, max_per_class=CAP // 4)
i = 0
print("ready")
try:
    sys.stdout.flush()
except AttributeError:
    pass
while True:
    L.enroll("c%d" % (i % 4), embedding=bytes([(i * 7 + j) & 0xFF for j in range(8)]))
    i += 1
"""


def commit_lines(L):
    return [line for line in L.audit() if line.split(" ", 2)[1].startswith("gen=")]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_audit_log_follows_the_store_after_kill_9(tmp_path, interp):
    script = tmp_path / "killed.py"
    script.write_text(KILL_WORKER)
    rng = random.Random(17)
    trials = 25 if interp == "cpython" else 10
    recovered = 0
    for trial in range(trials):
        prefix = str(tmp_path / ("t%d" % trial))
        cap = 2000 if interp == "cpython" else 400
        if interp == "cpython":
            argv, env = [sys.executable, str(script), prefix, str(cap)], None
        else:
            argv, env = mpy.command(str(script), heap="96K")
            argv = argv + [prefix, str(cap)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()  # killed mid-work, not stopped
        L = learner.Learner(None, prefix, dim=8, capacity=cap, max_classes=4, max_per_class=cap // 4)
        lines = commit_lines(L)
        gens = [int(line.split(" ", 2)[1][4:]) for line in lines]
        assert gens and gens[-1] == L.store.generation, (trial, gens[-3:], L.store.generation)
        # one line per generation, in order (the log is bounded: its oldest part may be gone)
        assert gens == list(range(gens[0], gens[0] + len(gens))), trial
        recovered += "(recovered" in lines[-1]
        # and the examples on flash are those the log accounts for
        assert sum(n for _, n in L.labels()) == L.store.generation - 1
    print("\n%s: %d of %d kills fell between the store and the log, all recovered" % (interp, recovered, trials))


def test_corrupt_newest_is_kept_aside_and_audited(tmp_path):
    p = str(tmp_path / "st")
    L = learner.Learner(None, p, dim=4)
    L.enroll("a", embedding=bytes(4))
    L.enroll("b", embedding=bytes([50, 0, 0, 0]))
    data = bytearray(open(p + ".cur", "rb").read())
    data[20] ^= 0x40
    open(p + ".cur", "wb").write(data)
    L2 = learner.Learner(None, p, dim=4)
    assert L2.labels() == [("a", 1)]
    assert open(p + ".bad", "rb").read() == bytes(data)          # the evidence stays
    last = L2.audit()[-1]
    assert "gen=%d fallback: " % L2.store.generation in last and "CRC mismatch" in last and ".bad" in last
    # bounded: a second corruption replaces the kept file, only one is kept
    L2.enroll("c", embedding=bytes([0, 50, 0, 0]))
    L2.enroll("d", embedding=bytes([0, 0, 50, 0]))
    data2 = bytearray(open(p + ".cur", "rb").read())
    data2[21] ^= 0x01
    open(p + ".cur", "wb").write(data2)
    learner.Learner(None, p, dim=4)
    assert open(p + ".bad", "rb").read() == bytes(data2)
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("st.")) == ["st.bad", "st.cur", "st.log"]
    # a restart after the fallback writes nothing more
    n = len(learner.Learner(None, p, dim=4).audit())
    assert len(learner.Learner(None, p, dim=4).audit()) == n
