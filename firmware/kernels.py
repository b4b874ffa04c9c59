"""Integer kernels for the embedding model and the nearest-neighbour search.

One arithmetic, three backends, the same integers everywhere:
  ulab   -- when `ulab` imports (boards built with it);
  viper  -- on MicroPython without ulab (@micropython.viper machine code);
  plain  -- everywhere else (CPython simulation); select(name) forces any of them.
Each step can have its own backend (the fastest differs by board and step, see `make bench`):
  embed    dense, conv1d, pools, l2norm              kernels.EMBED
  classify sumsq, sqdist, class_topk, knn_topk       kernels.CLASSIFY (the functions below;
           and knn_best: the Enroller's whole search in one call, or None for enroll.knn_best)
  anomaly  the Detector's calls                      kernels.ANOMALY
At import the board's profile (/board.json, section "backends": {step: name}) chooses them, a
step it leaves out (or a backend that cannot run here) gets the best available;
select(name, step) changes one step, select(name) all three.

The rule every backend implements (x, W, y int8; b int32; k_i in 0..24):
  dense   acc_i = b_i + sum_j W[i,j] * x[j]
          y_i   = clamp((acc_i + r_i) >> k_i, lo, 127)   r_i = 2**(k_i-1) if k_i else 0
          ">>" is a floor shift; lo = 0 when a ReLU follows (fused), else -128.
  l2norm  s = sum y_i**2, n = isqrt(s);  z_i = floor((254*y_i + n) / (2*n)),  z = 0 if s == 0
          (z has Euclidean norm ~127: round-half-up of 127*y_i/n).
  sqdist  d = sum (a_i - b_i)**2 over int8 vectors of dimension D <= 256.
  conv1d  x channel-major (C, L), W (O, C, K) int8, stride S, valid padding:
          acc[o,t] = b_o + sum_c sum_k W[o,c,k] * x[c, t*S + k],  L_out = (L - K)//S + 1,
          y[o,t] = clamp((acc[o,t] + r_o) >> k_o, lo, 127) as dense, output channel-major.
  maxpool per channel the max over non-overlapping windows of P values, L_out = L // P.
  avgpool per channel floor((2*s + P) / (2*P)) for each window sum s (mean, half up).
  topk    per class, the k smallest distances in ascending order (bounded insertion sort).
  best    per class the floor mean of its top-k; the best class is the first smallest.

Why no rounding can differ between float32 (ulab on ESP32/RP2040), float64 and int32:
  - the model writer and loader require 128*sum_j|W[i,j]| + |b_i| + r_i < 2**24 for every row,
    so every partial sum of a row, in any order, is an integer below 2**24: exact in float32,
    and far inside viper's 32-bit int;
  - scaling by 2**-k is exact in binary floats and floor() of an exact value is exact;
  - l2norm: s <= D*128**2 < 2**24; the quotient a/b (|a| < 2**16, b = 2n) is either an integer
    (exact) or at least 1/b away from one, while float32 rounding moves it by under 2**-8/b,
    so floor() of the rounded quotient equals the exact floor;
  - sqdist: D*255**2 < 2**24 for D <= 256, computed as |a|**2 + |b|**2 - 2*a.b in ulab.
  - conv1d: each out channel is a dense row of C*K weights under the same bound, so every
    partial sum in any order is an integer below 2**24 (ulab adds one dot per kernel tap);
  - maxpool only compares; avgpool: |2*s + P| <= 257*P < 2**24 (P <= 4096) is exact, and the
    quotient q = a/(2P) is an integer (exact) or >= 1/(2P) >= 2**-13 from one, while float32
    rounding of |q| <= 128.5 moves it by at most 2**-17: floor() cannot differ.
"""
import sys

from .ints import isqrt  # noqa: F401  (kernels.isqrt: the l2norm rule's square root)
from .ints import topk_insert  # noqa: F401  (one step of class_topk, for values found one at a time)
from .ints import unload

DENSE_BOUND = 1 << 24
MAX_SHIFT = 24
MAX_DIST_DIM = 256
STEPS = ("embed", "classify", "anomaly")
PROFILE = "/board.json"

# one backend module per step: embed (dense, conv1d, pools, l2norm), classify (the Enroller's
# sumsq, sqdist, class_topk, knn_topk) and anomaly (the Detector's); select() sets them
EMBED = CLASSIFY = ANOMALY = None  # set below: placeholders until the first use or select()
_backend = None  # the classify backend: what the step-less functions below use
name = None      # the embed backend's name (all three when select() was given one name)
names = {}       # step -> backend name


def check_dist_dim(dim):
    """Refuse an embedding size whose distances could round in ulab's float32 dot.

    ulab computes d = (|x|^2 + |r|^2) - 2*(x.r) for int8 x, r of length D: every value on the
    way is an integer, and is exact in float32 when its magnitude is at most 2**24:
      the dot x.r and each partial sum of it: |.| <= D*128*128 = D*2**14
      |x|^2 + |r|^2:                                <= 2*D*128**2 = D*2**15
      2*(x.r):                                      <= D*2**15
      d itself (the exact difference of two exact floats, so the subtraction is exact when d
      is representable):                            0 <= d <= D*255**2
    D*2**15 <= 2**24 needs D <= 512 and D*255**2 < 2**24 needs D <= 258: MAX_DIST_DIM = 256
    keeps both (and float64 is exact a fortiori). The Enroller and the Detector call this."""
    if dim < 1 or dim > MAX_DIST_DIM or dim * 65025 >= DENSE_BOUND:
        raise ValueError("embedding size %d not in 1..%d" % (dim, MAX_DIST_DIM))
    return dim


