"""ulab backend of kernels.py: numpy-style array maths where ulab is built into the firmware.

ulab has no int32 and its dot() accumulates in float (float32 on boards): kernels.py explains
why the bounds make every float here an exact integer, so the results match the other backends.
Integer arrays are never combined directly (int8 arithmetic wraps); everything goes through dot
or float arrays. The traps of ulab 6.12 avoided here: no integer array is divided (a zero would
crash the VM), no int16 array meets a float (read as uint16), no // or abs() on unsigned arrays,
no scalar on the left of a comparison, no signed-integer sort (floats only).

Written the way ulab is meant to be used: whole-array operations only, never a Python loop over
rows or elements (reading one element of a float array allocates a float object).
  dense    one dot per layer over the weights as a 2-D (n_out, n_in) int8 view of the model
           buffer (prepared once per layer), then floor and clip; the result is written through
           an int8 view of y (float -> int8 assignment rounds to nearest; the floats are integers).
  sqdist   the stored rows as one 2-D int8 view of the caller's buffer (a view: it follows every
           add/remove/replace with no copy), all distances from one dot call:
           d = (|x|^2 + |r|^2) - 2*(x.r), exact under kernels.check_dist_dim. The row norms
           (array 'i') are read through a uint16 view (hi*65536 + lo: exact, they are < 2**24), and
           ints go back to the caller's array 'i' the same way.
  topk     per class (a loop over classes, never rows): the class's distances by a boolean mask,
           sorted in C (floats: ulab's signed-integer sort is wrong in 6.12), the first k kept.
Allocation per call is a fixed function of the sizes, not of the data (heap figures on the
64-bit unix port; an ndarray header is ~200 B there, about half on a board):
  dense      3 float arrays of n_out + ~5 headers
  knn_topk   2 float arrays of count + per class (a uint8 mask of count + the class's floats)
             + one float array of k*ncls + ~(4 + 4*ncls) headers
`make bench` prints the measured bytes ("peak B").
"""

from ulab import numpy as np

from .ints import isqrt

_LO = 65536.0
_INV_LO = 1.0 / 65536  # 2**-16: multiplying by it is exact


def _prepare(layer):
    # once per layer (kept in layer.cache): the weights as a 2-D view, bias + rounding and 2**-k
    # as float arrays. A loop over rows, but only here, never per call.
    n = layer.n_out
    w = np.frombuffer(layer.w, dtype=np.int8).reshape((n, layer.n_in))
    add = np.zeros(n, dtype=np.float)
    scale = np.zeros(n, dtype=np.float)
    for i in range(n):
        k = layer.shift[i]
        add[i] = layer.bias[i] + ((1 << (k - 1)) if k else 0)
        scale[i] = 1.0 / (1 << k)
    layer.cache = (w, add, scale)
    return layer.cache


def dense(layer, x, y):
    w, add, scale = layer.cache or _prepare(layer)
    n = layer.n_out
    acc = np.dot(w, np.frombuffer(x, dtype=np.int8, count=layer.n_in))
    acc += add      # in place: b + W.x + r, every partial sum an integer below 2**24
    acc *= scale    # exact (a power of two)
    np.frombuffer(y, dtype=np.int8, count=n)[:] = np.clip(np.floor(acc), layer.lo, 127)


def sumsq(v, n):
    a = np.frombuffer(v, dtype=np.int8, count=n)
    return int(np.dot(a, a))


def l2norm(y, n):
    s = sumsq(y, n)
    if s == 0:
        return
    r = isqrt(s)
    a = np.array(np.frombuffer(y, dtype=np.int8, count=n), dtype=np.float)
    a *= 254
    a += r
    np.frombuffer(y, dtype=np.int8, count=n)[:] = np.floor(a / (2 * r))


def _ints_to_floats(buf, count):
    # array 'i' of non-negative ints below 2**24 -> float array, through a uint16 view (little
    # endian: low half first). hi*65536 + lo is exact in float32 (both terms and the sum < 2**24).
    h = np.frombuffer(buf, dtype=np.uint16, count=2 * count)
    f = h[1::2] * _LO
    f += h[0::2]
    return f


def _floats_to_ints(f, buf, count):
    # float array of integers 0 <= v <= 2**24 -> array 'i', through a uint16 view; f is consumed.
    # v*2**-16 is exact (a power of two), floor() of it is the high half, the rest times 65536
    # the low half: every step exact.
    h = np.frombuffer(buf, dtype=np.uint16, count=2 * count)
    f *= _INV_LO
    hi = np.floor(f)
    f -= hi
    f *= _LO
    h[1::2] = hi
    h[0::2] = f


def _dists(q, qnorm, rows, norms, count, dim):
    # the count distances from q as one float array: one dot over the rows viewed as 2-D
    m = np.frombuffer(rows, dtype=np.int8, count=count * dim).reshape((count, dim))
    d = _ints_to_floats(norms, count)
    d += qnorm
    dots = np.dot(m, np.frombuffer(q, dtype=np.int8, count=dim))
    dots *= -2.0
    d += dots
    return d


