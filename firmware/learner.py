"""What a board has learned, kept safe: enrollment plus persistence and guard rails.

    m = model.load("/model.tem")
    L = Learner(m, "/learned")               # loads the newest good generation, if any
    L.enroll("wave", window)                 # or embedding=emb
    label, score, margin = L.classify(window)
    L.forget("wave"); L.labels(); L.freeze(); L.block("alarm"); L.undo(); L.reset()
    L.protect("wave", window)                # a canary: no later change may alter its answer

The guard rails' contract (frozen, block-list, one-step undo, the behaviour gate, the audit
log and its recovery after a power cut) is README's table "Guard rails", one row per call.
Without a model, Learner(None, prefix, dim=D) works on raw int8 vectors. The start-up load and
the rare calls (undo/rollback, reset, protect, unprotect, canaries, auto_enroll) live in rails.py,
imported when needed (start-up code is dropped again), so a board keeps RAM for them only then.
"""
import gc
import struct
import sys

from . import enroll
from .enroll import check_label, _check_int
from .store import Store
from .audit import AuditLog
from .ints import err, unload  # err: errors.<kind>, imported only when one is raised

# a commit opens files and builds small buffers: on a board, collect first so they find room in
# a heap that classification has left in pieces (CPython needs no help, and its collection is slow)
_COLLECT = sys.implementation.name == "micropython"
_RARE = ("rollback", "undo", "reset", "protect", "unprotect", "canaries", "auto_enroll", "audit")


