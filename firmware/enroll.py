"""Few-shot classes by nearest neighbours over stored int8 embeddings, with an "unknown" answer.

    e = Enroller(dim=32, k=3)
    e.add("wave", emb)                       # emb: dim int8 (bytes, bytearray, memoryview, array('b'))
    label, score, margin = e.classify(emb)   # label None = unknown
This module holds the examples and does the search; learner.py adds persistence and guard rails.

Scores are squared Euclidean distances between int8 vectors (kernels.sqdist), so lower is
closer. A class's score is the floor mean of its k smallest distances (k capped by the class's
size) in "knn" mode, or the distance to its prototype (element-wise round-half-up mean of its
examples) in "prototype" mode. The answer is the class with the lowest score, unless that score
is over the threshold. margin = runner-up score - best score (None with one class).

Threshold (recomputed on every change unless set by hand):
  "loo"          each example scored against the rest of its own class (leave-one-out), in
                 classes of 2 or more; T = unknown_pct % (default 150: 3/2) of the 90th
                 percentile of those scores (models carry the percent chosen on validation)
  "model"        every class has one example and the model gives unknown_dist (a distance
                 chosen on its validation data): T = unknown_dist
  "inter-class"  every class has one example, no unknown_dist: T = half the smallest distance
                 between classes
  "default"      a single example, no unknown_dist: T = 127**2 (embeddings are ~127 long: about
                 60 degrees apart)
  "manual"       set_threshold(value)
Memory: dim + 5 bytes per example (row, label index, norm) plus a 4-byte scratch distance.
"""
import array

from . import kernels
from .ints import check_int8, err, s8

MAX_LABEL = 16
MAX_CAPACITY = 65535        # examples: the store keeps the count as a uint16
MAX_THRESHOLD = 2 ** 31 - 1  # a manual threshold is kept as an int32


def check_label(label):
    """label, if it is a str of 1..MAX_LABEL bytes without control characters; else InputError."""
    if not isinstance(label, str):
        raise err("InputError", "label must be a str, got %s" % type(label).__name__)
    if not label or len(label.encode()) > MAX_LABEL:
        raise err("InputError", "label must be 1..%d bytes, got %d" % (MAX_LABEL, len(label.encode())))
    for c in label:
        if c < " " or c == "\x7f":
            raise err("InputError", "label %r has a control character" % (label,))
    return label


