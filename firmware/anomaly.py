"""Anomaly detection learned from "normal": a bounded k-NN detector in integer arithmetic.

Learning phase: learn(vec) for every window the board treats as normal; a reservoir of at most
`capacity` windows is kept (Algorithm R with a deterministic Lehmer PRNG), so memory is fixed
however long the phase runs. finish() ends the phase: raw feature vectors are turned into int8
by a per-feature quantiser fitted on the reservoir (embeddings are int8 already), and the
threshold is calibrated from the normal set itself. Then check(vec) -> (score, flagged).

The rule (host_tools/oracle/anomaly_ref.py is an independent numpy copy, the tests compare them):
  PRNG       x <- 40003 * x mod 1073741789, computed with Schrage's method so every value is
             a 31-bit small int on the boards (no big-int allocation).
  reservoir  window t goes to slot t while t < capacity; later j = next() % (t + 1) replaces
             slot j when j < capacity.
  quantiser  per feature c = sorted[(n-1)//2], spread = sorted[9n//10] - sorted[n//10] (>= 1),
             e = smallest in -7..30 with spread <= 24 * 2**e; q = clamp((x - c) >> e, +-127)
             (left shift by -e when e < 0). Raw features must satisfy |x| < 2**29.
  score      sum of the squared Euclidean distances to the k nearest stored int8 rows
             (kernels.sqdist: exact and identical on ulab, viper and plain; D <= 256 keeps
             each below 2**24, k <= 16 keeps the sum below 2**28). k=2 by default: anomaly-eval's
             choice on its selection windows (k=1 and 4 tie with it there; see
             host_tools/evaluate/anomaly_eval.py, which also chose level-free features).
  threshold  leave-one-out scores of the stored rows, sorted; the one at index
             (n-1)*qnum//qden times mnum//mden (at least 1, at most BIG = 2**30-1). Why: it needs no hand-set constant,
             and with the default (max, x1) no learning window would have been flagged.
  flag       score > threshold.
  drift      optional (adapt_every > 0): a window with 2 * score <= threshold is a candidate;
             every adapt_every-th candidate replaces its k-th nearest stored row (ordering rows by
             distance, then index), so the k rows the score uses follow a slow drift and the set
             keeps covering the other normal modes (replacing a random row instead cost up to 169
             false alarms on bleeding; the nearest row alone leaves the k-th behind). A flagged
             window is never learned; the threshold stays as calibrated.
Raw features without a model (the detector's raw=True input) come from features.py.
Guard rails: set `frozen`, or pass as `guard` the object that holds the board's freeze switch
(anything with a `frozen` attribute, read at every call, normally the learner.Learner); then
learn()/finish()/reset()/save() raise errors.Frozen (the learner's own) and drift adaptation
stops. reset() forgets everything learned here; Learner.reset() (factory reset) drops the saved
section too.
Behaviour gate for drift: protect(vec, flagged) keeps up to MAX_CANARIES int8 windows with the
answer they must keep; a drift step after which any of them would be answered otherwise is
undone (counted in gate_refused), so adaptation can never teach the detector to accept a
protected fault signature (nor to flag a protected normal window).
Persisted integers are bounded: the threshold is kept at most 2**31-1 (every score is below
16 * 256 * 255**2 < 2**29, so a larger threshold flags exactly the same windows), the count of
learning windows stops at 2**31-1 (learn() is refused after it), and from_bytes() checks every
field (StoreError naming it). Bad arguments raise errors.InputError.
to_bytes()/from_bytes() carry the whole state, CRC-checked; save(learner)/load(learner) keep
it as section b"ANOM" of the learner's power-loss-safe store, so it shares its generations,
rollback and audit log. Persistence and the drift canaries are in anomaly_io.py, imported only
when used.
"""
import array
import struct

from . import kernels
from .ints import check_int8, err, s8, unload

PRNG_M = 1073741789
PRNG_A = 40003
PRNG_Q = 26841      # PRNG_M // PRNG_A
PRNG_R = 21266      # PRNG_M % PRNG_A
TARGET = 24
MIN_SHIFT = -7
MAX_SHIFT = 30
RAW_LIMIT = 1 << 29
BIG = 0x3FFFFFFF    # above any distance (< 2**24); the largest small int on a board (0x7FFFFFFF was a big int)