class Learner:
    def __init__(self, model, prefix, dim=None, k=3, mode="knn", capacity=200, max_classes=16,
                 max_per_class=20, policy="replace", audit_bytes=4096, max_canaries=8, gate=(1, 4),
                 auto_per_hour=10, auto_share=(1, 2), auto_drift=(1, 1), unknown_pct=150,
                 unknown_dist=None):
        # collect first (a model was likely just loaded), so the buffers below lie together; the
        # start-up code (rails.py) comes after them and its RAM is one hole when it is dropped
        if _COLLECT:
            gc.collect()
        self.model = model
        if model is not None:
            dim = model.out_dim
            crc = model.crc
        elif dim is None:
            raise err("InputError", "give a model, or dim for raw vectors")
        else:
            crc = 0
        _check_int("max_canaries", max_canaries, 0, 255)
        self.knn = enroll.Enroller(dim, k, mode, capacity, max_classes, max_per_class, policy, unknown_pct,
                                   unknown_dist)
        self.store = Store(prefix, crc, dim)
        self.log = AuditLog(prefix + ".log", audit_bytes)
        self.settings = (max_canaries, gate, auto_per_hour, auto_share, auto_drift)
        self.frozen = False
        self.blocked = []
        self.extra = {}  # sections owned by other parts (e.g. the anomaly detector), kept as bytes
        self.gate = None  # gate.Gate, made when canaries or automatic learning first need it
        self._undo = False
        self._start(True)

    def _start(self, boot):
        # load the newest generation, the guard rails and (boot) the audit log's check: code run
        # once, in rails.py, which is dropped again so its RAM is free for the application
        if boot and self.store.empty():
            self.store.load()  # a new store: the state is already the empty one, rails not needed
            self.problems = []
            return
        from . import rails
        try:
            rails.start(self, boot)
        finally:
            _unload("rails")

    # -- state <-> store sections -----------------------------------------------------------
    def _sections(self, audl):
        e = self.knn
        d = e.dim
        s = dict(self.extra)
        s[b"LABL"] = "\n".join(e.labels).encode()
        s[b"ROWS"] = (struct.pack("<H", e.count), memoryview(e.lab)[:e.count],
                      memoryview(e.rows)[:e.count * d])
        s[b"GARD"] = struct.pack("<Bi", 1 if self.frozen else 0,
                                 -1 if e.manual is None else e.manual) + "\n".join(self.blocked).encode()
        s[b"UNDO"] = b"\x01" if self._undo else b"\x00"
        s[b"AUDL"] = audl.encode()
        if self.gate is not None:
            self.gate.sections(s)
        return s

    def _gate(self):
        if self.gate is None:
            from .gate import Gate
            self.gate = Gate(self.knn, *self.settings)
        return self.gate

    def _commit(self, what, why, keep_prev=False, write=None):
        # write the new state; if the flash write fails, go back to what is stored
        if _COLLECT:
            gc.collect()
        audl = "%s why=%s" % (str(what).replace("\n", " "), str(why).replace("\n", " "))
        try:
            if write is not None:
                gen = write(self._sections(audl))
            else:
                gen = self.store.commit(self._sections(audl), keep_prev)
        except OSError as e:
            self._start(False)
            raise OSError("could not save (%s); the last saved state is back in use" % (e,))
        self.log.write(gen, what, why)
        return gen

    def _refused(self, e, why):
        # a refusal by the gate or an automatic-learning cap: audited, then raised
        self.log.write(self.store.generation, "refused: %s" % e, why, "at")
        raise e

    def _learning(self, what):
        if self.frozen:
            raise err("Frozen", "learning is frozen: %s refused (unfreeze first)" % what)

    def _embed(self, window, embedding):
        if (window is None) == (embedding is None):
            raise err("InputError", "give exactly one of window or embedding")
        if window is not None:
            if self.model is None:
                raise err("InputError", "no model loaded: pass an embedding (raw int8 vector)")
            return self.model.embed(window)
        return embedding

    def _change(self, what, why, passed=None):
        # the in-memory state holds a change to what is learned: gate it, then commit it
        if self.gate is not None:
            msg = self.gate.check()
            if msg:
                self._start(False)
                self._refused(err("Refused", "%s refused by the behaviour gate: %s" % (what.split(":")[0], msg)), why)
        if passed is not None:
            passed()
        self._undo = True
        return self._commit(what, why)

    # -- learning -----------------------------------------------------------------------------
    def enroll(self, label, window=None, embedding=None, why="user"):
        """Store one example of label; returns what was done. Refused while frozen, for a
        blocked label, when full, or by the gate; commits nothing if nothing changed."""
        self._learning("enroll")
        check_label(label)
        if label in self.blocked:
            raise err("Refused", "label %r is blocked: unblock it before enrolling it" % (label,))
        emb = self._embed(window, embedding)
        new = label not in self.knn.labels
        what = self.knn.add(label, emb)
        if not self.knn.changed:
            return what
        if new and self.gate is not None:
            self.gate.new_class()
        self._change("enroll %s: %s" % (label, what), why)
        return what

    def forget(self, label, why="user"):
        """Forget every example of label (InputError if it is not enrolled)."""
        self._learning("forget")
        if label in self.knn.labels and self.gate is not None:
            self.gate.forget_class(self.knn.labels.index(label))
        self.knn.remove_label(label)
        self._change("forget %s" % label, why)

    def set_threshold(self, value, why="user"):
        """Set the unknown threshold by hand (0..2**31-1), or None to calibrate it."""
        self._learning("set_threshold")
        self.knn.set_threshold(value)
        self._change("threshold %s" % value, why)

    def set_extra(self, tag, data, what, why="user"):
        """Save a section owned by another part (4-byte tag) in the same generation scheme. data is
        bytes, or a bytearray handed over: kept as it is, not copied (a second copy of a detector's
        rows may not fit a small heap), so the caller must not change it afterwards."""
        self._learning(what)
        if len(tag) != 4 or tag in b"LABL ROWS GARD UNDO AUDL CANR AUTO RATE":  # the learner's own
            raise err("InputError", "section tag %r" % (tag,))
        self.extra[tag] = data if isinstance(data, (bytes, bytearray)) else bytes(data)
        self._change(what, why)

    # -- answers ------------------------------------------------------------------------------
    def classify(self, window=None, embedding=None):
        """(label or None for unknown, score, margin); blocked labels come back as unknown."""
        label, score, margin = self.knn.classify(self._embed(window, embedding))
        if label is not None and label in self.blocked:
            return None, score, margin
        return label, score, margin

    def labels(self):
        """[(label, number of examples)]."""
        return self.knn.counts()

    def threshold(self):
        """(threshold, how it was set: 'loo', 'model', 'inter-class', 'default' or 'manual')."""
        return self.knn.calibration()

    # -- guard rails --------------------------------------------------------------------------
    def freeze(self, why="user"):
        self.frozen = True
        self._commit("freeze", why, True)

    def unfreeze(self, why="user"):
        self.frozen = False
        self._commit("unfreeze", why, True)

    def block(self, label, why="user"):
        """Never answer label (it is classified as unknown) until unblock()."""
        check_label(label)
        if label not in self.blocked:
            self.blocked.append(label)
            self._commit("block %s" % label, why, True)

    def unblock(self, label, why="user"):
        self._learning("unblock")
        if label not in self.blocked:
            raise err("InputError", "label %r is not blocked" % (label,))
        self.blocked.remove(label)
        self._commit("unblock %s" % label, why, True)

    def __getattr__(self, name):
        # the rare calls live in rails.py, imported on first use (a board keeps no RAM for them
        # until then): undo()/rollback(), reset(), protect(), unprotect(), canaries(), auto_enroll(),
        # audit()
        # (dropped again after the call)
        if name not in _RARE:
            raise AttributeError(name)

        def call(*a, **k):
            if name in ("rollback", "undo", "reset"):
                self._learning("undo" if name == "rollback" else name)  # refused without loading rails
            from . import rails
            try:
                return getattr(rails, name)(self, *a, **k)
            finally:
                _unload("rails")
                if self.gate is None:
                    _unload("gate")  # e.g. a reset left it nothing to guard
        return call


def _unload(name):
    unload(name)
    if _COLLECT:
        gc.collect()
