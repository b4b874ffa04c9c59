"""Integer kernels for the embedding model and the nearest-neighbour search.

One arithmetic, three backends, the same integers everywhere:
  ulab   -- when `ulab` imports (boards built with it);
  viper  -- on MicroPython without ulab (@micropython.viper machine code);
  plain  -- everywhere else (CPython simulation); select(name) forces any of them.

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

DENSE_BOUND = 1 << 24
MAX_SHIFT = 24
MAX_DIST_DIM = 256

_backend = None
name = None


def available():
    """Backends that can run in this interpreter, best first."""
    names = []
    try:
        from ulab import numpy  # noqa: F401
        names.append("ulab")
    except ImportError:
        pass
    if sys.implementation.name == "micropython":
        try:  # a port without the native emitter (or an .mpy of another ABI) cannot load it
            from . import kernels_viper  # noqa: F401
            names.append("viper")
        except (ImportError, SyntaxError, ValueError):
            pass
    names.append("plain")
    return names


def select(backend):
    """Switch every kernel to `backend` ('ulab', 'viper' or 'plain'); returns its name."""
    global _backend, name
    if backend not in ("ulab", "viper", "plain"):
        raise ValueError("unknown kernel backend %r (ulab, viper, plain)" % (backend,))
    if backend not in available():
        raise ValueError("kernel backend %r cannot run here (have %s)" % (backend, ", ".join(available())))
    if backend == "ulab":
        from . import kernels_ulab as mod
    elif backend == "viper":
        from . import kernels_viper as mod
    else:
        from . import kernels_plain as mod
    _backend = mod
    name = backend
    return backend


def isqrt(s):
    """Floor square root of a non-negative int, in integers only."""
    if s < 2:
        return s
    x = s
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + s // x) >> 1
    return x


def dense(layer, x, y):
    """y (bytearray, n_out int8) = requantised W x + b of layer over x (bytearray, n_in int8)."""
    _backend.dense(layer, x, y)


def l2norm(y, n):
    """Normalise the int8 vector y[:n] in place to Euclidean norm ~127 (rule above)."""
    _backend.l2norm(y, n)


def sumsq(v, n):
    """Sum of squares of the int8 vector v[:n], an int."""
    return _backend.sumsq(v, n)


def sqdist(q, qnorm, rows, norms, count, dim, out):
    """out[r] = squared distance between int8 q and row r of `rows` (count x dim int8), r < count.

    norms (array 'i') holds sumsq of each row and qnorm that of q; out is an array('i').
    """
    _backend.sqdist(q, qnorm, rows, norms, count, dim, out)


def class_topk(dist, lab, count, k, ncls, top, fill):
    """For each class c < ncls: the k smallest dist[i] with lab[i] == c, ascending, into
    top[c*k:c*k+fill[c]] (top: array 'i'; fill: bytearray, its count). One pass over count rows."""
    _backend.class_topk(dist, lab, count, k, ncls, top, fill)



def conv1d(layer, x, y):
    """y (O*L_out int8) = requantised 1-D convolution of x (C*L int8, channel-major)."""
    _backend.conv1d(layer, x, y)


def maxpool(layer, x, y):
    """y (C*L_out int8) = per-channel max over windows of layer.size of x (C*L int8)."""
    _backend.maxpool(layer, x, y)


def avgpool(layer, x, y):
    """y (C*L_out int8) = per-channel rounded mean over windows of layer.size of x."""
    _backend.avgpool(layer, x, y)


select(available()[0])