def sqdist(q, qnorm, rows, norms, count, dim, out):
    if count == 0:
        return
    _floats_to_ints(_dists(q, qnorm, rows, norms, count, dim), out, count)


def _topk(d, lab, count, k, ncls, top, fill, skip):
    # per class: its distances (boolean mask), sorted in C, the first k into top via one float
    # array of k*ncls written back once
    t = np.zeros(k * ncls, dtype=np.float)
    lv = np.frombuffer(lab, dtype=np.uint8, count=count)
    cskip = lab[skip] if 0 <= skip < count else -1
    for c in range(ncls):
        if ncls == 1 and cskip < 0:
            s = d  # the whole set (the anomaly score): sort the distances in place
        else:
            m = lv == c
            if c == cskip:
                m[skip] = 0
            s = d[m]
        n = len(s)
        if n > 1:
            s.sort()
        if n > k:
            n = k
        if n:
            t[c * k:c * k + n] = s[:n]
        fill[c] = n
    _floats_to_ints(t, top, k * ncls)


def class_topk(dist, lab, count, k, ncls, top, fill, skip=-1):
    for c in range(ncls):
        fill[c] = 0
    if count == 0:
        return
    _topk(_ints_to_floats(dist, count), lab, count, k, ncls, top, fill, skip)


def knn_topk(q, qnorm, rows, norms, count, dim, lab, k, ncls, top, fill, skip=-1, dist=None):
    # sqdist and class_topk in one: the distances stay a float array, dist is not written
    if qnorm is None:
        qnorm = sumsq(q, dim)
    for c in range(ncls):
        fill[c] = 0
    if count == 0:
        return
    _topk(_dists(q, qnorm, rows, norms, count, dim), lab, count, k, ncls, top, fill, skip)


def _prepare_conv(layer):
    # weights as (O, C*K): the taps k of every channel are the strided columns k::K
    n = layer.n_out
    w = np.frombuffer(layer.w, dtype=np.int8).reshape((n, layer.n_in))
    add = np.zeros((n, 1), dtype=np.float)
    scale = np.zeros((n, 1), dtype=np.float)
    for i in range(n):
        k = layer.shift[i]
        add[i, 0] = layer.bias[i] + ((1 << (k - 1)) if k else 0)
        scale[i, 0] = 1.0 / (1 << k)
    layer.cache = (w, add, scale)
    return layer.cache


def conv1d(layer, x, y):
    # one dot per kernel tap j: W[:, :, j] (O, C) times the strided view x[:, j::S] (C, L_out).
    # Starting from bias + rounding and adding taps keeps every partial sum a partial sum of
    # the row, below 2**24 (kernels.py): exact in float32 and float64.
    w, add, scale = layer.cache or _prepare_conv(layer)
    kk = layer.kernel
    st = layer.stride
    span = (layer.out_len - 1) * st + 1
    xs = np.frombuffer(x, dtype=np.int8, count=layer.in_ch * layer.in_len).reshape((layer.in_ch, layer.in_len))
    acc = add
    for j in range(kk):
        acc = acc + np.dot(w[:, j::kk], xs[:, j:j + span:st])
    acc = np.clip(np.floor(acc * scale), layer.lo, 127)
    y[:layer.n_out * layer.out_len] = np.array(acc, dtype=np.int8).tobytes()


def _pool_view(layer, x):
    return np.frombuffer(x, dtype=np.int8, count=layer.n_in).reshape((layer.channels, layer.in_len))


def maxpool(layer, x, y):
    # one maximum per position j in the window over the strided view x[:, j::P] (C, L_out);
    # comparisons only, so nothing can round
    p = layer.size
    if p == 1:
        y[:layer.n_out] = memoryview(x)[:layer.n_out]
        return
    span = (layer.out_len - 1) * p + 1
    xs = _pool_view(layer, x)
    m = np.maximum(xs[:, 0:span:p], xs[:, 1:1 + span:p])
    for j in range(2, p):
        m = np.maximum(m, xs[:, j:j + span:p])
    y[:layer.n_out] = np.array(m, dtype=np.int8).tobytes()


def avgpool(layer, x, y):
    # window sums in float (|s| <= 128*P, exact), then floor((2s + P) / 2P). The quotient
    # a/b (a = 2s + P, b = 2P, both exact integers below 2**24) is correctly rounded by the
    # division: it is an integer (then exact) or at least 1/b >= 2**-13 from one (P <= 4096),
    # while |a/b| <= 128.5 is rounded by at most half an ulp, 2**-17 in float32: floor() of
    # the float equals the exact floor in float32 and float64 alike.
    p = layer.size
    span = (layer.out_len - 1) * p + 1
    xs = _pool_view(layer, x)
    acc = np.array(xs[:, 0:span:p], dtype=np.float)
    for j in range(1, p):
        acc = acc + xs[:, j:j + span:p]
    z = np.floor((acc * 2 + p) / (2 * p))
    y[:layer.n_out] = np.array(z, dtype=np.int8).tobytes()
