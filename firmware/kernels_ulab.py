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
           add/remove/replace with no copy), all distances from one dot call, then in place in
           its result: d = -2*(x.r) + |x|^2, + |r|^2 (the row norms, array 'i', added through a
           uint16 view as ((d * 2**-16) + hi) * 2**16 + lo), every value on the way an integer
           below 2**24 (kernels.check_dist_dim), so exact; ints go back the same way.
  topk     no array per class and no loop over rows: the rows ranked by distance (argsort of
           argsort), then sorted by class + rank * 2**-16 (exact), bincount for where each class
           starts; the first k of each class taken with two small take() calls (_topk), and
           those k per class decoded from the float bytes (_read_ints: no ulab call).
           Floats only are sorted (ulab's signed-integer sort is wrong in 6.12; uint16 is fine).
conv1d, maxpool and avgpool are in kernels_ulab_conv.py, loaded at their first use.
Allocation per call is a fixed function of the sizes, not of the data (heap figures on the
64-bit unix port; an ndarray header is ~130-220 B there, about half on a board, and every
in-place op allocates ~100 B, ~250 B with a Python scalar, which the constants below avoid):
  dense      3 float arrays of n_out + ~5 headers
  knn_topk   one float array of count (the dot), 3 uint16 arrays of count (argsorts) and one
             float array of count (the key), + ~15 headers and in-place steps, whatever the
             number of classes (200 x 32, 10 classes: 6.4 KB, was ~20 KB with an array per
             class); one class (the anomaly score): the dot and ~8 headers (2.3 KB at 64 rows)
ulab's take() makes a transient copy of its indices (8 B each on a 64-bit port), so it is only
given the k*ncls answers' positions, never count indices.
`make bench` prints the measured bytes ("peak B").
"""

import gc

from ulab import numpy as np

from .ints import isqrt

_LO = 65536.0
_INV_LO = 1.0 / 65536  # 2**-16: multiplying by it is exact
_FAR = 33554432.0      # 2**25: above every distance (< 2**24), exact; marks the row left out
# the constants of the in-place steps as 1-element arrays: `a *= c` with a Python scalar boxes
# it in a new array on every call, with an array it does not
_C_LO = np.array([_LO])
_C_INV = np.array([_INV_LO])
_C_M2 = np.array([-2.0])


def _prepare(layer):
    # once per layer (kept in layer.cache): the weights as a 2-D view, bias + rounding and 2**-k
    # as float arrays. A loop over rows, but only here, never per call. Collected first: these
    # are held for good and should land low, not among the temporaries of the calls around
    gc.collect()
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


def _add_ints(f, buf, count):
    # f += array 'i' buf (ints 0..2**24), in place through a uint16 view (little endian: low half
    # first): f = (f * 2**-16 + hi) * 2**16 + lo. Exact when f and the result are integers below
    # 2**24 in size: the middle value is (result - lo) * 2**-16 with |result - lo| < 2**24, and
    # scaling by a power of two is exact.
    h = np.frombuffer(buf, dtype=np.uint16, count=2 * count)
    f *= _C_INV
    f += h[1::2]
    f *= _C_LO
    f += h[0::2]


def _floats_to_ints(f, buf, count):
    # float array of integers 0 <= v <= 2**24 -> array 'i', through a uint16 view; f is consumed.
    # v*2**-16 is exact (a power of two), floor() of it is the high half, the rest times 65536
    # the low half: every step exact.
    h = np.frombuffer(buf, dtype=np.uint16, count=2 * count)
    f *= _C_INV
    hi = np.floor(f)
    f -= hi
    f *= _C_LO
    h[1::2] = hi
    h[0::2] = f


def _read_ints(f, buf, n):
    # the first n values of a dense float array f (integers 0 <= v <= 2**25) into array 'i' buf,
    # decoded from f's bytes (a view: tobytes copies nothing), where _floats_to_ints costs ~8
    # array headers (1.4 KB on the 64-bit port). Only for the answers (k per class), never rows.
    # IEEE 754, little endian, float32 or float64 (w bytes each), sign bit 0: m is the leading 1
    # and the next 24 fraction bits as an int below 2**25, so v = m * 2**(e - 1) with e the
    # biased exponent less 150 (float32) or 1046 (float64); every int stays below 2**26, a small
    # int on a board. A zero has e far below -24.
    b = f.tobytes()
    w = len(b) // len(f)
    for i in range(n):
        p = i * w + w - 4  # the high 4 bytes
        if w == 4:
            e = ((b[p + 3] & 0x7F) << 1 | b[p + 2] >> 7) - 150
            m = ((b[p + 2] & 0x7F) << 16 | b[p + 1] << 8 | b[p]) << 1 | 1 << 24
        else:
            e = ((b[p + 3] & 0x7F) << 4 | b[p + 2] >> 4) - 1046
            m = ((b[p + 2] & 0x0F) << 20 | b[p + 1] << 12 | b[p] << 4 | b[p - 1] >> 4) | 1 << 24
        if e < -24:
            buf[i] = 0
        elif e < 1:
            buf[i] = m >> (1 - e)
        else:
            buf[i] = m << (e - 1)


def _dists(q, qnorm, rows, norms, count, dim):
    # the count distances from q as one float array: the dot over the rows viewed as 2-D, then
    # every step in place in it: -2*(x.r) + |x|^2, then + |r|^2 (_add_ints); all exact (module doc)
    d = np.dot(np.frombuffer(rows, dtype=np.int8, count=count * dim).reshape((count, dim)),
               np.frombuffer(q, dtype=np.int8, count=dim))
    d *= _C_M2
    d += qnorm
    _add_ints(d, norms, count)
    return d


def sqdist(q, qnorm, rows, norms, count, dim, out):
    if count == 0:
        return
    _floats_to_ints(_dists(q, qnorm, rows, norms, count, dim), out, count)


def _topk(d, lab, count, k, ncls, top, fill, skip):
    # d: the count distances as a float array (consumed). No loop over rows, no array per class,
    # no array of count indices for take() (ulab makes a transient copy of them, 8 B each on a
    # 64-bit port). The row left out gets distance 2**25, last of its class. One class: d sorted
    # in place. Several: r = each row's rank by distance (argsort of argsort: a permutation of
    # uint16, no ties), then the rows sorted by the key class + r * 2**-16 (exact: 24 bits,
    # r < 65536, class < 256), so each class's rows come together, nearest first; bincount
    # gives where each class starts, and the first k of each are taken. top is the scratch for
    # those positions.
    cs = -1
    if 0 <= skip < count:
        cs = lab[skip]
        d[skip] = _FAR
    if ncls == 1:
        d.sort()
        n = count - 1 if cs == 0 else count
        n = n if n < k else k
        fill[0] = n
        _read_ints(d, top, n)
        return
    lv = np.frombuffer(lab, dtype=np.uint8, count=count)
    key = np.array(np.argsort(np.argsort(d, axis=0), axis=0), dtype=np.float)
    key *= _C_INV
    key += lv
    o = np.argsort(key, axis=0)     # rows, class by class, nearest first
    key = None
    cnt = np.bincount(lv, minlength=ncls).tobytes()  # uint16 counts, read as bytes
    s = 0
    for c in range(ncls):
        b = s
        n = cnt[2 * c] | cnt[2 * c + 1] << 8
        s += n
        if c == cs:
            n -= 1
        n = n if n < k else k
        fill[c] = n
        for j in range(k):
            top[c * k + j] = b + j if j < n else 0
    m = k * ncls
    _read_ints(np.take(d, np.take(o, np.frombuffer(top, dtype=np.uint16, count=2 * m)[0::2])), top, m)


def class_topk(dist, lab, count, k, ncls, top, fill, skip=-1):
    for c in range(ncls):
        fill[c] = 0
    if count == 0:
        return
    f = np.zeros(count, dtype=np.float)
    _add_ints(f, dist, count)
    _topk(f, lab, count, k, ncls, top, fill, skip)


def knn_topk(q, qnorm, rows, norms, count, dim, lab, k, ncls, top, fill, skip=-1, dist=None):
    # sqdist and class_topk in one: the distances stay a float array, dist is not written
    if qnorm is None:
        qnorm = sumsq(q, dim)
    for c in range(ncls):
        fill[c] = 0
    if count == 0:
        return
    _topk(_dists(q, qnorm, rows, norms, count, dim), lab, count, k, ncls, top, fill, skip)


knn_best = None  # no search of its own: the Enroller runs enroll.knn_best over knn_topk


def __getattr__(name):
    # conv1d, maxpool, avgpool: in kernels_ulab_conv.py, loaded by a model's first conv or pool
    # layer (a dense-only model never holds their code)
    if name not in ("conv1d", "maxpool", "avgpool"):
        raise AttributeError(name)  # a probe (hasattr, the import system's) loads nothing
    from . import kernels_ulab_conv
    return getattr(kernels_ulab_conv, name)
