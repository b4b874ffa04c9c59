"""The motion recipe's convolutional embedding trained on any labelled series: a few-shot
candidate ("conv") beside pca and whiten (host_tools/evaluate/fewshot.py).

Input: the board's front end (train.frontend, one whole-window normalisation) at
train.default_length: 64 points for one channel, 16 for several. Model (motion.build):
conv1d, ReLU, conv1d, ReLU, max pool, dense, L2 norm, batch norm folded at export; the
motion net's kernels and strides at 64 points, smaller ones at 16 (arch_for).
Objective (as motion.py's): NT-Xent between two augmented views of each window plus
RECIPE["sup"] x a cosine softmax over the training classes. Augmentations for a generic series
(no 3-D rotation): a random crop resampled along a smooth time warp, a smooth per-channel gain
curve, noise. Exported to int8 by quantize.quantize_layers (activation scales from the maximum
over the training windows and augmented copies). Deterministic on one CPU thread: the same
seed gives the same model. PyTorch only here (tinyenroll[train]); available() says if it is.
"""
import importlib.util

import numpy as np

from . import motion, quantize, train

INPUT_SCALE = train.INPUT_SCALE
RECIPE = dict(steps=300, batch=64, lr=3e-3, wd=1e-4, tau=0.3, sup=0.5, crop=0.1, warp=0.2, gain=0.1,
              noise=0.02, calib_copies=8)
SMOKE = dict(steps=3, batch=8, calib_copies=1)
KNOTS = 4  # control points of the time warp and gain curves


def available():
    """True when PyTorch can be imported (the conv candidate is then offered)."""
    return importlib.util.find_spec("torch") is not None


def arch_for(length, dim=32):
    """motion.build's configuration for inputs of `length` points: the motion net's layers at 64
    points and more, kernel 3 stride 1 then kernel 3 stride 2 and pool 2 below (16 -> 14 -> 6 -> 3)."""
    if length >= 48:
        return dict(motion.ARCH, dim=dim)
    return dict(c1=16, k1=3, s1=1, c2=32, k2=3, s2=2, pool=2, dim=dim)


def _curve(rng, n, sigma, channels=1):
    """A smooth positive random curve (n, channels) around 1: exp of KNOTS normal values, interpolated."""
    knots = np.exp(rng.normal(0, sigma, (KNOTS, channels)))
    grid = np.linspace(0, 1, KNOTS)
    return np.stack([np.interp(np.linspace(0, 1, n), grid, knots[:, c]) for c in range(channels)], 1)


def view(s, length, rng, crop, warp, gain, noise, **_):
    """One augmented board input (int8, channels*length) of a series s (samples, channels) in
    dataset units: a crop of up to `crop` of its length at each end, resampled along a time warp,
    times a gain curve per channel, plus noise of `noise` x each channel's deviation."""
    n, channels = s.shape
    cut = int(crop * n)
    a, b = int(rng.integers(0, cut + 1)), n - int(rng.integers(0, cut + 1))
    if b - a < 2:
        a, b = 0, n
    speed = _curve(rng, b - a, warp)[:, 0]
    t = np.cumsum(speed) - speed[0]
    pos = a + t / max(t[-1], 1e-12) * (b - a - 1)
    j = np.minimum(np.floor(pos).astype(int), b - 2)
    f = (pos - j)[:, None]
    v = s[j] * (1 - f) + s[j + 1] * f
    v = v * _curve(rng, len(v), gain, channels) + rng.normal(0, noise, v.shape) * s.std(0)
    return train.frontend(train.to_int16(v), length)


def views(series, idx, length, rng, r):
    return np.stack([view(series[i], length, rng, **r) for i in idx])


def fit(series, labels, dim=32, length=None, seed=0, smoke=False, recipe=None):
    """(model dict, info) as train.fit gives them, for the conv embedding trained on these series
    with recipe (default RECIPE); info["float_layers"] holds the folded float layers (float_embed)."""
    torch = motion._torch()
    F = torch.nn.functional
    r = dict(recipe or RECIPE, **(SMOKE if smoke else {}))
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    length = length or train.default_length(series)
    channels = int(series[0].shape[1])
    classes = sorted(set(labels))
    y = np.array([classes.index(c) for c in labels])
    arch = arch_for(length, dim)
    net = motion.build(torch, arch, channels, length)
    head = torch.nn.Linear(dim, len(classes), bias=False)
    opt = torch.optim.AdamW(list(net.parameters()) + list(head.parameters()), lr=r["lr"], weight_decay=r["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=r["steps"], pct_start=0.1)

    def batch(idx):
        x = views(series, idx, length, rng, r).reshape(len(idx), channels, length)
        return torch.from_numpy(x.astype(np.float32) * INPUT_SCALE)
    for _ in range(r["steps"]):
        net.train()
        idx = rng.permutation(len(series))[:r["batch"]]  # no window twice: it would be its own negative
        za, zb = net(batch(idx)), net(batch(idx))
        logits = 10.0 * torch.cat([za, zb]) @ F.normalize(head.weight, dim=1).t()
        target = torch.from_numpy(np.concatenate([y[idx], y[idx]]))
        loss = motion.nt_xent(torch, za, zb, r["tau"]) + r["sup"] * F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    layers = net.layers()
    every = np.tile(np.arange(len(series)), r["calib_copies"])
    calib = np.concatenate([train.prepare_all(series, length), views(series, every, length, rng, r)])
    model = quantize.quantize_layers(layers, calib * INPUT_SCALE, INPUT_SCALE, in_channels=channels, pct=100.0)
    info = {"length": length, "channels": channels, "sensor_scale": train.SENSOR_SCALE, "input_scale": INPUT_SCALE,
            "embedding": dim, "method": "conv", "l2norm": True, "arch": arch, "train": r,
            "float_layers": motion.folded_arrays(layers)}
    return model, info


def float_embed(info, x_int8):
    """Float embeddings (unit length) of int8 inputs through the folded float layers."""
    return motion.forward_folded(info["float_layers"], x_int8, info["channels"], info["length"], info["arch"],
                                 info["input_scale"])
