"""The behaviour gate: canaries every change to what is learned must keep, and the caps on
automatic learning. learner.Learner makes one when it first needs it (a canary, an automatic
enrollment, or a store that holds their sections) and asks it before every commit.

Canary: an int8 embedding, the answer it must keep (a label, or None for unknown) and the least
slack it must keep. Slack, in the classifier's distances (a lower score is closer):
  expected label L   min(runner-up score - score, threshold - score): how far from another answer
  expected unknown   best score - threshold: how far from being recognised
protect() keeps slack_now * num // den as the canary's bound (gate=(num, den), default 1/4). A
change after which a canary answers otherwise, or keeps less slack than its bound, is refused by
the learner with a message naming the canary ("canary 2 (wave) would be answered tap").
Factory canaries (protect(..., factory=True)) survive reset() and cannot be unprotected.

Caps on automatic learning (Learner.auto_enroll):
  per hour  at most auto_per_hour in any 3600 s; the times are kept on flash (a reboot does not
            reset them), and a kept time later than now (a clock set back) counts as recent
  share     at most max_per_class * num // den (at least 1) examples of a class come from
            automatic enrollment (counted up, cleared when the class is forgotten); automatic
            enrollment never starts a class
  drift     the class prototype (round-half-up mean of its rows) may move at most
            threshold * num // den (squared distance, threshold before the change) from its
            anchor: the prototype as it was before the class's first automatic enrollment
Sections (bounded: every count and int is checked on load):
  CANR  "<B" n, per canary "<BBi" flags (1 factory, 2 unknown), label length, bound; label; dim bytes
  AUTO  "<B" classes, per class "<BB" automatic count, has anchor; dim bytes when it has one
  RATE  "<H" n, then n "<I" times
CANR and RATE are guard rails (undo keeps them); AUTO follows what is learned (undo restores it).
RAM: max_canaries * dim bytes + small lists; flash: the same plus 4 bytes a kept time.
"""
import struct

from .enroll import _check_int, _mean_into, check_label
from .errors import InputError, Refused, StoreError, StoreFull
from .ints import check_int8, s8

BIG = 2 ** 31 - 1


def _frac(name, f, allow_none):
    if f is None and allow_none:
        return None
    if not isinstance(f, tuple) or len(f) != 2:
        raise InputError("%s must be (num, den)%s" % (name, " or None" if allow_none else ""))
    _check_int(name + " den", f[1], 1, 64)
    _check_int(name + " num", f[0], 0, 64 * f[1])
    return f


