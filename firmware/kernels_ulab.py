"""ulab backend of kernels.py: numpy-style array maths where ulab is built into the firmware.

ulab has no int32 and its dot() accumulates in float (float32 on boards): kernels.py explains
why the bounds make every float here an exact integer, so the results match the other backends.
Integer arrays are never combined directly (int8 arithmetic wraps); everything goes through dot
or float arrays.
"""
from ulab import numpy as np

from .ints import isqrt


def _prepare(layer):
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
    acc = np.dot(w, np.frombuffer(x, dtype=np.int8, count=layer.n_in))
    acc = np.floor((acc + add) * scale)
    acc = np.clip(acc, layer.lo, 127)
    y[:layer.n_out] = np.array(acc, dtype=np.int8).tobytes()


def sumsq(v, n):
    a = np.frombuffer(v, dtype=np.int8, count=n)
    return int(np.dot(a, a))


def l2norm(y, n):
    s = sumsq(y, n)
    if s == 0:
        return
    r = isqrt(s)
    a = np.array(np.frombuffer(y, dtype=np.int8, count=n), dtype=np.float)
    z = np.floor((a * 254 + r) / (2 * r))
    y[:n] = np.array(z, dtype=np.int8).tobytes()


def sqdist(q, qnorm, rows, norms, count, dim, out):
    if count == 0:
        return
    m = np.frombuffer(rows, dtype=np.int8, count=count * dim).reshape((count, dim))
    dots = np.dot(m, np.frombuffer(q, dtype=np.int8, count=dim))
    for r in range(count):
        out[r] = norms[r] + qnorm - 2 * int(dots[r])


def class_topk(dist, lab, count, k, ncls, top, fill, skip=-1):
    # the plain one: ulab has no int32 for the distances (and its signed sort is wrong in 6.12)
    from .kernels_plain import class_topk as plain
    plain(dist, lab, count, k, ncls, top, fill, skip)
