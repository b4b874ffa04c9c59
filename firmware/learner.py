"""What a board has learned, kept safe: enrollment plus persistence and guard rails.

    m = model.load("/model.tem")
    L = Learner(m, "/learned")               # loads the newest good generation, if any
    L.enroll("wave", window)                 # or embedding=emb
    label, score, margin = L.classify(window)
    L.forget("wave"); L.labels(); L.freeze(); L.block("alarm"); L.undo(); L.reset()
    L.protect("wave", window)                # a canary: no later change may alter its answer

The guard rails' contract (frozen, block-list, one-step undo, the behaviour gate, the audit
log and its recovery after a power cut) is README's table "Guard rails", one row per call.
Without a model, Learner(None, prefix, dim=D) works on raw int8 vectors.
"""
import struct

from . import enroll
from .enroll import check_label, _check_int
from .errors import InputError, Refused, Frozen, StoreError, StoreFull, StoreMismatch  # noqa: F401
from .store import Store
from .audit import AuditLog

LEARNED_TAGS = (b"LABL", b"ROWS", b"GARD", b"UNDO", b"AUDL", b"CANR", b"AUTO", b"RATE")


class Learner:
    def __init__(self, model, prefix, dim=None, k=3, mode="knn", capacity=200, max_classes=16,
                 max_per_class=20, policy="replace", audit_bytes=4096, max_canaries=8, gate=(1, 4),
                 auto_per_hour=10, auto_share=(1, 2), auto_drift=(1, 1)):
        self.model = model
        if model is not None:
            dim = model.out_dim
            crc = model.crc
        elif dim is None:
            raise InputError("give a model, or dim for raw vectors")
        else:
            crc = 0
        _check_int("max_canaries", max_canaries, 0, 255)
        self.knn = enroll.Enroller(dim, k, mode, capacity, max_classes, max_per_class, policy)
        self.store = Store(prefix, crc, dim)
        self.log = AuditLog(prefix + ".log", audit_bytes)
        self.settings = (max_canaries, gate, auto_per_hour, auto_share, auto_drift)
        self.frozen = False
        self.blocked = []
        self.extra = {}  # sections owned by other parts (e.g. the anomaly detector), kept as bytes
        self.gate = None  # gate.Gate, made when canaries or automatic learning first need it
        self._undo = False
        image = self.store.load()
        self._load(image)
        self.problems = self.store.problems
        self._recover_log(image)

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

    def _names(self, data):
        # the labels of "\n"-joined text (a store's classes or block-list), each checked
        try:
            names = data.decode().split("\n") if data else []
            for lab in names:
                check_label(lab)
                if names.count(lab) > 1:
                    raise InputError("%r twice" % lab)
        except (UnicodeError, InputError) as err:
            raise StoreError("store labels: %s" % err)
        return names

    def _apply(self, image):
        # what is learned (not the guard rails) from a generation; a bad one raises StoreError
        # (then the caller restores the saved state, or the learner does not start)
        e = self.knn
        d = e.dim
        labels = self._names(image.read(b"LABL"))
        size = image.size(b"ROWS")
        count = 0
        if size:
            head = bytearray(2)
            image.readinto(b"ROWS", head)
            count = head[0] | head[1] << 8
        gard = image.read(b"GARD", b"\x00\xff\xff\xff\xff")
        manual = struct.unpack_from("<i", gard, 1)[0] if len(gard) >= 5 else -2
        if (size and size != 2 + count * (d + 1)) or count > e.capacity or len(labels) > e.max_classes \
                or manual < -1:
            raise StoreError("store: %d examples (%d bytes), %d classes, threshold %d: not within "
                             "this learner's caps" % (count, size, len(labels), manual))
        if b"AUTO" in image or b"CANR" in image or b"RATE" in image:
            self._gate().check_sections(image, labels)
        if count:
            image.readinto(b"ROWS", memoryview(e.lab)[:count], 2)
            image.readinto(b"ROWS", memoryview(e.rows)[:count * d], 2 + count)
        e.labels = labels
        e.count = count
        e.manual = None if manual < 0 else manual
        e._dirty = True
        n = [0] * len(labels)
        for i in range(count):
            c = e.lab[i]
            if c >= len(labels) or n[c] >= e.max_per_class:
                e.count = 0
                raise StoreError("store: row %d has class %d of %d, or its class holds more than "
                                 "max_per_class=%d" % (i, c, len(labels), e.max_per_class))
            n[c] += 1
            e.norms[i] = enroll.kernels.sumsq(e._row(i), d)
        self.extra = {}
        for tag in image.index:
            if tag not in LEARNED_TAGS:
                self.extra[tag] = image.read(tag)
        if self.gate is not None:
            self.gate.load_learned(image, labels)

    def _load(self, image):
        # what is learned, the guard rails and the undo step (at start-up, after a failed write)
        self._apply(image)
        gard = image.read(b"GARD", b"\x00")
        self.blocked = self._names(gard[5:])
        self.frozen = gard[0] != 0
        # a store written before the UNDO section existed: its previous generation is a target
        self._undo = image.read(b"UNDO", b"\x01" if image.generation else b"\x00") != b"\x00"
        if self.gate is not None:
            self.gate.load_guard(image)

    def _gate(self):
        if self.gate is None:
            from .gate import Gate
            self.gate = Gate(self.knn, *self.settings)
        return self.gate

    def _restore(self):
        # back to what is saved (after a refused or failed change)
        self._apply(self.store.load())

    def _commit(self, what, why, keep_prev=False, write=None):
        # write the new state; if the flash write fails, go back to what is stored
        audl = "%s why=%s" % (str(what).replace("\n", " "), str(why).replace("\n", " "))
        try:
            if write is not None:
                gen = write(self._sections(audl))
            else:
                gen = self.store.commit(self._sections(audl), keep_prev)
        except OSError as err:
            self._load(self.store.load())
            raise OSError("could not save (%s); the last saved state is back in use" % (err,))
        self.log.write(gen, what, why)
        return gen

    def _recover_log(self, image):
        # the store is at generation G: the log's last "gen=" line must say G (rails.py fixes it)
        gen = self.store.generation
        if self.store.kept is not None or (gen and self.log.last_generation() != gen):
            from .rails import recover_log
            recover_log(self, image)

    def _refused(self, err, why):
        # a refusal by the gate or an automatic-learning cap: audited, then raised
        self.log.write(self.store.generation, "refused: %s" % err, why, "at")
        raise err

    def _learning(self, what):
        if self.frozen:
            raise Frozen("learning is frozen: %s refused (unfreeze first)" % what)

    def _embed(self, window, embedding):
        if (window is None) == (embedding is None):
            raise InputError("give exactly one of window or embedding")
        if window is not None:
            if self.model is None:
                raise InputError("no model loaded: pass an embedding (raw int8 vector)")
            return self.model.embed(window)
        return embedding

    def _change(self, what, why, passed=None):
        # the in-memory state holds a change to what is learned: gate it, then commit it
        if self.gate is not None:
            msg = self.gate.check()
            if msg:
                self._restore()
                self._refused(Refused("%s refused by the behaviour gate: %s" % (what.split(":")[0], msg)), why)
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
            raise Refused("label %r is blocked: unblock it before enrolling it" % (label,))
        emb = self._embed(window, embedding)
        new = label not in self.knn.labels
        what = self.knn.add(label, emb)
        if not self.knn.changed:
            return what
        if new and self.gate is not None:
            self.gate.new_class()
        self._change("enroll %s: %s" % (label, what), why)
        return what

    def auto_enroll(self, label, embedding, t, why="auto"):
        """An enrollment nobody asked for (labels without a person): enroll() plus the caps on
        automatic learning (gate.py), each refusal audited; t: the time in seconds (uint32)."""
        return self._gate().auto_enroll(self, label, embedding, t, why)

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
        """Save a section owned by another part (4-byte tag) in the same generation scheme."""
        self._learning(what)
        if tag in LEARNED_TAGS or len(tag) != 4:
            raise InputError("section tag %r" % (tag,))
        self.extra[tag] = bytes(data)
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
        """(threshold, how it was set: 'loo', 'inter-class', 'default' or 'manual')."""
        return self.knn.calibration()

    def audit(self):
        return self.log.lines()

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
            raise InputError("label %r is not blocked" % (label,))
        self.blocked.remove(label)
        self._commit("unblock %s" % label, why, True)

    def protect(self, label, window=None, embedding=None, factory=False, why="user"):
        """Make a window a canary (gate.py): every later change to what is learned must keep its
        answer (label, or None for unknown) and most of its margin; returns its index."""
        return self._gate().protect(self, label, self._embed(window, embedding), factory, why)

    def unprotect(self, index, why="user"):
        """Drop canary `index` (a factory canary stays)."""
        self._gate().unprotect(self, index, why)

    def canaries(self):
        """[(expected answer, least margin kept, factory?)]."""
        return [] if self.gate is None else self.gate.listing()

    def rollback(self, why="user"):
        """Undo the last change to what is learned (one step; see the module doc)."""
        from .rails import rollback
        rollback(self, why)

    undo = rollback

    def reset(self, why="user"):
        """Factory reset: forget every example, threshold, learned section, user canary and the
        previous generation. The model file is never touched; the block-list and the factory
        canaries stay. Refused while frozen."""
        from .rails import reset
        reset(self, why)