class Gate:
    def __init__(self, knn, max_canaries=8, gate=(1, 4), per_hour=10, share=(1, 2), drift=(1, 1)):
        _check_int("auto_per_hour", per_hour, 0, 255)
        self.frac = _frac("gate", gate, False)
        self.share = _frac("auto_share", share, True)
        self.drift = _frac("auto_drift", drift, True)
        self.knn = knn
        self.cap = max_canaries
        self.per_hour = per_hour
        self.c_lab = []      # expected answer: label or None
        self.c_min = []      # least slack kept
        self.c_fac = []      # factory canary?
        self.c_rows = bytearray(max_canaries * knn.dim)
        self.times = []      # the last per_hour automatic enrollment times, oldest first
        self._thr = 0
        self.reset_learned(len(knn.labels))

    def reset_learned(self, n):
        self.auto = [0] * n
        self.anchor = [None] * n

    # -- the learner's calls that need the gate (kept here: no RAM for them until used) -------
    def protect(self, L, label, emb, factory, why):
        if label is not None:
            check_label(label)
        i = self.add_canary(label, emb, factory)
        L._commit("protect %d: %s" % (i, label), why, True)
        return i

    def unprotect(self, L, index, why):
        L._learning("unprotect")
        self.remove_canary(index)
        L._commit("unprotect %d" % index, why, True)

    def auto_enroll(self, L, label, emb, t, why):
        L._learning("auto-enrollment")
        check_label(label)
        if label in L.blocked:
            raise Refused("label %r is blocked" % (label,))
        _check_int("time", t, 0, 0xFFFFFFFF)
        msg = self.before_auto(label, emb, t)
        if msg:
            L._refused(Refused("auto-enrollment of %r: %s" % (label, msg)), why)
        knn = L.knn
        new = label not in knn.labels
        what = knn.add(label, emb)
        if not knn.changed:
            return what
        if new:
            self.new_class()
        msg = self.after_auto(label)
        if msg:
            L._start(False)
            L._refused(Refused("auto-enrollment of %r: %s" % (label, msg)), why)
        L._change("auto-enroll %s: %s" % (label, what), why, lambda: self.record_auto(label, t))
        return what

    # -- canaries -----------------------------------------------------------------------------
    def _row(self, i):
        d = self.knn.dim
        return memoryview(self.c_rows)[i * d:(i + 1) * d]

    def _slack(self, i):
        # (slack, answer) of canary i under what is learned now; slack None if the answer differs
        lab, score, margin = self.knn.classify(self._row(i))
        if lab != self.c_lab[i]:
            return None, lab
        if score is None:
            return BIG, lab
        thr = self.knn.calibration()[0]
        if lab is None:
            return score - thr, lab
        s = thr - score
        if margin is not None and margin < s:
            s = margin
        return s, lab

    def check(self):
        """None if every canary keeps its answer and bound, else a message naming the first that does not."""
        for i in range(len(self.c_lab)):
            slack, got = self._slack(i)
            name = "canary %d (%s)" % (i, "unknown" if self.c_lab[i] is None else self.c_lab[i])
            if slack is None:
                return "%s would be answered %s" % (name, "unknown" if got is None else got)
            if slack < self.c_min[i]:
                return "%s would keep a margin of %d, below its bound %d" % (name, slack, self.c_min[i])
        return None

    def add_canary(self, label, emb, factory):
        check_int8(emb, self.knn.dim, "canary", "the store holds")
        n = len(self.c_lab)
        if n >= self.cap:
            raise StoreFull("the canary set is full (%d): unprotect one first" % self.cap)
        self._row(n)[:] = emb
        self.c_lab.append(label)
        self.c_min.append(0)
        self.c_fac.append(bool(factory))
        slack, got = self._slack(n)
        if slack is None:
            self._drop(n)
            raise Refused("this window is answered %s now, not %s: a canary keeps the answer it has"
                          % ("unknown" if got is None else got, "unknown" if label is None else label))
        self.c_min[n] = min(BIG, slack) * self.frac[0] // self.frac[1]
        return n

    def _drop(self, i):
        d = self.knn.dim
        n = len(self.c_lab)
        self.c_rows[i * d:(n - 1) * d] = self.c_rows[(i + 1) * d:n * d]
        self.c_lab.pop(i)
        self.c_min.pop(i)
        self.c_fac.pop(i)

    def remove_canary(self, i):
        _check_int("canary index", i, 0, len(self.c_lab) - 1 if self.c_lab else -1)
        if self.c_fac[i]:
            raise Refused("canary %d is a factory canary: it stays" % i)
        self._drop(i)

    def listing(self):
        return [(self.c_lab[i], self.c_min[i], self.c_fac[i]) for i in range(len(self.c_lab))]

    def reset(self):
        """Factory reset: user canaries and automatic-learning counters go, factory canaries stay."""
        i = len(self.c_lab) - 1
        while i >= 0:
            if not self.c_fac[i]:
                self._drop(i)
            i -= 1
        self.reset_learned(0)

    # -- automatic learning -------------------------------------------------------------------
    def new_class(self):
        self.auto.append(0)
        self.anchor.append(None)

    def forget_class(self, c):
        self.auto.pop(c)
        self.anchor.pop(c)

    def _prototype(self, c, out):
        k = self.knn
        _mean_into(k.rows, k._class_rows(c), k.dim, out, 0, -1)

    def before_auto(self, label, emb, t):
        """None if an automatic enrollment of label at time t is within the caps, else why not."""
        check_int8(emb, self.knn.dim, "embedding", "the store holds")
        recent = 0
        for x in self.times:
            if t - x < 3600:
                recent += 1
        if recent >= self.per_hour:
            return "cap: %d automatic enrollments in the last hour (at most %d)" % (recent, self.per_hour)
        if label not in self.knn.labels:
            return "automatic enrollment never starts a class"
        c = self.knn.labels.index(label)
        if self.share is not None:
            limit = max(1, self.knn.max_per_class * self.share[0] // self.share[1])
            if self.auto[c] >= limit:
                return "cap: %d examples of %r came from automatic enrollment (at most %d)" % (self.auto[c], label, limit)
        if self.drift is not None and self.anchor[c] is None:
            a = bytearray(self.knn.dim)
            self._prototype(c, a)
            self.anchor[c] = a
        self._thr = self.knn.calibration()[0]
        return None

    def after_auto(self, label):
        """None if the class's prototype after the change is within the drift cap, else why not."""
        if self.drift is None:
            return None
        c = self.knn.labels.index(label)
        p = bytearray(self.knn.dim)
        self._prototype(c, p)
        a = self.anchor[c]
        dist = 0
        for j in range(len(p)):
            v = s8(p[j]) - s8(a[j])
            dist += v * v
        limit = self._thr * self.drift[0] // self.drift[1]
        if dist > limit:
            return "cap: %r's prototype would move %d from its anchor (at most %d)" % (label, dist, limit)
        return None

    def record_auto(self, label, t):
        c = self.knn.labels.index(label)
        if self.auto[c] < 255:
            self.auto[c] += 1
        self.times.append(t)
        while len(self.times) > self.per_hour:
            self.times.pop(0)

    # -- store sections -----------------------------------------------------------------------
    def sections(self, s):
        d = self.knn.dim
        if self.c_lab:
            parts = [struct.pack("<B", len(self.c_lab))]
            for i in range(len(self.c_lab)):
                lab = b"" if self.c_lab[i] is None else self.c_lab[i].encode()
                flags = (1 if self.c_fac[i] else 0) | (2 if self.c_lab[i] is None else 0)
                parts.append(struct.pack("<BBi", flags, len(lab), self.c_min[i]) + lab)
                parts.append(self._row(i))
            s[b"CANR"] = parts
        if self.auto:
            parts = [struct.pack("<B", len(self.auto))]
            for c in range(len(self.auto)):
                a = self.anchor[c]
                parts.append(struct.pack("<BB", self.auto[c], 0 if a is None else 1))
                if a is not None:
                    parts.append(a)
            s[b"AUTO"] = parts
        if self.times:
            s[b"RATE"] = struct.pack("<H%dI" % len(self.times), len(self.times), *self.times)

    def _parse_canaries(self, data):
        d = self.knn.dim
        if not data:
            return []
        n = data[0]
        if n > self.cap:
            raise StoreError("store holds %d canaries, the cap is %d" % (n, self.cap))
        out = []
        off = 1
        for _ in range(n):
            if off + 6 > len(data):
                raise StoreError("store canaries cut short")
            flags, ln, bound = struct.unpack_from("<BBi", data, off)
            off += 6
            if flags > 3 or off + ln + d > len(data) or (flags & 2 and ln) or bound < 0:
                raise StoreError("store canary %d is malformed" % len(out))
            lab = None
            if not flags & 2:
                try:
                    lab = check_label(bytes(data[off:off + ln]).decode())
                except (InputError, UnicodeError):
                    raise StoreError("store canary %d has a bad label" % len(out))
            out.append((lab, bound, bool(flags & 1), bytes(data[off + ln:off + ln + d])))
            off += ln + d
        if off != len(data):
            raise StoreError("store canaries section has %d extra bytes" % (len(data) - off))
        return out

    def _parse_auto(self, data, ncls):
        d = self.knn.dim
        if not data:
            return [0] * ncls, [None] * ncls
        if data[0] != ncls:
            raise StoreError("store automatic-learning counts name %d classes, the store %d" % (data[0], ncls))
        auto, anchor = [], []
        off = 1
        for _ in range(ncls):
            if off + 2 > len(data) or data[off + 1] > 1:
                raise StoreError("store automatic-learning counts are malformed")
            auto.append(data[off])
            has = data[off + 1]
            off += 2
            if has:
                if off + d > len(data):
                    raise StoreError("store anchors cut short")
                anchor.append(bytearray(data[off:off + d]))
                off += d
            else:
                anchor.append(None)
        if off != len(data):
            raise StoreError("store automatic-learning section has %d extra bytes" % (len(data) - off))
        return auto, anchor

    def _parse_rate(self, data):
        if not data:
            return []
        n = struct.unpack_from("<H", data, 0)[0] if len(data) >= 2 else -1
        if n < 0 or n > 255 or len(data) != 2 + 4 * n:
            raise StoreError("store automatic-learning times are malformed")
        return list(struct.unpack_from("<%dI" % n, data, 2))

    def check_sections(self, image, labels):
        self._parse_canaries(image.read(b"CANR"))
        self._parse_auto(image.read(b"AUTO"), len(labels))
        self._parse_rate(image.read(b"RATE"))

    def load_learned(self, image, labels):
        self.auto, self.anchor = self._parse_auto(image.read(b"AUTO"), len(labels))

    def load_guard(self, image):
        self.c_lab, self.c_min, self.c_fac = [], [], []
        for i, (lab, bound, fac, row) in enumerate(self._parse_canaries(image.read(b"CANR"))):
            self._row(i)[:] = row
            self.c_lab.append(lab)
            self.c_min.append(bound)
            self.c_fac.append(fac)
        self.times = self._parse_rate(image.read(b"RATE"))[-self.per_hour:] if self.per_hour else []
