"""What a board has learned, kept safe: enrollment plus persistence and guard rails.

    m = model.load("/model.tem")
    L = Learner(m, "/learned")               # loads the newest good generation, if any
    L.enroll("wave", window)                 # or embedding=emb
    label, score, margin = L.classify(window)
    L.forget("wave"); L.labels(); L.freeze(); L.block("alarm"); L.rollback(); L.reset()

Guard rails: the factory model file is only ever read; every change is a new store generation
(the one before is kept for rollback) and a line in the audit log; while frozen, every learning
call raises Frozen; blocked labels are answered as unknown. A refused call changes nothing, in
memory or on flash. Without a model, Learner(None, prefix, dim=D) works on raw int8 vectors.
"""
import struct

from . import enroll, kernels
from .enroll import EnrollError, StoreFull, check_label  # noqa: F401  (re-exported)
from .store import Image, Store, StoreError, StoreMismatch  # noqa: F401
from .audit import AuditLog


class Frozen(EnrollError):
    """Learning is frozen; unfreeze() first."""


class Learner:
    def __init__(self, model, prefix, dim=None, k=3, mode="knn", capacity=200, max_classes=16,
                 max_per_class=20, policy="replace", audit_bytes=4096):
        self.model = model
        if model is not None:
            dim = model.out_dim
            crc = model.crc
        elif dim is None:
            raise ValueError("give a model, or dim for raw vectors")
        else:
            crc = 0
        self.knn = enroll.Enroller(dim, k, mode, capacity, max_classes, max_per_class, policy)
        self.store = Store(prefix, crc, dim)
        self.log = AuditLog(prefix + ".log", audit_bytes)
        self.frozen = False
        self.blocked = []
        self.extra = {}  # sections owned by other parts (e.g. the anomaly detector), kept as bytes
        self._apply(self.store.load())
        self.problems = self.store.problems

    # -- state <-> store sections -----------------------------------------------------------
    def _sections(self):
        e = self.knn
        d = e.dim
        s = dict(self.extra)
        s[b"LABL"] = "\n".join(e.labels).encode()
        s[b"ROWS"] = (struct.pack("<H", e.count), memoryview(e.lab)[:e.count],
                      memoryview(e.rows)[:e.count * d])
        s[b"GARD"] = struct.pack("<Bi", 1 if self.frozen else 0,
                                 -1 if e.manual is None else e.manual) + "\n".join(self.blocked).encode()
        return s

    def _apply(self, image):
        # replace the in-memory state by a store generation (checks first, then reads)
        e = self.knn
        d = e.dim
        labels = image.read(b"LABL").decode()
        labels = labels.split("\n") if labels else []
        head = bytearray(2)
        count = 0
        if b"ROWS" in image:
            image.readinto(b"ROWS", head)
            count = struct.unpack("<H", head)[0]
            if image.size(b"ROWS") != 2 + count * (d + 1):
                raise StoreError("store rows section has %d bytes, expected %d"
                                 % (image.size(b"ROWS"), 2 + count * (d + 1)))
        if count > e.capacity:
            raise StoreError("store holds %d examples, capacity is %d" % (count, e.capacity))
        if len(labels) > e.max_classes:
            raise StoreError("store holds %d classes, the cap is %d" % (len(labels), e.max_classes))
        gard = image.read(b"GARD", b"\x00\xff\xff\xff\xff")
        frozen, manual = struct.unpack_from("<Bi", gard, 0)
        blocked = gard[5:].decode()
        extra = {}
        for tag in image.index:
            if tag not in (b"LABL", b"ROWS", b"GARD"):
                extra[tag] = image.read(tag)
        if count:
            image.readinto(b"ROWS", memoryview(e.lab)[:count], 2)
            image.readinto(b"ROWS", memoryview(e.rows)[:count * d], 2 + count)
        e.labels = labels
        e.count = count
        for i in range(count):
            if e.lab[i] >= len(labels):
                e.count = 0
                raise StoreError("store row %d has label %d of %d" % (i, e.lab[i], len(labels)))
            e.norms[i] = kernels.sumsq(e._row(i), d)
        e.manual = None if manual < 0 else manual
        e._dirty = True
        self.frozen = bool(frozen)
        self.blocked = blocked.split("\n") if blocked else []
        self.extra = extra

    def _commit(self, what, why, write=None):
        # write the new state; if the flash write fails, go back to what is stored
        try:
            gen = (write or self.store.commit)(self._sections())
        except OSError as err:
            self._apply(self.store.load())
            raise OSError("could not save (%s); the last saved state is back in use" % (err,))
        self.log.write(gen, what, why)
        return gen

    def _learning(self, what):
        if self.frozen:
            raise Frozen("learning is frozen: %s refused (unfreeze first)" % what)

    def _embed(self, window, embedding):
        if (window is None) == (embedding is None):
            raise ValueError("give exactly one of window or embedding")
        if window is not None:
            if self.model is None:
                raise ValueError("no model loaded: pass an embedding (raw int8 vector)")
            return self.model.embed(window)
        return embedding

    # -- learning -----------------------------------------------------------------------------
    def enroll(self, label, window=None, embedding=None, why="user"):
        """Store one example of label; returns what was done. Refused while frozen or full."""
        self._learning("enroll")
        emb = self._embed(window, embedding)
        what = self.knn.add(label, emb)
        self._commit("enroll %s: %s" % (label, what), why)
        return what

    def forget(self, label, why="user"):
        """Forget every example of label (EnrollError if it is not enrolled)."""
        self._learning("forget")
        self.knn.remove_label(label)
        self._commit("forget %s" % label, why)

    def set_threshold(self, value, why="user"):
        """Set the unknown threshold by hand, or None to calibrate it from the examples."""
        self._learning("set_threshold")
        self.knn.set_threshold(value)
        self._commit("threshold %s" % value, why)

    def set_extra(self, tag, data, what, why="user"):
        """Save a section owned by another part (4-byte tag) in the same generation scheme."""
        self._learning(what)
        self.extra[tag] = bytes(data)
        self._commit(what, why)

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
        """(threshold, how it was set: 'loo', 'inter-class', 'default' or 'manual')."""
        return self.knn.calibration()

    def audit(self):
        return self.log.lines()

    # -- guard rails --------------------------------------------------------------------------
    def freeze(self, why="user"):
        self.frozen = True
        self._commit("freeze", why)

    def unfreeze(self, why="user"):
        self.frozen = False
        self._commit("unfreeze", why)

    def block(self, label, why="user"):
        """Never answer label (it is classified as unknown) until unblock()."""
        check_label(label)
        if label not in self.blocked:
            self.blocked.append(label)
            self._commit("block %s" % label, why)

    def unblock(self, label, why="user"):
        if label not in self.blocked:
            raise EnrollError("label %r is not blocked" % (label,))
        self.blocked.remove(label)
        self._commit("unblock %s" % label, why)

    def rollback(self, why="user"):
        """Go back to the previous generation (StoreError if there is none)."""
        self._apply(self.store.previous())
        self._commit("rollback", why)

    def reset(self, why="user"):
        """Factory reset: forget every example, threshold and learned section, and the previous
        generation. The model file is never touched; the guard rails (frozen, block-list) stay."""
        frozen, blocked = self.frozen, self.blocked
        self._apply(Image())
        self.frozen, self.blocked = frozen, blocked
        self._commit("factory reset", why, self.store.wipe)
