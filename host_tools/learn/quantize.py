"""Quantise a float MLP embedding to the firmware's int8 format (power-of-two requantisation).

Each dense layer gets a per-tensor activation scale s_y from calibration data and, per output
row i, the largest right shift k_i such that the row's weights still fit int8:
    s_w[i] = s_y / (s_x * 2**k_i),  W_int = round(W / s_w),  b_int = round(b / (s_x * s_w))
so the board's y = (W_int x + b_int) >> k_i lands on the scale s_y with no multiplier at all.
Rows whose worst-case accumulator would reach 2**24 are given coarser weights until they fit.
"""
import math

import numpy as np

from ..oracle.errors import DataError
from ..oracle import modelfile


def _quantize_row(w, b, s_x, s_y):
    wmax = float(np.abs(w).max())
    if wmax == 0.0:
        k = 0
    else:
        k = int(math.floor(math.log2(s_y * 127.0 / (s_x * wmax))))
    k = min(max(k, 0), modelfile.MAX_SHIFT)
    while True:
        s_w = s_y / (s_x * 2.0 ** k)
        wq = np.clip(np.round(w / s_w), -128, 127).astype(np.int64)
        bq = int(np.clip(np.round(b / (s_x * s_w)), -(1 << 31), (1 << 31) - 1))
        bound = 128 * int(np.abs(wq).sum()) + abs(bq) + ((1 << (k - 1)) if k else 0)
        if bound < modelfile.ACC_LIMIT or k == 0:
            return wq, bq, k
        k -= 1


def quantize_mlp(weights, biases, relus, calib, input_scale, l2norm=True):
    """Float layers (W (out,in), b (out,)) -> model dict for modelfile.to_bytes.

    calib: float inputs (n, in) in the units where x_int8 = round(x / input_scale).
    relus: per layer, whether a ReLU follows it.
    """
    specs = [("dense", W, b, relu) for W, b, relu in zip(weights, biases, relus)]
    return quantize_layers(specs, calib, input_scale, l2norm=l2norm)


def quantize_input(x, input_scale):
    """Float inputs -> int8 with round-half-even and saturation, as the exporter assumes."""
    return np.clip(np.round(np.asarray(x, np.float64) / input_scale), -128, 127).astype(np.int8)


def _out_scale(z, pct=99.9):
    top = float(np.percentile(np.abs(z), pct)) if z.size else 1.0
    return max(top, 1e-6) / 127.0


def _requantised(kind, W, b, s_x, s_y, **extra):
    """Layer dict of float weights W (out, ...) with one power-of-two shift per out row."""
    rows = [_quantize_row(W[i].ravel(), b[i], s_x, s_y) for i in range(W.shape[0])]
    layer = {"type": kind, "w": np.stack([r[0] for r in rows]).reshape(W.shape).astype(np.int8),
             "b": np.array([r[1] for r in rows], dtype=np.int32),
             "shift": np.array([r[2] for r in rows], dtype=np.uint8), "out_scale": s_y}
    layer.update(extra)
    return layer


def conv_float(a, W, b, stride):
    """Float valid 1-D convolution of a (n, C, L) by W (O, C, K): (n, O, L_out)."""
    k = W.shape[2]
    l_out = (a.shape[2] - k) // stride + 1
    idx = np.arange(k)[:, None] + stride * np.arange(l_out)[None, :]
    cols = a[:, :, idx]                                     # (n, C, K, L_out)
    return np.einsum("ock,nckt->not", W, cols) + b[None, :, None]


def quantize_layers(layers, calib, input_scale, in_channels=1, l2norm=True, pct=99.9):
    """Float layers of a torch-style 1-D conv net -> model dict for modelfile.to_bytes.

    layers, in order: ("conv1d", W (O, C, K), b (O,), stride, relu) | ("maxpool", P) |
    ("avgpool", P) | ("dense", W (out, in), b (out,), relu). Activations are channel-major,
    so a dense layer after conv/pool layers takes torch's flatten of (C, L) as it is.
    calib: float inputs (n, in_channels * L) or (n, in_channels, L), in the units where
    x_int8 = round(x / input_scale). Conv layers get one power-of-two shift per out channel
    (_quantize_row over the channel's C*K weights), dense layers one per row, as quantize_mlp;
    pooling keeps the scale (max and mean commute with a positive scale). Each layer's output
    scale covers the pct-th percentile of its calibration activations (100: the maximum).
    """
    s_x = float(input_scale)
    a = np.asarray(calib, dtype=np.float64)
    n = a.shape[0]
    a = a.reshape(n, in_channels, -1)
    in_dim = a.shape[1] * a.shape[2]
    out = []
    flat = False  # after a dense layer there are no channels to convolve or pool
    for spec in layers:
        kind = spec[0]
        if kind in ("conv1d", "maxpool", "avgpool") and flat:
            raise DataError("%s after a dense layer: channels are lost once flattened" % kind)
        if kind == "conv1d":
            _, W, b, stride, relu = spec
            W = np.asarray(W, np.float64)
            b = np.asarray(b, np.float64)
            o, c, k = W.shape
            if c != a.shape[1]:
                raise DataError("conv1d takes %d channels, gets %d" % (c, a.shape[1]))
            z = conv_float(a, W, b, int(stride))
            if relu:
                z = np.maximum(z, 0.0)
            s_y = _out_scale(z, pct)
            out.append(_requantised("conv1d", W, b, s_x, s_y, stride=int(stride)))
            if relu:
                out.append({"type": "relu"})
            a = z
            s_x = s_y
        elif kind in ("maxpool", "avgpool"):
            p = int(spec[1])
            l_out = a.shape[2] // p
            win = a[:, :, :l_out * p].reshape(n, a.shape[1], l_out, p)
            a = win.max(axis=3) if kind == "maxpool" else win.mean(axis=3)
            out.append({"type": kind, "channels": a.shape[1], "size": p})
        elif kind == "dense":
            _, W, b, relu = spec
            W = np.asarray(W, np.float64)
            b = np.asarray(b, np.float64)
            z = a.reshape(n, -1) @ W.T + b
            if relu:
                z = np.maximum(z, 0.0)
            s_y = _out_scale(z, pct)
            out.append(_requantised("dense", W, b, s_x, s_y))
            if relu:
                out.append({"type": "relu"})
            a = z
            s_x = s_y
            flat = True
        else:
            raise DataError("unknown layer kind %r" % (kind,))
    if l2norm:
        out.append({"type": "l2norm"})
    return {"in_dim": int(in_dim), "input_scale": float(input_scale), "layers": out}