def available():
    """Backends that can run in this interpreter, best first. Probing viper loads its code; the
    probe keeps it only when viper is the first choice (a ulab board selecting ulab must not hold
    viper's ~3.5 KB of machine code too)."""
    have = []
    if _module("ulab") is not None:
        have.append("ulab")
    if sys.implementation.name == "micropython":
        loaded = __name__ + "_viper" in sys.modules
        if _module("viper") is not None:
            have.append("viper")
            if have[0] != "viper" and not loaded:
                unload("kernels_viper")
    have.append("plain")
    return have


def _module(backend):
    # the backend's module, loaded now if need be; None if it cannot run here
    try:
        if backend == "ulab":
            from ulab import numpy  # noqa: F401  (built into the firmware: nothing to unload)
            from . import kernels_ulab as mod
        elif backend == "viper" and sys.implementation.name == "micropython":
            # a port without the native emitter (or an .mpy of another ABI) cannot load it
            from . import kernels_viper as mod
        elif backend == "plain":
            from . import kernels_plain as mod
        else:
            return None
    except (ImportError, SyntaxError, ValueError):
        return None
    return mod


def select(backend, step=None):
    """Switch the kernels of `step` ('embed', 'classify', 'anomaly'; None: all three) to
    `backend` ('ulab', 'viper' or 'plain'); returns its name. Loads only that backend's code."""
    global EMBED, CLASSIFY, ANOMALY, _backend, name
    mod = _module(backend) if step is None or step in STEPS else None
    if mod is None:
        raise ValueError("backend %r for step %r: have %s for %s" % (backend, step, available(), STEPS))
    if step is None or step == "embed":
        EMBED = mod
        name = names["embed"] = backend
    if step is None or step == "classify":
        CLASSIFY = _backend = mod
        names["classify"] = backend
    if step is None or step == "anomaly":
        ANOMALY = mod
        names["anomaly"] = backend
    return backend


def from_profile(path=PROFILE, pending=False):
    """Per-step backends from the board's profile (/board.json, its "backends": {step: name}),
    or a dict of that form; a step it leaves out, or names a backend that cannot run here, gets
    the best available; pending=True leaves the steps already chosen alone. Returns names
    ({step: backend})."""
    choice = path
    if not isinstance(path, dict):
        try:
            import json
            with open(path) as f:
                choice = json.load(f).get("backends")
        except Exception:
            choice = None
        # the parsed profile is garbage now: collect it before backend code is loaded, or that
        # code lands between its pieces and leaves a small heap in holes
        import gc
        gc.collect()
    have = available()
    for step in STEPS:
        if pending and step in names:
            continue
        b = choice.get(step) if choice else None
        select(b if b in have else have[0], step)
    return names


class _Pending:
    """A step's backend before anything chose one: the first use reads the profile. Importing
    kernels thus loads no backend code, and a program that selects its own backend never holds
    another one's (3-4 KB of heap, which the 96K demo pipeline does not have to spare)."""

    def __init__(self, step):
        self.step = step

    def __getattr__(self, attr):
        ready()
        return getattr({"embed": EMBED, "classify": CLASSIFY, "anomaly": ANOMALY}[self.step], attr)


def ready():
    """Choose the backends (from_profile) unless something did already; returns names."""
    if len(names) < 3:
        from_profile(pending=True)
    return names


def dense(layer, x, y):
    """y (bytearray, n_out int8) = requantised W x + b of layer over x (bytearray, n_in int8)."""
    EMBED.dense(layer, x, y)


def l2norm(y, n):
    """Normalise the int8 vector y[:n] in place to Euclidean norm ~127 (rule above)."""
    EMBED.l2norm(y, n)


def sumsq(v, n):
    """Sum of squares of the int8 vector v[:n], an int."""
    return _backend.sumsq(v, n)


def sqdist(q, qnorm, rows, norms, count, dim, out):
    """out[r] = squared distance between int8 q and row r of `rows` (count x dim int8), r < count.

    norms (array 'i') holds sumsq of each row and qnorm that of q; out is an array('i').
    """
    _backend.sqdist(q, qnorm, rows, norms, count, dim, out)


def class_topk(dist, lab, count, k, ncls, top, fill, skip=-1):
    """For each class c < ncls: the k smallest dist[i] with lab[i] == c and i != skip, ascending,
    into top[c*k:c*k+fill[c]] (top: array 'i'; fill: bytearray, its count). One pass over count
    rows; every backend runs topk_insert's rule (values found one at a time use it directly)."""
    _backend.class_topk(dist, lab, count, k, ncls, top, fill, skip)


def knn_topk(q, qnorm, rows, norms, count, dim, lab, k, ncls, top, fill, skip=-1, dist=None):
    """class_topk of the distances from q to the count rows, in one call: the same top/fill as
    sqdist into dist then class_topk. Backends may skip rows that cannot enter a full top-k
    (viper abandons a row's partial sum once it reaches the class's k-th best; ulab never
    converts the distances back to ints), so dist (array 'i' of count, scratch) is left
    unspecified. qnorm may be None: a backend that needs it computes it (viper and plain do not)."""
    _backend.knn_topk(q, qnorm, rows, norms, count, dim, lab, k, ncls, top, fill, skip, dist)



def conv1d(layer, x, y):
    """y (O*L_out int8) = requantised 1-D convolution of x (C*L int8, channel-major)."""
    EMBED.conv1d(layer, x, y)


def maxpool(layer, x, y):
    """y (C*L_out int8) = per-channel max over windows of layer.size of x (C*L int8)."""
    EMBED.maxpool(layer, x, y)


def avgpool(layer, x, y):
    """y (C*L_out int8) = per-channel rounded mean over windows of layer.size of x."""
    EMBED.avgpool(layer, x, y)


EMBED = _Pending("embed")
CLASSIFY = _backend = _Pending("classify")
ANOMALY = _Pending("anomaly")
