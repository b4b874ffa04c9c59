"""Proof that a model, an enroller and an anomaly detector never leave a board's integer words.

The viper kernels run in 32-bit machine words on ESP32/RP2040 (wrapping silently), the rest of
the firmware in Python ints that are 31-bit "small ints" there (beyond them each value is a
heap-allocated big int). No 32-bit native emitter runs on this host (the unix port is 64-bit,
the 32-bit webassembly port has no viper), so for those paths this module computes the worst
case of every intermediate from the model's weights and the configuration's limits, and
`check*` raise Bound32Error naming any that could reach its limit. Worst cases, with
int8 values in -128..127 (|v| <= 128) and D the embedding size:

  dense / conv1d (viper, per row/out channel)  acc: 128*sum|W| + |b| + 2**(k-1)  < 2**24 (float32 exact)
                                    bias read as a uint32 with offset 2**24: b + 2**24 in [0, 2**31)
                                    4-term unrolled group: 4 * 128 * 128
  avgpool (viper)                   2*s + size + 256*size <= 513*size
  l2norm (plain ints)               sum y**2 <= n*128**2; 254*|y| + isqrt(sum)
  sumsq (viper)                     D*128**2
  sqdist (viper, into array 'i')    D*255**2
  enroll, k-NN score / threshold    k*D*255**2 summed; threshold q//100*pct + q%100*pct//100, pct <= 1000
  enroll, prototypes                2*sum + n over max_per_class members: 2*128*m + m
  anomaly, k nearest summed         k*D*255**2 (and BIG, the sentinel above it, < 2**30)
  anomaly, threshold                loo * mnum before // mden, stored as int32 (clamped to BIG)
  anomaly, raw quantiser            x - center with |x|, |center| < 2**29: < 2**30
Limits: WORD = 2**31 (viper), SMALL = 2**30 (a small int on a board).
"""
import math

import numpy as np

WORD = 1 << 31
SMALL = 1 << 30
FLOAT32_EXACT = 1 << 24
BIG = SMALL - 1   # firmware/anomaly.py's sentinel
RAW_LIMIT = 1 << 29


class Bound32Error(ValueError):
    pass


def _row(name, worst, limit, where):
    return {"what": name, "worst": int(worst), "limit": int(limit), "where": where}


def model_bounds(model):
    """[{what, worst, limit, where}] for every intermediate of a model dict (modelfile format);
    the distances between embeddings are enroll_bounds' and anomaly_bounds' (they depend on D)."""
    rows = []
    width = model["in_dim"]
    for i, layer in enumerate(model["layers"]):
        kind = layer["type"]
        if kind in ("dense", "conv1d"):
            w = np.asarray(layer["w"], np.int64)
            w = w.reshape(w.shape[0], -1)
            b = np.asarray(layer["b"], np.int64)
            shift = np.asarray(layer["shift"], np.int64)
            rnd = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
            acc = 128 * np.abs(w).sum(axis=1) + np.abs(b) + rnd
            rows.append(_row("%s accumulator" % kind, acc.max(), FLOAT32_EXACT, "layer %d" % i))
            rows.append(_row("%s bias + 2**24 (uint32 read)" % kind, (b + FLOAT32_EXACT).max(), WORD, "layer %d" % i))
            if (b + FLOAT32_EXACT).min() < 0:
                rows.append(_row("%s bias + 2**24 below 0" % kind, -(b + FLOAT32_EXACT).min(), 0, "layer %d" % i))
            rows.append(_row("%s unrolled 4-term group" % kind, 4 * 128 * 128, WORD, "layer %d" % i))
            if kind == "dense":
                width = w.shape[0]
            else:
                c_in = np.asarray(layer["w"]).shape[1]
                k = np.asarray(layer["w"]).shape[2]
                l_in = width // c_in
                width = w.shape[0] * ((l_in - k) // int(layer["stride"]) + 1)
        elif kind in ("maxpool", "avgpool"):
            size = int(layer["size"])
            ch = int(layer["channels"])
            if kind == "avgpool":
                rows.append(_row("avgpool 2*s + 257*size", 513 * size, SMALL, "layer %d" % i))
            width = ch * ((width // ch) // size)
        elif kind == "l2norm":
            s = width * 128 * 128
            rows.append(_row("l2norm sum of squares", s, SMALL, "layer %d" % i))
            rows.append(_row("l2norm 254*y + isqrt", 254 * 128 + math.isqrt(s), SMALL, "layer %d" % i))
    return rows


def enroll_bounds(dim, k=3, max_per_class=20, mode="knn"):
    d = dim * 255 * 255
    rows = [_row("sumsq (viper)", dim * 128 * 128, WORD, "enroll D=%d" % dim),
            _row("sqdist", d, SMALL, "enroll D=%d" % dim),
            _row("k-NN score: sum of k distances", k * d, SMALL, "enroll k=%d" % k),
            _row("threshold q//100*pct + q%100*pct//100 (q a mean, pct <= 1000)", d * 10, SMALL, "enroll"),
            _row("prototype 2*sum + n", 2 * 128 * max_per_class + max_per_class, SMALL,
                 "enroll max_per_class=%d" % max_per_class)]
    return rows


def anomaly_bounds(dim, k=2, margin=(1, 1), raw=False):
    d = dim * 255 * 255
    rows = [_row("sqdist", d, SMALL, "anomaly D=%d" % dim),
            _row("score: sum of k distances", k * d, BIG, "anomaly k=%d" % k),
            _row("drift test 2*score", 2 * k * d, SMALL, "anomaly"),
            # loo * mnum is computed once, at finish(); the threshold itself is clamped to BIG
            _row("threshold (clamped)", min(k * d * margin[0] // margin[1], BIG), WORD, "anomaly margin=%r" % (margin,))]
    if raw:
        rows.append(_row("raw x - center", 2 * (RAW_LIMIT - 1), SMALL, "anomaly raw"))
    return rows


def check(rows):
    """Raise Bound32Error naming every row whose worst case is not below its limit."""
    bad = [r for r in rows if not r["worst"] < r["limit"]]
    if bad:
        raise Bound32Error("; ".join("%s (%s): worst %d, limit %d" % (r["what"], r["where"], r["worst"], r["limit"])
                                     for r in bad))
    return rows


def check_model(model):
    return check(model_bounds(model))
