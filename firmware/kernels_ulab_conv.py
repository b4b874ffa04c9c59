"""The ulab backend's conv1d, maxpool and avgpool (kernels_ulab.py's docstring; kernels.py has the
rules and the exactness proofs). Apart from kernels_ulab so that a dense-only model does not hold
their code: kernels_ulab loads this module at the first use of one of them."""

import gc

from ulab import numpy as np


def _prepare_conv(layer):
    # weights as (O, C*K): the taps k of every channel are the strided columns k::K. Collected
    # first, as kernels_ulab._prepare: held for good
    gc.collect()
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
