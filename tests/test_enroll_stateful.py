"""Random sequences of learning calls against a plain model of the expected state, run at once in
CPython and in the real micropython interpreter (96K heap): all three must agree on every step."""
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
CAPS = dict(k=2, capacity=10, max_classes=4, max_per_class=3, policy="refuse")
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


class LearnerMachine(RuleBasedStateMachine):
    mode = "knn"

    @initialize()
    def start(self):
        self.dir = tempfile.mkdtemp(dir=_ROOT)
        self.sut = [worker("cpython"), worker("micropython")]
        self.prefixes = [os.path.join(self.dir, "st%d" % i) for i in range(len(self.sut))]
        for w, prefix in zip(self.sut, self.prefixes):
            assert w("new", prefix=prefix, dim=DIM, mode=self.mode, **CAPS) == {"ok": []}
        self.state = {"ex": [], "frozen": False, "blocked": [], "manual": None}
        self.prev = None

    # -- helpers ---------------------------------------------------------------------------
    def labels(self):
        out = []
        for lab, _ in self.state["ex"]:
            if lab not in out:
                out.append(lab)
        return out

    def snapshot(self):
        return {"ex": list(self.state["ex"]), "frozen": self.state["frozen"],
                "blocked": list(self.state["blocked"]), "manual": self.state["manual"]}

    def do(self, op, expect_err=None, commits=True, **kw):
        answers = [w(op, **kw) for w in self.sut]
        for a, prefix in zip(answers, self.prefixes):
            if "msg" in a:
                a["msg"] = a["msg"].replace(prefix, "<store>")
        assert answers[0] == answers[1], (op, kw, answers)
        got = answers[0]
        if expect_err:
            assert got.get("err") == expect_err, (op, kw, got)
            return None
        assert "ok" in got, (op, kw, got)
        if commits:
            self.prev = self.before
        return got["ok"]

    def learning(self):
        return "Frozen" if self.state["frozen"] else None

    # -- rules -----------------------------------------------------------------------------
    @rule(label=st.sampled_from(LABELS), v=vectors)
    def enroll(self, label, v):
        self.before = self.snapshot()
        labels = self.labels()
        n = sum(1 for lab, _ in self.state["ex"] if lab == label)
        err = self.learning()
        if not err and label not in labels and len(labels) >= CAPS["max_classes"]:
            err = "StoreFull"
        if not err and n >= CAPS["max_per_class"]:
            err = "StoreFull"
        if not err and label not in labels and len(self.state["ex"]) >= CAPS["capacity"]:
            err = "StoreFull"
        if not err and n < CAPS["max_per_class"] and len(self.state["ex"]) >= CAPS["capacity"]:
            err = "StoreFull"
        self.do("enroll", err, label=label, emb=v.hex())
        if not err:
            self.state["ex"].append((label, v))

    @rule(label=st.sampled_from(LABELS))
    def forget(self, label):
        self.before = self.snapshot()
        err = self.learning() or (None if label in self.labels() else "EnrollError")
        self.do("forget", err, label=label)
        if not err:
            self.state["ex"] = [e for e in self.state["ex"] if e[0] != label]

    @rule(q=vectors)
    def classify(self, q):
        got = self.do("classify", commits=False, emb=q.hex())
        ex = self.state["ex"]
        labels = self.labels()
        rows = np.frombuffer(b"".join(v for _, v in ex), np.int8).reshape(len(ex), DIM) if ex else np.zeros((0, DIM), np.int8)
        lab = np.array([labels.index(lab) for lab, _ in ex], dtype=int)
        want = knn_ref.classify(np.frombuffer(q, np.int8), rows, lab, labels, CAPS["k"], self.mode,
                                self.state["manual"], self.state["blocked"])
        assert got == list(want)

    @rule(value=st.one_of(st.none(), st.integers(0, 70000)))
    def set_threshold(self, value):
        self.before = self.snapshot()
        err = self.learning()
        self.do("set_threshold", err, value=value)
        if not err:
            self.state["manual"] = value

    @rule()
    def freeze(self):
        self.before = self.snapshot()
        self.do("freeze")
        self.state["frozen"] = True

    @rule()
    def unfreeze(self):
        self.before = self.snapshot()
        self.do("unfreeze")
        self.state["frozen"] = False

    @rule(label=st.sampled_from(LABELS))
    def block(self, label):
        self.before = self.snapshot()
        new = label not in self.state["blocked"]
        self.do("block", commits=new, label=label)
        if new:
            self.state["blocked"].append(label)

    @rule(label=st.sampled_from(LABELS))
    def unblock(self, label):
        self.before = self.snapshot()
        err = None if label in self.state["blocked"] else "EnrollError"
        self.do("unblock", err, label=label)
        if not err:
            self.state["blocked"].remove(label)

    @rule()
    def rollback(self):
        self.before = self.snapshot()
        if self.prev is None:
            self.do("rollback", "StoreError")
            return
        target = self.prev
        self.do("rollback")
        self.state = target

    @rule()
    def reset(self):
        self.do("reset", commits=False)
        self.state["ex"] = []
        self.state["manual"] = None
        self.prev = None

    @rule()
    def reopen(self):
        assert self.do("reopen", commits=False) == []

    @invariant()
    def same_labels(self):
        if not hasattr(self, "sut"):
            return
        counts = {}
        for lab, _ in self.state["ex"]:
            counts[lab] = counts.get(lab, 0) + 1
        assert self.do("labels", commits=False) == [[lab, counts[lab]] for lab in self.labels()]


class PrototypeMachine(LearnerMachine):
    mode = "prototype"


TestLearnerKnn = LearnerMachine.TestCase
TestLearnerKnn.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestLearnerPrototype = PrototypeMachine.TestCase
TestLearnerPrototype.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)
