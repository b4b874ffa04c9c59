"""Random sequences of learning calls against a plain model of the expected state, run at once in
CPython and in the real micropython interpreter (96K heap): all three must agree on every step,
for both max_per_class policies ("refuse", and the default "replace" with its own rule below).

The guard-rail contract the model encodes (README's table):
- while frozen, nothing learned changes: enroll, auto_enroll, forget, set_threshold, set_extra,
  undo and reset raise Frozen, unblock too; freeze/unfreeze/block only touch the guard rails
  (checked as an invariant: what is learned is byte for byte what it was at freeze());
- a blocked label cannot be enrolled (Refused);
- undo is one step back over what is learned (guard-rail changes do not use it up), and a
  second undo is refused (Refused "nothing to undo"), as after reset;
- an enroll that changes nothing (policy replace keeping the old examples) commits nothing.
"""
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from host_tools.oracle import knn_ref
from learner_worker import LearnerWorker

DIM = 8
LABELS = ["a", "b", "c", "d", "e"]
CAPS = dict(k=2, capacity=10, max_classes=4, max_per_class=3)
SMALL_LOG = dict(audit_bytes=600)  # the whole log goes through the pipe as JSON at every step
AUTO = dict(auto_per_hour=255, auto_share=None, auto_drift=None)  # caps tested on their own
vectors = st.binary(min_size=DIM, max_size=DIM)

_workers = {}
_ROOT = tempfile.mkdtemp(prefix="tinyenroll-sm-")


def worker(kind):
    if kind not in _workers:
        _workers[kind] = LearnerWorker(kind)
    return _workers[kind]


@pytest.fixture(scope="module", autouse=True)
def close_workers():
    yield
    for w in _workers.values():
        w.close()
    _workers.clear()
    shutil.rmtree(_ROOT, ignore_errors=True)


def sqd(a, b):
    x = np.frombuffer(a, np.int8).astype(int) - np.frombuffer(b, np.int8).astype(int)
    return int(x @ x)


def replace_victim(members, new):
    """Policy "replace", written from its rule: the member (in row order) whose nearest
    same-class neighbour (the newcomer included) is strictly closest, if closer than the
    newcomer's own nearest; None when the newcomer is the most redundant."""
    best, best_nn = None, min(sqd(v, new) for _, v in members)
    for a, (i, v) in enumerate(members):
        nn = min([sqd(v, new)] + [sqd(v, w) for j, w in members if j != i])
        if nn < best_nn:
            best, best_nn = i, nn
    return best


