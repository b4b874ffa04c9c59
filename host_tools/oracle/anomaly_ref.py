"""Independent numpy reference of the on-device anomaly detector (firmware/anomaly.py).

It is the oracle the firmware is checked against, so it imports nothing from firmware/.
The rule it implements, all in integers:

  PRNG       Lehmer generator x <- 40003 * x mod 1073741789 (Schrage's method on the board:
             every intermediate fits a 31-bit small int), seed forced into 1..m-1.
  reservoir  window t (0-based) of the learning phase goes to slot t while t < cap; after
             that j = next() % (t + 1) and it replaces slot j when j < cap (Algorithm R).
  quantiser  (raw integer features only) fitted on the reservoir at the end of learning:
             per feature c = sorted[(n-1)//2], spread = sorted[(9n)//10] - sorted[n//10]
             (at least 1); e = the smallest integer in -7..30 with spread <= TARGET * 2**e;
             q = clamp((x - c) >> e, -127, 127) for e >= 0, clamp((x - c) << -e, ...) for e < 0.
  score      sum of the squared Euclidean distances of the int8 query to its k nearest rows.
  threshold  leave-one-out scores of the n stored rows (needs n > k), sorted;
             t = loo[((n-1) * qnum) // qden] * mnum // mden, at least 1, at most BIG = 2**30 - 1.
  flag       score > threshold.
  drift      (optional, adapt_every > 0) a scored window with score * 2 <= threshold is a
             drift candidate; every adapt_every-th candidate replaces its k-th nearest stored
             row (rows ordered by distance, then index).
             Flagged windows are never learned. The threshold is not recomputed.
"""
import numpy as np

from .errors import DataError

PRNG_M = 1073741789
PRNG_A = 40003
TARGET = 24
MIN_SHIFT = -7
MAX_SHIFT = 30
BIG = (1 << 30) - 1   # the largest threshold (a small int on a board)


def prng_next(x):
    return (PRNG_A * x) % PRNG_M


def prng_seed(seed):
    x = seed % PRNG_M
    return x if x else 1


def fit_quantiser(raw):
    """(center, shift) int arrays from an (n, F) integer array of normal feature vectors."""
    raw = np.asarray(raw, dtype=np.int64)
    n = raw.shape[0]
    s = np.sort(raw, axis=0)
    center = s[(n - 1) // 2]
    spread = np.maximum(s[(9 * n) // 10] - s[n // 10], 1)
    shift = np.empty(raw.shape[1], dtype=np.int64)
    for f in range(raw.shape[1]):
        e = MIN_SHIFT
        while e < MAX_SHIFT and not _fits(int(spread[f]), e):
            e += 1
        shift[f] = e
    return center, shift


def _fits(spread, e):
    if e >= 0:
        return spread <= TARGET << e
    return spread << -e <= TARGET


def quantise(raw, center, shift):
    """int8 array (..., F) of integer features (..., F)."""
    d = np.asarray(raw, dtype=np.int64) - center
    d = np.clip(d, -(1 << 40), 1 << 40)
    pos = shift >= 0
    out = np.where(pos, d >> np.where(pos, shift, 0), d << np.where(pos, 0, -shift))
    return np.clip(out, -127, 127).astype(np.int8)


def kth_distances(queries, rows, k):
    """Sum of squared distances of each query (m, D) int8 to its k nearest rows of rows (n, D)."""
    q = np.asarray(queries, dtype=np.int64)
    r = np.asarray(rows, dtype=np.int64)
    d = ((q[:, None, :] - r[None, :, :]) ** 2).sum(axis=2)
    return np.sort(d, axis=1)[:, :k].sum(axis=1)


def loo_threshold(rows, k, qnum, qden, mnum, mden):
    r = np.asarray(rows, dtype=np.int64)
    n = r.shape[0]
    if n <= k:
        raise DataError("need more than k=%d normal rows, have %d" % (k, n))
    d = ((r[:, None, :] - r[None, :, :]) ** 2).sum(axis=2)
    d[np.arange(n), np.arange(n)] = np.iinfo(np.int64).max
    loo = np.sort(np.sort(d, axis=1)[:, :k].sum(axis=1))
    t = int(loo[((n - 1) * qnum) // qden]) * mnum // mden
    t = min(t, BIG)  # scores stay below 2**28: a larger threshold flags the same, and is saved as int32
    return max(t, 1)


class Detector:
    """Same behaviour as firmware/anomaly.Detector, in numpy (slow paths kept obvious)."""

    def __init__(self, dim, capacity=128, k=2, quantile=(1, 1), margin=(1, 1), seed=1,
                 raw=False, adapt_every=0):
        self.dim = dim
        self.capacity = capacity
        self.k = k
        self.quantile = quantile
        self.margin = margin
        self.raw = raw
        self.adapt_every = adapt_every
        self.state = prng_seed(seed)
        self.seen = 0
        self.slots = []
        self.center = None
        self.shift = None
        self.rows = None
        self.threshold = None
        self.candidates = 0

    def _rand(self):
        self.state = prng_next(self.state)
        return self.state

    def learn(self, vec):
        v = [int(x) for x in vec]
        t = self.seen
        if t < self.capacity:
            self.slots.append(v)
        else:
            j = self._rand() % (t + 1)
            if j < self.capacity:
                self.slots[j] = v
        self.seen = t + 1

    def finish(self):
        raw = np.array(self.slots, dtype=np.int64)
        if self.raw:
            self.center, self.shift = fit_quantiser(raw)
            self.rows = quantise(raw, self.center, self.shift)
        else:
            self.rows = raw.astype(np.int8)
        self.threshold = loo_threshold(self.rows, self.k, self.quantile[0], self.quantile[1],
                                       self.margin[0], self.margin[1])

    def to_int8(self, vec):
        if self.raw:
            return quantise(np.asarray(vec, dtype=np.int64), self.center, self.shift)
        return np.asarray(vec, dtype=np.int8)

    def score(self, vec):
        q = self.to_int8(vec)
        return int(kth_distances(q[None, :], self.rows, self.k)[0])

    def check(self, vec):
        """(score, flagged), with drift adaptation as in the firmware."""
        q = self.to_int8(vec)
        d = ((self.rows.astype(np.int64) - q.astype(np.int64)) ** 2).sum(axis=1)
        s = int(np.sort(d)[:self.k].sum())
        flagged = s > self.threshold
        if self.adapt_every and not flagged and s * 2 <= self.threshold:
            self.candidates += 1
            if self.candidates >= self.adapt_every:
                self.candidates = 0
                order = np.lexsort((np.arange(len(d)), d))   # by distance, then index
                self.rows[int(order[self.k - 1])] = q
        return s, flagged