def _check_int(name, v, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
        raise err("InputError", "%s must be an int in %d..%d, got %r" % (name, lo, hi, v))


class Enroller:
    def __init__(self, dim, k=3, mode="knn", capacity=200, max_classes=16, max_per_class=20,
                 policy="replace", unknown_pct=150, unknown_dist=None):
        _check_int("embedding size", dim, 1, kernels.MAX_DIST_DIM)
        kernels.check_dist_dim(dim)  # every distance an integer below 2**24: exact in ulab's float32 dot
        if mode not in ("knn", "prototype"):
            raise err("InputError", "mode must be 'knn' or 'prototype'")
        if policy not in ("replace", "refuse"):
            raise err("InputError", "policy must be 'replace' or 'refuse'")
        _check_int("k", k, 1, 32)
        _check_int("capacity", capacity, 1, MAX_CAPACITY)
        _check_int("max_classes", max_classes, 1, 255)
        _check_int("max_per_class", max_per_class, 1, MAX_CAPACITY)
        _check_int("unknown_pct", unknown_pct, 1, 1000)
        if unknown_dist is not None:
            _check_int("unknown_dist", unknown_dist, 0, MAX_THRESHOLD)
        self.dim = dim
        self.k = k
        self.mode = mode
        self.capacity = capacity
        self.max_classes = max_classes
        self.max_per_class = max_per_class
        self.policy = policy
        self.unknown_pct = unknown_pct
        self.unknown_dist = unknown_dist
        self.labels = []
        self.count = 0
        self.rows = bytearray(capacity * dim)
        self.lab = bytearray(capacity)
        self.norms = array.array("i", bytes(4 * capacity))
        self.dist = array.array("i", bytes(4 * max(capacity, max_classes)))
        self.protos = bytearray(max_classes * dim) if mode == "prototype" else None
        self.pnorms = array.array("i", bytes(4 * max_classes)) if mode == "prototype" else None
        self._top = array.array("i", bytes(4 * (capacity // 10 + 2)))
        self._topk = array.array("i", bytes(4 * k * max_classes))
        self._fill = bytearray(max_classes)
        self._sc = array.array("i", bytes(4 * (max_classes + 1)))  # class_best: the scores + the runner-up's
        self._q = bytearray(dim)
        self._one = array.array("i", [0])
        self.manual = None
        self._threshold = 127 * 127
        self._source = "default"
        self._dirty = True
        self.nearest = None
        self.changed = False

    # -- what is stored ----------------------------------------------------------------------
    def counts(self):
        """[(label, number of examples)] in enrollment order."""
        n = [0] * len(self.labels)
        for i in range(self.count):
            n[self.lab[i]] += 1
        return [(self.labels[c], n[c]) for c in range(len(self.labels))]

    def _class_rows(self, c):
        return [i for i in range(self.count) if self.lab[i] == c]

    # -- learning ------------------------------------------------------------------------------
    def check_add(self, label, emb):
        """Raise (changing nothing) if add(label, emb) cannot be done."""
        check_label(label)
        check_int8(emb, self.dim, "embedding", "the store holds")
        if label not in self.labels:
            if len(self.labels) >= self.max_classes:
                raise err("StoreFull", "class cap reached (%d classes): forget one first" % self.max_classes)
            if self.count >= self.capacity:
                raise err("StoreFull", "store full (%d examples): forget a class first" % self.capacity)
        else:
            c = self.labels.index(label)
            n = len(self._class_rows(c))
            if n >= self.max_per_class and self.policy == "refuse":
                raise err("StoreFull", "%r has %d examples, the cap (policy 'refuse')" % (label, n))
            if n < self.max_per_class and self.count >= self.capacity:
                raise err("StoreFull", "store full (%d examples)" % self.capacity)

    def add(self, label, emb):
        """Store one example; returns a short text of what was done (e.g. what it replaced).
        self.changed says whether anything changed (policy "replace" may keep the old examples)."""
        self.check_add(label, emb)
        self.changed = True
        if label not in self.labels:
            self.labels.append(label)
        c = self.labels.index(label)
        members = self._class_rows(c)
        if len(members) >= self.max_per_class:
            # policy "replace": drop the most redundant of the class plus the newcomer, i.e. the
            # one whose nearest same-class neighbour is closest: coverage of the class shrinks least
            victim = self._most_redundant(members, emb)
            if victim is None:
                self.changed = False
                return "kept %d examples of %r: the new one was the most redundant" % (len(members), label)
            self._put(victim, c, emb)
            self._dirty = True
            return "replaced example %d of %r (the most redundant)" % (victim, label)
        self._put(self.count, c, emb)
        self.count += 1
        self._dirty = True
        return "added example %d of %r" % (self.count - 1, label)

    def _put(self, i, c, emb):
        d = self.dim
        self.rows[i * d:(i + 1) * d] = emb
        self.lab[i] = c
        self.norms[i] = kernels.sumsq(self._row(i), d)

    def _most_redundant(self, members, emb):
        # the member whose nearest neighbour (in its class, newcomer included) is closest, or
        # None when the newcomer itself is the most redundant
        d = self.dim
        q = self._q
        q[:] = emb
        kernels.sqdist(q, kernels.sumsq(q, d), self.rows, self.norms, self.count, d, self.dist)
        to_new = [self.dist[i] for i in members]
        best, best_nn = None, min(to_new)
        for a in range(len(members)):
            i = members[a]
            kernels.sqdist(self._row(i), self.norms[i], self.rows, self.norms, self.count, d, self.dist)
            nn = to_new[a]
            for j in members:
                if j != i and self.dist[j] < nn:
                    nn = self.dist[j]
            if nn < best_nn:
                best, best_nn = i, nn
        return best

    def _row(self, i):
        return memoryview(self.rows)[i * self.dim:(i + 1) * self.dim]

    def remove_label(self, label):
        """Forget every example of label; InputError if it is not enrolled."""
        if label not in self.labels:
            raise err("InputError", "no enrolled label %r" % (label,))
        c = self.labels.index(label)
        d = self.dim
        w = 0
        for i in range(self.count):
            k = self.lab[i]
            if k == c:
                continue
            if w != i:
                self.rows[w * d:(w + 1) * d] = self.rows[i * d:(i + 1) * d]
                self.norms[w] = self.norms[i]
            self.lab[w] = k - 1 if k > c else k
            w += 1
        self.count = w
        self.labels.pop(c)
        self._dirty = True

    def clear(self):
        self.labels = []
        self.count = 0
        self._dirty = True

    # -- the search ----------------------------------------------------------------------------
    def scores(self, emb):
        """Per-class scores of an embedding: a list aligned with self.labels."""
        check_int8(emb, self.dim, "embedding", "the store holds")
        self.calibration()
        self._search(emb)
        return [self._sc[c] for c in range(len(self.labels))]

    def _search(self, emb):
        # the per-class scores of emb into self._sc, the runner-up's at [ncls]; returns the best
        # class. The caller calibrates first (prototypes). Kept narrow, as classify: a Python
        # function whose locals and stack pass 11 words takes its frame from the heap at every call
        if self.mode == "prototype":
            kernels.sqdist(emb, kernels.sumsq(emb, self.dim), self.protos, self.pnorms, len(self.labels), self.dim,
                           self.dist)
            return class_best(self.dist, None, 1, len(self.labels), self._sc)
        return (kernels.CLASSIFY.knn_best or knn_best)(self, emb, None, -1)

    def classify(self, emb):
        """(label or None for unknown, score, margin to the runner-up or None)."""
        check_int8(emb, self.dim, "embedding", "the store holds")
        self.nearest = None
        if not self.labels:
            return None, None, None
        if self._dirty:
            self.recalibrate()
        best = self._search(emb)
        score = self._sc[best]
        runner = self._sc[len(self.labels)]
        self.nearest = self.labels[best]
        margin = None if runner < 0 else runner - score
        if score > self._threshold:
            return None, score, margin
        return self.labels[best], score, margin

    # -- calibration ---------------------------------------------------------------------------
    def set_threshold(self, value):
        """Fix the unknown threshold by hand (an int in 0..2**31-1), or None to calibrate it."""
        if value is not None:
            _check_int("threshold", value, 0, MAX_THRESHOLD)
        self.manual = value
        self._dirty = True

    def calibration(self):
        """(threshold, how it was set), recomputed first if anything changed."""
        if self._dirty:
            self.recalibrate()
        return self._threshold, self._source

    def recalibrate(self):
        """Recompute prototypes and the threshold from what is stored now."""
        self._dirty = False
        d = self.dim
        ncls = len(self.labels)
        if self.mode == "prototype":
            self._prototypes()
        if self.manual is not None:
            self._threshold, self._source = self.manual, "manual"
            return
        # leave-one-out scores of examples in classes of 2 or more; their 90th percentile is
        # the m-th largest, so only the m largest are kept (no list of every score)
        sizes = [n for _, n in self.counts()]
        n = 0
        for k in sizes:
            if k >= 2:
                n += k
        if n:
            m = n - ((9 * n + 9) // 10 - 1)
            top = self._top
            filled = 0
            # the m largest scores are the m smallest of their negatives
            if self.mode == "prototype":
                for c in range(ncls):
                    if sizes[c] >= 2:
                        members = self._class_rows(c)
                        for i in members:
                            filled = kernels.topk_insert(top, 0, filled, m, -self._loo_proto(i, members))
            else:
                # row by row, not class by class: no list of a class's rows stays live across
                # the GCs its searches cause (it split the holes a ulab search needs)
                search = kernels.CLASSIFY.knn_best or knn_best
                for i in range(self.count):
                    c = self.lab[i]
                    if sizes[c] >= 2:
                        search(self, self._row(i), self.norms[i], i)
                        filled = kernels.topk_insert(top, 0, filled, m, -self._sc[c])
            q = -top[m - 1]
            # floor(q * pct / 100) without the product: small ints on a board
            p = self.unknown_pct
            self._threshold, self._source = q // 100 * p + q % 100 * p // 100, "loo"
        elif ncls and self.unknown_dist is not None:
            self._threshold, self._source = self.unknown_dist, "model"
        elif ncls >= 2:
            nearest = None
            for i in range(self.count):
                kernels.sqdist(self._row(i), self.norms[i], self.rows, self.norms, self.count, d, self.dist)
                for j in range(self.count):
                    if self.lab[j] != self.lab[i] and (nearest is None or self.dist[j] < nearest):
                        nearest = self.dist[j]
            self._threshold, self._source = nearest // 2, "inter-class"
        else:
            self._threshold, self._source = 127 * 127, "default"

    def _prototypes(self):
        d = self.dim
        p = self.protos
        for c in range(len(self.labels)):
            members = self._class_rows(c)
            _mean_into(self.rows, members, d, p, c * d, -1)
            self.pnorms[c] = kernels.sumsq(memoryview(p)[c * d:(c + 1) * d], d)

    def _loo_proto(self, i, members):
        # distance from example i to the prototype of the rest of its class
        d = self.dim
        q = self._q
        _mean_into(self.rows, members, d, q, 0, i)
        one = self._one
        one[0] = kernels.sumsq(q, d)
        kernels.sqdist(self._row(i), self.norms[i], q, one, 1, d, self.dist)
        return self.dist[0]


def knn_best(e, q, qn, skip):
    """The Enroller e's k-NN search: knn_topk of q (sumsq qn, or None) over its store, row skip
    left out, then class_best into e._sc; returns the best class. A backend may have its own
    (kernels_viper: one machine-code call, no Python frame, which this many arguments would
    take from the heap at every call)."""
    b = kernels.CLASSIFY
    b.knn_topk(q, qn, e.rows, e.norms, e.count, e.dim, e.lab, e.k, len(e.labels), e._topk, e._fill, skip, e.dist)
    return class_best(e._topk, e._fill, e.k, len(e.labels), e._sc)


def class_best(top, fill, k, ncls, sc):
    """The scores of a search: sc[c] = floor mean of top[c*k:c*k+fill[c]] for c < ncls (fill
    None: one value each, at top[c]), sc[ncls] = the smallest score of the classes but the best
    (-1 if none); returns the best class, the first with the smallest score. Every fill is at
    least 1."""
    best = runner = -1
    for c in range(ncls):
        n = fill[c] if fill is not None else 1
        v = top[c * k]
        for j in range(c * k + 1, c * k + n):
            v += top[j]
        if n != 1:
            v //= n
        sc[c] = v
        if best < 0 or v < sc[best]:
            if best >= 0:
                runner = sc[best]
            best = c
        elif runner < 0 or v < runner:
            runner = v
    sc[ncls] = runner
    return best


def _mean_into(rows, members, d, out, off, skip):
    # element-wise round-half-up mean of the member rows (except skip) into out[off:off+d]
    n = len(members) - (1 if skip in members else 0)
    for j in range(d):
        s = 0
        for i in members:
            if i != skip:
                s += s8(rows[i * d + j])
        out[off + j] = ((2 * s + n) // (2 * n)) & 0xFF