class LearnerMachine(RuleBasedStateMachine):
    mode = "knn"
    policy = "refuse"

    @initialize()
    def start(self):
        self.dir = tempfile.mkdtemp(dir=_ROOT)
        self.sut = [worker("cpython"), worker("micropython")]
        self.prefixes = [os.path.join(self.dir, "st%d" % i) for i in range(len(self.sut))]
        for w, prefix in zip(self.sut, self.prefixes):
            assert w("new", prefix=prefix, dim=DIM, mode=self.mode, policy=self.policy, **CAPS, **AUTO, **SMALL_LOG) == {"ok": []}
        self.learned = {"ex": [], "manual": None, "extra": {}}
        self.frozen = False
        self.blocked = []
        self.undo_to = None      # what undo brings back, or None: nothing to undo
        self.at_freeze = None    # the workers' learned state when freeze() was called
        self.t = 0

    # -- helpers ---------------------------------------------------------------------------
    def labels(self):
        out = []
        for lab, _ in self.learned["ex"]:
            if lab not in out:
                out.append(lab)
        return out

    def copy(self):
        return {"ex": list(self.learned["ex"]), "manual": self.learned["manual"], "extra": dict(self.learned["extra"])}

    def do(self, op, expect_err=None, **kw):
        answers = [w(op, **kw) for w in self.sut]
        for a, prefix in zip(answers, self.prefixes):
            if "msg" in a:
                a["msg"] = a["msg"].replace(prefix, "<store>")
            if op == "audit":  # the clocks differ: drop each line's time
                a["ok"] = [line.split(" ", 1)[1].replace(prefix, "<store>") for line in a["ok"]]
        assert answers[0] == answers[1], (op, kw, answers)
        got = answers[0]
        if expect_err:
            assert got.get("err") == expect_err, (op, kw, got)
            return None
        assert "ok" in got, (op, kw, got)
        return got["ok"]

    def learned_change(self, new):
        self.undo_to = self.copy()
        self.learned = new

    def add_error(self, label, auto=False):
        if self.frozen:
            return "Frozen"
        if label in self.blocked:
            return "Refused"
        labels = self.labels()
        if auto and label not in labels:
            return "Refused"  # automatic enrollment never starts a class
        n = sum(1 for lab, _ in self.learned["ex"] if lab == label)
        ex = self.learned["ex"]
        if label not in labels and len(labels) >= CAPS["max_classes"]:
            return "StoreFull"
        if n >= CAPS["max_per_class"] and self.policy == "refuse":
            return "StoreFull"
        if label not in labels and len(ex) >= CAPS["capacity"]:
            return "StoreFull"
        if n < CAPS["max_per_class"] and len(ex) >= CAPS["capacity"]:
            return "StoreFull"
        return None

    def add(self, label, v):
        """The expected examples after adding (label, v), or None if nothing changes."""
        ex = list(self.learned["ex"])
        members = [(i, w) for i, (lab, w) in enumerate(ex) if lab == label]
        if len(members) < CAPS["max_per_class"]:
            return ex + [(label, v)]
        victim = replace_victim(members, v)
        if victim is None:
            return None
        ex[victim] = (label, v)
        return ex

    # -- rules -----------------------------------------------------------------------------
    @rule(label=st.sampled_from(LABELS), v=vectors)
    def enroll(self, label, v):
        err = self.add_error(label)
        self.do("enroll", err, label=label, emb=v.hex())
        if not err:
            ex = self.add(label, v)
            if ex is not None:
                new = self.copy()
                new["ex"] = ex
                self.learned_change(new)

    @rule(label=st.sampled_from(LABELS), v=vectors)
    def auto_enroll(self, label, v):
        err = self.add_error(label, auto=True)
        self.t += 3600
        self.do("auto_enroll", err, label=label, emb=v.hex(), t=self.t)
        if not err:
            ex = self.add(label, v)
            if ex is not None:
                new = self.copy()
                new["ex"] = ex
                self.learned_change(new)

    @rule(label=st.sampled_from(LABELS))
    def forget(self, label):
        err = "Frozen" if self.frozen else (None if label in self.labels() else "InputError")
        self.do("forget", err, label=label)
        if not err:
            new = self.copy()
            new["ex"] = [e for e in new["ex"] if e[0] != label]
            self.learned_change(new)

    @rule(q=vectors)
    def classify(self, q):
        got = self.do("classify", emb=q.hex())
        ex = self.learned["ex"]
        labels = self.labels()
        rows = np.frombuffer(b"".join(v for _, v in ex), np.int8).reshape(len(ex), DIM) if ex else np.zeros((0, DIM), np.int8)
        lab = np.array([labels.index(lab) for lab, _ in ex], dtype=int)
        want = knn_ref.classify(np.frombuffer(q, np.int8), rows, lab, labels, CAPS["k"], self.mode,
                                self.learned["manual"], self.blocked)
        assert got == list(want)

    @rule(value=st.one_of(st.none(), st.integers(0, 70000), st.sampled_from([2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, -1])))
    def set_threshold(self, value):
        err = "Frozen" if self.frozen else None
        if not err and value is not None and not 0 <= value < 2 ** 31:
            err = "InputError"
        self.do("set_threshold", err, value=value)
        if not err:
            new = self.copy()
            new["manual"] = value
            self.learned_change(new)

    @rule(data=st.binary(max_size=6))
    def set_extra(self, data):
        err = "Frozen" if self.frozen else None
        self.do("set_extra", err, tag="ANOM", data=data.hex())
        if not err:
            new = self.copy()
            new["extra"]["ANOM"] = data
            self.learned_change(new)

    @rule()
    def freeze(self):
        self.do("freeze")
        self.frozen = True
        self.at_freeze = self.do("learned")

    @rule()
    def unfreeze(self):
        self.do("unfreeze")
        self.frozen = False

    @rule(label=st.sampled_from(LABELS))
    def block(self, label):
        self.do("block", label=label)
        if label not in self.blocked:
            self.blocked.append(label)

    @rule(label=st.sampled_from(LABELS))
    def unblock(self, label):
        err = "Frozen" if self.frozen else (None if label in self.blocked else "InputError")
        self.do("unblock", err, label=label)
        if not err:
            self.blocked.remove(label)

    @rule()
    def rollback(self):
        err = "Frozen" if self.frozen else (None if self.undo_to is not None else "Refused")
        self.do("rollback", err)
        if not err:
            self.learned = self.undo_to
            self.undo_to = None

    @rule()
    def reset(self):
        err = "Frozen" if self.frozen else None
        self.do("reset", err)
        if not err:
            self.learned = {"ex": [], "manual": None, "extra": {}}
            self.undo_to = None

    @rule()
    def reopen(self):
        assert self.do("reopen") == []

    @invariant()
    def same_state(self):
        if not hasattr(self, "sut"):
            return
        counts = {}
        for lab, _ in self.learned["ex"]:
            counts[lab] = counts.get(lab, 0) + 1
        got = self.do("learned")
        assert got["labels"] == [[lab, counts[lab]] for lab in self.labels()]
        assert got["rows"] == b"".join(v for _, v in self.learned["ex"]).hex()
        assert got["manual"] == self.learned["manual"]
        assert got["extra"] == sorted(k + v.hex() for k, v in self.learned["extra"].items())
        guard = self.do("guard")
        assert (guard["frozen"], guard["blocked"]) == (self.frozen, self.blocked)

    @invariant()
    def nothing_learned_changes_while_frozen(self):
        if getattr(self, "frozen", False):
            assert self.do("learned") == self.at_freeze

    @invariant()
    def audit_log_follows_the_store(self):
        if not hasattr(self, "sut"):
            return
        gen = self.do("guard")["generation"]
        lines = self.do("audit")
        commits = [l for l in lines if l.startswith("gen=")]
        if gen and commits:
            assert commits[-1].split()[0] == "gen=%d" % gen  # never lags the store
        elif gen:
            # the log is bounded: newer lines (e.g. a run of refused automatic enrollments) may
            # have pushed every commit line out, but only by filling at least a whole file
            assert sum(len(l) + 1 for l in lines) >= SMALL_LOG["audit_bytes"], lines


class ReplaceMachine(LearnerMachine):
    policy = "replace"


class PrototypeMachine(LearnerMachine):
    mode = "prototype"


class PrototypeReplaceMachine(LearnerMachine):
    mode = "prototype"
    policy = "replace"


TestLearnerKnn = LearnerMachine.TestCase
TestLearnerKnn.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestLearnerKnnReplace = ReplaceMachine.TestCase
TestLearnerKnnReplace.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestLearnerPrototype = PrototypeMachine.TestCase
TestLearnerPrototype.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
TestLearnerPrototypeReplace = PrototypeReplaceMachine.TestCase
TestLearnerPrototypeReplace.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