TAG = b"ANOM"
MAGIC = b"TEAD"
VERSION = 2                     # 2 adds the canaries after the rows; version 1 still loads
MAX_THRESHOLD = 2 ** 31 - 1
MAX_SEEN = 2 ** 31 - 1
MAX_CANARIES = 4
_HEAD = "<4sBBHHHBBHHHHiiii"  # see to_bytes
_HEAD_SIZE = struct.calcsize(_HEAD)

LEARNING = 0
READY = 1


def _io():
    from . import anomaly_io
    return anomaly_io


def _io_done():
    # anomaly_io is used rarely (save, load, drift canaries): free its RAM again
    unload("anomaly_io")


def prng_next(x):
    """One step of the Lehmer generator, 31-bit intermediates only."""
    x = PRNG_A * (x % PRNG_Q) - PRNG_R * (x // PRNG_Q)
    if x < 0:
        x += PRNG_M
    return x


class Detector:
    """k-NN anomaly detector over int8 vectors of dimension dim (<= 256); see module doc."""

    def __init__(self, dim, capacity=128, k=2, quantile=(1, 1), margin=(1, 1), seed=1,
                 raw=False, adapt_every=0, guard=None):
        if not isinstance(dim, int) or dim < 1 or dim > kernels.MAX_DIST_DIM:
            raise err("InputError", "dim must be an int in 1..%d, got %r" % (kernels.MAX_DIST_DIM, dim))
        kernels.check_dist_dim(dim)  # distances exact in ulab's float32 dot
        if not isinstance(k, int) or k < 1 or k > 16:
            raise err("InputError", "k must be an int in 1..16, got %r" % (k,))
        if not isinstance(capacity, int) or capacity <= k or capacity > 4096:
            raise err("InputError", "capacity must be an int in %d..4096, got %r" % (k + 1, capacity))
        qn, qd = quantile
        mn, md = margin
        if not (0 <= qn <= qd and qd >= 1 and qd < 65536):
            raise err("InputError", "quantile must be (num, den) with 0 <= num <= den < 65536")
        if not (1 <= mn <= 64 and 1 <= md <= 64):
            raise err("InputError", "margin must be (num, den) with both in 1..64")
        if adapt_every < 0 or adapt_every > 65535:
            raise err("InputError", "adapt_every must be in 0..65535")
        self.dim = dim
        self.capacity = capacity
        self.k = k
        self.quantile = (qn, qd)
        self.margin = (mn, md)
        self.raw = bool(raw)
        self.adapt_every = adapt_every
        self.guard = guard
        self.frozen = False
        self._seed = seed
        self.rows = bytearray(capacity * dim)
        self.norms = array.array("i", [0] * capacity)
        self._out = array.array("i", [0] * capacity)
        self._best = array.array("i", [0] * k)
        self._one_class = bytearray(capacity)  # every row in class 0, for kernels.class_topk
        self._fill = bytearray(1)
        self._q = bytearray(dim)
        self.center = array.array("i", [0] * dim) if self.raw else None
        self.shift = bytearray(dim) if self.raw else None
        self._rawrows = None
        self.c_rows = None      # drift canaries' rows, allocated by the first protect()
        self.c_flag = []
        self.gate_refused = 0
        self._clear()

    # ------------------------------------------------------------ guard rails

    def _check_unfrozen(self, what):
        if self._frozen_now():
            raise err("Frozen", "anomaly detector is frozen: %s refused (unfreeze first)" % what)

    def reset(self):
        """Forget everything learned: back to an empty learning phase (same settings)."""
        self._check_unfrozen("reset")
        self._clear()

    def _clear(self):
        x = self._seed % PRNG_M
        self.state = x if x else 1
        self.seen = 0
        self.count = 0
        self.threshold = 0
        self.candidates = 0
        self.adapted = 0
        self.phase = LEARNING
        self._rawrows = None    # raw rows are allocated by the first learn()

    # ------------------------------------------------------------ learning

    def _rand(self):
        self.state = prng_next(self.state)
        return self.state

    def _check_vec(self, vec):
        # an int8 embedding, or (raw=True) dim ints with |x| < 2**29; InputError otherwise
        if not self.raw:
            check_int8(vec, self.dim, "embedding", "detector expects")
            return
        try:
            n = len(vec)
        except TypeError:
            raise err("InputError", "vector must be a sequence of %d ints, got %s" % (self.dim, type(vec).__name__))
        if n != self.dim:
            raise err("InputError", "vector has %d values, detector expects %d" % (n, self.dim))
        for i in range(self.dim):
            v = vec[i]
            if not isinstance(v, int) or v >= RAW_LIMIT or v <= -RAW_LIMIT:
                raise err("InputError", "raw feature %d = %r is not an int with |x| < 2**29" % (i, v))

    def learn(self, vec):
        """Take one normal window (raw ints when raw=True, else int8 bytes) into the reservoir."""
        self._check_unfrozen("learn")
        if self.phase != LEARNING:
            raise err("InputError", "learning phase is over: reset() to learn again")
        if self.seen >= MAX_SEEN:
            raise err("InputError", "the learning phase has taken 2**31-1 windows: finish() it")
        self._check_vec(vec)
        dim = self.dim
        t = self.seen
        if t < self.capacity:
            slot = t
        else:
            slot = self._rand() % (t + 1)
        if slot < self.capacity:
            base = slot * dim
            if self.raw:
                if self._rawrows is None:
                    # sized from range's length: one allocation, no temporary
                    self._rawrows = array.array("i", range(self.capacity * dim))
                r = self._rawrows
                for i in range(dim):
                    r[base + i] = vec[i]
            else:
                self.rows[base:base + dim] = vec
            if slot >= self.count:
                self.count = slot + 1
        self.seen = t + 1

    def finish(self):
        """End the learning phase: fit the quantiser (raw), compute norms and the threshold."""
        self._check_unfrozen("finish")
        if self.phase != LEARNING:
            raise err("InputError", "learning phase is already over")
        n = self.count
        if n <= self.k:
            raise err("InputError", "need more than k=%d normal windows, have %d" % (self.k, n))
        dim = self.dim
        if self.raw:
            self._fit_quantiser(n)
            r = self._rawrows
            for s in range(n):
                base = s * dim
                self._quantise_into(r, base, self.rows, base)
            self._rawrows = None
        for s in range(n):
            self.norms[s] = kernels.sumsq(memoryview(self.rows)[s * dim:(s + 1) * dim], dim)
        self.threshold = min(self._calibrate(n), MAX_THRESHOLD)
        self.phase = READY

    def _fit_quantiser(self, n):
        dim = self.dim
        r = self._rawrows
        lo_i = n // 10
        hi_i = (9 * n) // 10
        mid_i = (n - 1) // 2
        col = [0] * n
        for f in range(dim):
            for s in range(n):
                col[s] = r[s * dim + f]
            col.sort()
            spread = col[hi_i] - col[lo_i]
            if spread < 1:
                spread = 1
            e = MIN_SHIFT
            while e < MAX_SHIFT:
                if e >= 0:
                    if spread <= TARGET << e:
                        break
                elif spread << -e <= TARGET:
                    break
                e += 1
            self.center[f] = col[mid_i]
            self.shift[f] = e & 0xFF

    def _quantise_into(self, src, off, dst, doff):
        c = self.center
        sh = self.shift
        for f in range(self.dim):
            d = src[off + f] - c[f]
            e = s8(sh[f])
            if e >= 0:
                d >>= e
            else:
                if d > 127:
                    d = 127
                elif d < -127:
                    d = -127
                d <<= -e
            if d > 127:
                d = 127
            elif d < -127:
                d = -127
            dst[doff + f] = d & 0xFF

    def _ksum(self, n, skip, q=None, qn=0):
        """Sum of the k smallest distances from q (sumsq qn) to the first n rows, leaving out
        row `skip` (-1 for none); q None: of self._out[:n], distances already computed."""
        # n > k rows (finish() and from_bytes() see to it), so all k are found
        b = kernels.ANOMALY
        if q is None:
            b.class_topk(self._out, self._one_class, n, self.k, 1, self._best, self._fill, skip)
        else:
            # one call: the backend may abandon rows that cannot enter the k nearest (viper) or
            # keep the distances as floats (ulab); self._out is scratch then
            b.knn_topk(q, qn, self.rows, self.norms, n, self.dim, self._one_class, self.k, 1, self._best,
                       self._fill, skip, self._out)
        best = self._best
        t = 0
        for i in range(self.k):
            t += best[i]
        return t

    def _kth_index(self):
        """Index of the k-th smallest of self._out[:count]; ties go to the lower index."""
        out = self._out
        n = self.count
        k = self.k
        best = -1
        for _ in range(k):
            # next smallest (value, index) pair above the previous one
            j = -1
            for i in range(n):
                v = out[i]
                if best >= 0 and (v < out[best] or (v == out[best] and i <= best)):
                    continue
                if j < 0 or v < out[j]:
                    j = i
            best = j
        return best

    def _calibrate(self, n):
        dim = self.dim
        mv = memoryview(self.rows)
        loo = [0] * n
        for s in range(n):
            loo[s] = self._ksum(n, s, mv[s * dim:(s + 1) * dim], self.norms[s])
        loo.sort()
        qn, qd = self.quantile
        mn, md = self.margin
        t = loo[((n - 1) * qn) // qd] * mn // md
        # above BIG no score (< 2**28) can reach it: clamped so that it stays an int32 on save
        return BIG if t > BIG else t if t > 0 else 1

    # ------------------------------------------------------------ scoring

    def to_int8(self, vec):
        """The int8 query (an internal buffer, valid until the next call) for vec."""
        self._check_vec(vec)
        if self.raw:
            self._quantise_into(vec, 0, self._q, 0)
        else:
            self._q[:] = vec
        return self._q

    def score(self, vec):
        """Sum of squared distances of vec to its k nearest normal rows (an int)."""
        if self.phase != READY:
            raise err("InputError", "detector is still learning: call finish() first")
        q = self.to_int8(vec)
        b = kernels.ANOMALY
        qn = b.sumsq(q, self.dim)
        if self.adapt_every:
            # drift adaptation reads every distance (_kth_index): compute them all
            b.sqdist(q, qn, self.rows, self.norms, self.count, self.dim, self._out)
            return self._ksum(self.count, -1)
        return self._ksum(self.count, -1, q, qn)

    def check(self, vec):
        """(score, flagged) for one window; adapts to slow drift when enabled and allowed."""
        s = self.score(vec)
        flagged = s > self.threshold
        if self.adapt_every and not flagged and 2 * s <= self.threshold and not self._frozen_now():
            self.candidates += 1
            if self.candidates >= self.adapt_every:
                self.candidates = 0
                # the k-th nearest stored row moves to this window: the set follows a slow drift
                # (the k rows the score uses travel with it) and keeps covering other normal modes
                self._adapt(self._kth_index())
        return s, flagged

    def _adapt(self, j):
        # row j becomes the query self._q, unless that changes a canary's answer (then undone)
        dim = self.dim
        base = j * dim
        old = bytes(self.rows[base:base + dim])
        old_norm = self.norms[j]
        self.rows[base:base + dim] = self._q
        self.norms[j] = kernels.sumsq(self._q, dim)
        if self.c_flag and not _io().canaries_hold(self):
            self.rows[base:base + dim] = old
            self.norms[j] = old_norm
            self.gate_refused += 1
            return
        self.adapted += 1

    def protect(self, vec, flagged):
        """A canary for drift adaptation: vec must keep being answered `flagged` (True: an anomaly,
        e.g. a known fault; False: normal). Refused unless that is its answer now; at most
        MAX_CANARIES. Kept by to_bytes()/save(). Allowed while frozen (it only restricts)."""
        _io().protect(self, vec, flagged)

    def _frozen_now(self):
        return self.frozen or (self.guard is not None and bool(getattr(self.guard, "frozen", False)))

    # ------------------------------------------------------------ persistence (anomaly_io.py)

    def to_bytes(self):
        """The detector's state (settings, quantiser, normal rows, threshold, canaries) with a CRC32."""
        # the buffer first, in one piece, then the code that fills it (its import fragments a small heap)
        d = self.dim
        nc = len(self.c_flag)
        out = bytearray(_HEAD_SIZE + (5 * d if self.raw else 0) + self.count * d + 1 + nc + nc * d + 4)
        try:
            return _io().to_bytes(self, out)
        finally:
            _io_done()

    @classmethod
    def from_bytes(cls, data, guard=None, seed=1):
        """A READY detector from to_bytes() output (version 1 or 2); StoreError naming what is
        wrong otherwise (every field is checked: struct.pack on MicroPython wraps silently)."""
        try:
            return _io().from_bytes(cls, data, guard, seed)
        finally:
            _io_done()

    def save(self, learner, why="user"):
        """Keep this state as section TAG of the learner's store (learner.Learner.set_extra): a new
        generation with an audit line, refused while frozen; returns the generation."""
        self._check_unfrozen("save")
        import gc
        gc.collect()  # the rows are copied twice on the way to flash: room in one piece for them
        learner.set_extra(TAG, self.to_bytes(), "anomaly rows=%d threshold=%d" % (self.count, self.threshold), why)
        return learner.store.generation

    @classmethod
    def load(cls, learner):
        """The detector kept by `learner` (guarded by its freeze switch), or None if it has none."""
        data = learner.extra.get(TAG)
        if data is None:
            return None
        return cls.from_bytes(data, learner)
