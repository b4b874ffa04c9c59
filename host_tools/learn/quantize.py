"""Quantise a float MLP embedding to the firmware's int8 format (power-of-two requantisation).

Each dense layer gets a per-tensor activation scale s_y from calibration data and, per output
row i, the largest right shift k_i such that the row's weights still fit int8:
    s_w[i] = s_y / (s_x * 2**k_i),  W_int = round(W / s_w),  b_int = round(b / (s_x * s_w))
so the board's y = (W_int x + b_int) >> k_i lands on the scale s_y with no multiplier at all.
Rows whose worst-case accumulator would reach 2**24 are given coarser weights until they fit.
"""
import math

import numpy as np

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
    s_x = float(input_scale)
    a = np.asarray(calib, dtype=np.float64)
    layers = []
    for W, b, relu in zip(weights, biases, relus):
        W = np.asarray(W, np.float64)
        b = np.asarray(b, np.float64)
        z = a @ W.T + b
        if relu:
            z = np.maximum(z, 0.0)
        top = float(np.percentile(np.abs(z), 99.9)) if z.size else 1.0
        s_y = max(top, 1e-6) / 127.0
        rows = [_quantize_row(W[i], b[i], s_x, s_y) for i in range(W.shape[0])]
        layers.append({
            "type": "dense",
            "w": np.stack([r[0] for r in rows]).astype(np.int8),
            "b": np.array([r[1] for r in rows], dtype=np.int32),
            "shift": np.array([r[2] for r in rows], dtype=np.uint8),
            "out_scale": s_y,
        })
        if relu:
            layers.append({"type": "relu", "n": W.shape[0]})
        a = z
        s_x = s_y
    if l2norm:
        layers.append({"type": "l2norm", "n": weights[-1].shape[0]})
    return {"in_dim": int(np.asarray(weights[0]).shape[1]), "input_scale": float(input_scale), "layers": layers}


def quantize_input(x, input_scale):
    """Float inputs -> int8 with round-half-even and saturation, as the exporter assumes."""
    return np.clip(np.round(np.asarray(x, np.float64) / input_scale), -128, 127).astype(np.int8)
