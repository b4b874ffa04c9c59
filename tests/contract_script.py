# The guard rails' contract (README, "Guard rails"), one block per row of the table. Runs
# unchanged in CPython and in the real micropython: each line it prints is "row: observation";
# tests/test_guard_rails.py checks the observations and that both interpreters print the same.
import sys
import os

from tinyenroll import learner, anomaly

PREFIX = sys.argv[1]


def gen_lines(L):
    # the audit log without times: "gen=G ..." (commits) and "at=G ..." (refusals)
    return [line.split(" ", 1)[1] for line in L.audit()]


def files():
    d, base = PREFIX.rsplit("/", 1)
    out = []
    for name in sorted(os.listdir(d)):
        if name.startswith(base):
            with open(d + "/" + name, "rb") as f:
                out.append((name, f.read()))
    return out


def attempt(row, L, call):
    # run a call that should be refused: its error class, and whether anything changed
    before = (files(), L.labels(), L.threshold(), L.frozen, list(L.blocked), L.canaries())
    log = len(L.audit())
    try:
        call()
        print("%s: accepted" % row)
        return
    except Exception as e:
        name = type(e).__name__
        msg = str(e)
    after = (files(), L.labels(), L.threshold(), L.frozen, list(L.blocked), L.canaries())
    state_same = before[1:] == after[1:]
    new_log = gen_lines(L)[log:]
    print("%s: %s unchanged=%s log=%s | %s" % (row, name, state_same, new_log, msg.replace(PREFIX, "<p>")))


def v(*xs):
    return bytes([x & 0xFF for x in xs] + [0] * (4 - len(xs)))


L = learner.Learner(None, PREFIX, dim=4, max_per_class=3, policy="replace", auto_per_hour=2)
L.enroll("a", embedding=v(10))
L.enroll("a", embedding=v(12))
L.enroll("b", embedding=v(-60, 5))
L.enroll("b", embedding=v(-62, 5))
print("enroll: gen=%d %s" % (L.store.generation, gen_lines(L)[-1]))
# enroll: nothing changed -> nothing committed
g = L.store.generation
L.enroll("a", embedding=v(12))
L.enroll("a", embedding=v(12))
print("enroll no-op: %s" % (L.store.generation == g + 1))  # the third is added, the copy after it kept
L.block("c")
attempt("enroll blocked", L, lambda: L.enroll("c", embedding=v(1, 1)))
L.unblock("c")
attempt("enroll bad input", L, lambda: L.enroll("a", embedding=v(1)[:3]))
attempt("set_threshold 2**31", L, lambda: L.set_threshold(2 ** 31))
L.set_threshold(2 ** 31 - 1)
print("set_threshold max: %s" % (learner.Learner(None, PREFIX, dim=4, max_per_class=3).threshold(),))
L.set_threshold(None)

# the behaviour gate
i = L.protect("a", embedding=v(11))
j = L.protect(None, embedding=v(0, 0, 100))
print("protect: %s %s %s" % (i, j, L.canaries()))
attempt("enroll flips canary", L, lambda: L.enroll("b", embedding=v(11, 1)))
attempt("forget flips canary", L, lambda: L.forget("a"))
attempt("threshold flips canary", L, lambda: L.set_threshold(0))
attempt("protect wrong answer", L, lambda: L.protect("b", embedding=v(11)))
L.enroll("d", embedding=v(0, 60, 0, 0))
L.rollback()
print("undo: %s %s" % (L.labels(), gen_lines(L)[-1]))
attempt("undo twice", L, L.rollback)
# auto-enrollment caps: never starts a class, share, per hour
attempt("auto new class", L, lambda: L.auto_enroll("z", v(1), 10))
L.auto_enroll("a", v(13), 20)
attempt("auto share", L, lambda: L.auto_enroll("a", v(14), 30))
L.auto_enroll("b", v(-61, 5), 40)
attempt("auto per hour", L, lambda: L.auto_enroll("b", v(-61, 6), 50))
L.unprotect(j)
print("unprotect: %s" % (L.canaries(),))

# freeze: nothing learned changes
L.freeze()
for name, call in (("enroll", lambda: L.enroll("a", embedding=v(9))),
                   ("auto_enroll", lambda: L.auto_enroll("a", v(9), 9000)),
                   ("forget", lambda: L.forget("a")),
                   ("set_threshold", lambda: L.set_threshold(5)),
                   ("set_extra", lambda: L.set_extra(b"ANOM", b"x", "anomaly")),
                   ("undo", L.rollback),
                   ("reset", L.reset),
                   ("unblock", lambda: L.unblock("zz")),
                   ("unprotect", lambda: L.unprotect(0))):
    attempt("frozen " + name, L, call)
L.block("q")
L.protect("a", embedding=v(12))
print("frozen allows: %s %s" % (L.blocked, len(L.canaries())))
L.unfreeze()
print("unfreeze: %s" % gen_lines(L)[-1])

# anomaly detector under the learner's freeze switch, and its drift canary
rows = [v(x % 7, (3 * x) % 5, 1, 0) for x in range(30)]
d = anomaly.Detector(4, capacity=16, k=2, guard=L, adapt_every=1)
for r in rows:
    d.learn(r)
d.finish()
d.protect(v(40, 40, 0, 0), True)
before = bytes(d.rows)
for r in [v(5, 3, 1, 0)] * 5:
    d.check(r)
print("drift: adapted %d refused %d" % (d.adapted, d.gate_refused))
L.freeze()
attempt("frozen detector save", L, lambda: d.save(L))
attempt("frozen detector learn", L, lambda: d.learn(rows[0]))
attempt("frozen detector reset", L, d.reset)
L.unfreeze()
d.save(L)
print("detector saved: %s" % gen_lines(L)[-1])
e = anomaly.Detector.load(learner.Learner(None, PREFIX, dim=4, max_per_class=3))
print("detector reloaded: %s" % (e.to_bytes() == d.to_bytes()))

# reset: refused while frozen (above); keeps factory canaries and the block-list
L.protect("a", embedding=v(10), factory=True)
attempt("unprotect factory", L, lambda: L.unprotect(len(L.canaries()) - 1))
n_fac = len([c for c in L.canaries() if c[2]])
for k in range(len(L.canaries()) - 1, -1, -1):
    if not L.canaries()[k][2]:
        L.unprotect(k)
L.reset()
print("reset: %s %s %s %s" % (L.labels(), L.blocked, L.canaries(), gen_lines(L)[-1]))
attempt("undo after reset", L, L.rollback)
print("factory kept: %d" % n_fac)
