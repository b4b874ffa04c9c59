"""numpy reference of the board's integer arithmetic: the oracle boards are validated against.

It never imports the firmware. The rules (also at the top of firmware/kernels.py):
  dense   y = clamp((W x + b + r) >> k, lo, 127), floor shift, r = 2**(k-1) (0 if k == 0),
          lo = 0 when a ReLU follows, else -128
  relu    max(x, 0)
  l2norm  n = isqrt(sum y**2); z = floor((254 y + n) / (2 n)); 0 stays 0
  sqdist  sum (a - b)**2
  conv1d  x channel-major (C, L) with L = len(x) / C; W (O, C, K), stride S, valid padding:
          y[o, t] = clamp((b[o] + sum_c sum_k W[o,c,k] x[c, t*S+k] + r_o) >> k_o, lo, 127),
          L_out = (L - K) // S + 1, output channel-major (O, L_out); lo as dense (fused ReLU)
  maxpool per channel, max over non-overlapping windows of P, L_out = L // P (rest dropped)
  avgpool per channel, floor((2*sum + P) / (2*P)) over the same windows (mean, half up)
All in int64, so nothing here can round.
"""
import math

import numpy as np

from .errors import DataError


def dense(w, b, shift, x, lo=-128):
    acc = np.asarray(w, np.int64) @ np.asarray(x, np.int64) + np.asarray(b, np.int64)
    k = np.asarray(shift, np.int64)
    rnd = np.where(k > 0, np.left_shift(1, np.maximum(k - 1, 0)), 0)
    y = np.right_shift(acc + rnd, k)
    return np.clip(y, lo, 127).astype(np.int8)


def relu(x):
    return np.maximum(np.asarray(x, np.int8), 0).astype(np.int8)


def l2norm(y):
    y = np.asarray(y, np.int64)
    s = int((y * y).sum())
    if s == 0:
        return y.astype(np.int8)
    n = math.isqrt(s)
    return np.floor_divide(254 * y + n, 2 * n).astype(np.int8)


def conv1d(w, b, shift, stride, x, lo=-128):
    w = np.asarray(w, np.int64)
    n_out, c, k = w.shape
    x = np.asarray(x, np.int64).reshape(c, -1)
    l_out = (x.shape[1] - k) // stride + 1
    # cols[c*K + k, t] = x[c, t*S + k]: the conv is then one dense layer per output position
    idx = np.arange(k)[:, None] + stride * np.arange(l_out)[None, :]
    cols = x[:, idx].reshape(c * k, l_out)
    acc = w.reshape(n_out, c * k) @ cols + np.asarray(b, np.int64)[:, None]
    sh = np.asarray(shift, np.int64)[:, None]
    rnd = np.where(sh > 0, np.left_shift(1, np.maximum(sh - 1, 0)), 0)
    y = np.right_shift(acc + rnd, sh)
    return np.clip(y, lo, 127).astype(np.int8).ravel()


def _windows(x, channels, size):
    x = np.asarray(x, np.int64).reshape(channels, -1)
    l_out = x.shape[1] // size
    return x[:, :l_out * size].reshape(channels, l_out, size)


def maxpool(x, channels, size):
    return _windows(x, channels, size).max(axis=2).astype(np.int8).ravel()


def avgpool(x, channels, size):
    s = _windows(x, channels, size).sum(axis=2)
    return np.floor_divide(2 * s + size, 2 * size).astype(np.int8).ravel()


def forward(model, x):
    """Embedding of one int8 input vector under a model dict (host_tools.oracle.modelfile)."""
    x = np.asarray(x, dtype=np.int8)
    if x.shape != (model["in_dim"],):
        raise DataError("input has shape %s, the model takes (%d,)" % (x.shape, model["in_dim"]))
    layers = model["layers"]
    for i, layer in enumerate(layers):
        kind = layer["type"]
        fused = i + 1 < len(layers) and layers[i + 1]["type"] == "relu"
        if kind == "dense":
            x = dense(layer["w"], layer["b"], layer["shift"], x, lo=0 if fused else -128)
        elif kind == "conv1d":
            x = conv1d(layer["w"], layer["b"], layer["shift"], int(layer["stride"]), x,
                       lo=0 if fused else -128)
        elif kind == "maxpool":
            x = maxpool(x, int(layer["channels"]), int(layer["size"]))
        elif kind == "avgpool":
            x = avgpool(x, int(layer["channels"]), int(layer["size"]))
        elif kind == "relu":
            x = relu(x)
        else:
            x = l2norm(x)
    return x


def forward_batch(model, xs):
    """Embeddings of a batch of int8 inputs, shape (n, in_dim) -> (n, out_dim)."""
    return np.stack([forward(model, x) for x in np.asarray(xs, np.int8)])


def sqdist(q, rows):
    """Squared distances from int8 q to each int8 row."""
    d = np.asarray(rows, np.int64) - np.asarray(q, np.int64)
    return (d * d).sum(axis=-1)
