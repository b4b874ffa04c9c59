"""The motion recipe: a 6-axis IMU embedding pretrained on UCI HAPT, exported as an int8 model.

    tinyenroll train --recipe motion [--out host_tools/models/motion.tem] [--smoke]

What it sees: HAPT subjects 1-18 only (hapt.load(18)); the six basic activities (labels 1-6)
and the unlabelled stretches (-1); never a window that touches a postural transition (labels
7-12, the novel classes the evaluation enrolls). Every choice below was made on validation
subjects 19-24 (README's table); test subjects 25-30 are for `fewshot --dataset hapt
--final-test` only.

Model: conv1d(6->16, k7, s3) relu, conv1d(16->32, k3, s2) relu, maxpool 3, dense(96->32),
L2 norm: 5,280 int8 weights, 30,336 multiply-adds per window. Input: the board's front end
(frontend.prepare, 2 groups: accelerometer, gyroscope) of a window resampled to 64 points.
Objective: SimCLR (NT-Xent, temperature 0.3) between two augmented views of random crops
(1.5-8 s, resampled to 64 points so speed varies; smooth time warp; a random 3-D rotation up
to 30 degrees applied to both sensors, for a board mounted another way; accelerometer dynamic
gain; gain; noise), plus 0.5 x a cosine softmax over the six basic activities; batch norm,
folded into the convolutions at export. Training is deterministic on one CPU thread: the same
seed gives the same model file.

PyTorch is needed only here: `pip install "tinyenroll[train]"` (torch 2.13.0, CPU).
"""
import json
import time

import numpy as np

from . import quantize, train as train_mod
from ..data import hapt
from ..oracle import modelfile

LENGTH = 64
CHANNELS = 6
GROUPS = 2
INPUT_SCALE = 1.0 / 32
ARCH = dict(c1=16, k1=7, s1=3, c2=32, k2=3, s2=2, pool=3, dim=32)
RECIPE = dict(steps=1200, batch=256, lr=3e-3, wd=1e-4, tau=0.3, rot=30.0, warp=0.2, gain=0.1, noise=0.02,
              jitter=0.1, dyn=0.5, sup=0.5, min_len=75, max_len=400, seed=0)
SMOKE = dict(steps=20, batch=32)


def _torch():
    try:
        import torch
    except ImportError:
        raise SystemExit('training the motion model needs PyTorch: pip install "tinyenroll[train]"') from None
    return torch


def build(torch, cfg=ARCH):
    """The float network: conv, conv, maxpool, dense, L2 norm, with batch norm while training."""
    nn = torch.nn
    F = torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg = dict(cfg)
            self.conv1 = nn.Conv1d(CHANNELS, cfg["c1"], cfg["k1"], cfg["s1"])
            self.bn1 = nn.BatchNorm1d(cfg["c1"])
            self.conv2 = nn.Conv1d(cfg["c1"], cfg["c2"], cfg["k2"], cfg["s2"])
            self.bn2 = nn.BatchNorm1d(cfg["c2"])
            t1 = (LENGTH - cfg["k1"]) // cfg["s1"] + 1
            t2 = (t1 - cfg["k2"]) // cfg["s2"] + 1
            self.fc = nn.Linear(cfg["c2"] * (t2 // cfg["pool"]), cfg["dim"])

        def forward(self, x):
            h = F.relu(self.bn1(self.conv1(x)))
            h = F.relu(self.bn2(self.conv2(h)))
            h = F.max_pool1d(h, self.cfg["pool"])
            return F.normalize(self.fc(h.flatten(1)), dim=1)

        def layers(self):
            """Float layers with batch norm folded in, as quantize.quantize_layers takes them."""
            out = []
            for conv, bn, s in ((self.conv1, self.bn1, cfg["s1"]), (self.conv2, self.bn2, cfg["s2"])):
                g = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
                W = conv.weight.detach().double() * g[:, None, None]
                b = (conv.bias.detach().double() - bn.running_mean.double()) * g + bn.bias.detach().double()
                out.append(("conv1d", W.numpy(), b.numpy(), s, True))
            out.append(("maxpool", cfg["pool"]))
            out.append(("dense", self.fc.weight.detach().double().numpy(), self.fc.bias.detach().double().numpy(), False))
            return out

    return Net()


class Sampler:
    """Random augmented windows from the allowed stretches, vectorised over a batch."""

    def __init__(self, recs, rng, rot, warp, gain, noise, jitter, dyn, min_len, max_len, **_):
        self.big = np.concatenate([np.concatenate([r["acc"], r["gyro"]], 1) for r in recs])
        lens = np.array([len(r["label"]) for r in recs])
        self.off = np.concatenate([[0], np.cumsum(lens)])
        bad = np.concatenate([np.isin(r["label"], hapt.TRANSITIONS) for r in recs])
        self.bad = np.concatenate([[0], np.cumsum(bad)])
        self.rec_of = np.repeat(np.arange(len(recs)), lens)
        segs, labs = [], []
        for i, r in enumerate(recs):
            for a, b, lab in hapt.segments(r, (-1,) + hapt.BASIC):
                if b - a >= min_len:
                    segs.append((self.off[i] + a, self.off[i] + b))
                    labs.append(lab)
        self.segs = np.array(segs)
        self.seg_label = np.array(labs)
        self.rng = rng
        self.min_len, self.max_len = min_len, max_len
        self.rot, self.warp, self.gain, self.noise, self.jitter, self.dyn = rot, warp, gain, noise, jitter, dyn
        self.std = self.big.std(0)
        self.interp4 = np.stack([np.interp(np.linspace(0, 1, LENGTH), np.linspace(0, 1, 4), np.eye(4)[k])
                                 for k in range(4)], 1)

    def _ok(self, a, b):
        """Crops [a, b) inside one recording that touch no transition sample."""
        n = len(self.big)
        b1 = np.minimum(b, n)
        same = self.rec_of[np.minimum(a, n - 1)] == self.rec_of[np.maximum(b1 - 1, 0)]
        return same & (b <= n) & (self.bad[b1] - self.bad[a] == 0)

    def crops(self, n):
        out_a, out_b = [], []
        while sum(len(x) for x in out_a) < n:
            ln = self.rng.integers(self.min_len, self.max_len + 1, 2 * n)
            a = self.rng.integers(0, len(self.big) - self.max_len, 2 * n)
            ok = self._ok(a, a + ln)
            out_a.append(a[ok])
            out_b.append((a + ln)[ok])
        return np.concatenate(out_a)[:n], np.concatenate(out_b)[:n]

    def views(self, a, b):
        """Augmented crops resampled to LENGTH points: (n, LENGTH, 6) in sensor units."""
        rng = self.rng
        n = len(a)
        if self.jitter:
            d = (self.jitter * (b - a)).astype(int)
            a2 = np.maximum(a + (rng.random(n) * (2 * d + 1)).astype(int) - d, 0)
            b2 = b + (rng.random(n) * (2 * d + 1)).astype(int) - d
            ok = (b2 - a2 >= 20) & self._ok(a2, b2)
            a, b = np.where(ok, a2, a), np.where(ok, b2, b)
        if self.warp:
            t = np.cumsum(np.exp(rng.normal(0, self.warp, (n, 4))) @ self.interp4.T, 1)
            t = (t - t[:, :1]) / (t[:, -1:] - t[:, :1])
        else:
            t = np.tile(np.linspace(0, 1, LENGTH), (n, 1))
        pos = a[:, None] + t * (b - a - 1)[:, None]
        j = np.minimum(np.floor(pos).astype(int), (b - 2)[:, None])
        f = (pos - j)[..., None]
        v = self.big[j] * (1 - f) + self.big[j + 1] * f
        if self.rot:  # the same random rotation of both sensors: a board mounted another way
            ang = np.radians(self.rot) * rng.uniform(-1, 1, n)
            ax = rng.normal(size=(n, 3))
            ax /= np.linalg.norm(ax, axis=1, keepdims=True)
            K = np.zeros((n, 3, 3))
            K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -ax[:, 2], ax[:, 1], -ax[:, 0]
            K = K - K.transpose(0, 2, 1)
            R = np.eye(3) + np.sin(ang)[:, None, None] * K + (1 - np.cos(ang))[:, None, None] * (K @ K)
            v = np.concatenate([np.einsum("ntc,ndc->ntd", v[..., :3], R),
                                np.einsum("ntc,ndc->ntd", v[..., 3:], R)], 2)
        if self.dyn:  # people move more or less vigorously: scale the acceleration around gravity
            pad = np.pad(v[..., :3], ((0, 0), (5, 4), (0, 0)), mode="edge")
            cs = np.cumsum(pad, 1)
            slow = (cs[:, 9:] - cs[:, :-9]) / 9
            g = np.exp(rng.uniform(-self.dyn, self.dyn, (n, 1, 1)))
            v = np.concatenate([slow + g * (v[..., :3] - slow), v[..., 3:]], 2)
        if self.gain:
            v = v * rng.uniform(1 - self.gain, 1 + self.gain, (n, 1, 1))
        if self.noise:
            v = v + rng.normal(0, self.noise, v.shape) * self.std
        return v

    def pairs(self, n):
        a, b = self.crops(n)
        return float_frontend(self.views(a, b)), float_frontend(self.views(a, b))

    def labelled(self, n):
        """n crops inside basic-activity segments, not jittered, and their labels 0-5."""
        pool = np.flatnonzero(self.seg_label > 0)
        k = pool[self.rng.integers(0, len(pool), n)]
        s = self.segs[k]
        span = s[:, 1] - s[:, 0]
        ln = (self.min_len + self.rng.random(n) * (np.minimum(self.max_len, span) - self.min_len + 1)).astype(int)
        a = s[:, 0] + (self.rng.random(n) * (span - ln + 1)).astype(int)
        jitter, self.jitter = self.jitter, 0
        v = self.views(a, a + ln)
        self.jitter = jitter
        return float_frontend(v), self.seg_label[k] - 1


def float_frontend(v):
    """Float twin of the board's front end after resampling: (n, LENGTH, 6) -> (n, 6, LENGTH)
    float32, each sensor group z-normalised, quantised to the int8 grid (1/32 of a deviation)."""
    v = np.asarray(v, np.float64).copy()
    v[..., 3:] *= (180 / np.pi) * hapt.GYRO_LSB_PER_DPS / hapt.ACC_LSB_PER_G  # the chip's LSB ratio
    x = np.transpose(v, (0, 2, 1))
    out = np.empty_like(x)
    per = CHANNELS // GROUPS
    for g in range(GROUPS):
        s = x[:, g * per:(g + 1) * per]
        m = s.mean(axis=(1, 2), keepdims=True)
        sd = np.sqrt(((s - m) ** 2).mean(axis=(1, 2), keepdims=True)) + 1e-6
        out[:, g * per:(g + 1) * per] = (s - m) / sd
    return (np.clip(np.round(out * 32), -128, 127) / 32).astype(np.float32)


def board_input(lsb):
    """A window of raw MPU-6050 readings (n, 6) -> the model's int8 input, as the board computes it."""
    return train_mod.frontend(lsb, LENGTH, GROUPS)


def _nt_xent(torch, za, zb, tau):
    z = torch.cat([za, zb])
    n = za.shape[0]
    sim = z @ z.t() / tau
    sim.fill_diagonal_(-1e9)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return torch.nn.functional.cross_entropy(sim, target)


def train(recipe=RECIPE, smoke=False, log=print):
    """(trained float net, seconds). Subjects 1-18 only; smoke: a few steps on 4 recordings."""
    torch = _torch()
    F = torch.nn.functional
    r = dict(recipe, **(SMOKE if smoke else {}))
    torch.manual_seed(r["seed"])
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(r["seed"])
    recs = hapt.load(18)
    if smoke:
        recs = recs[:4]
    assert max(rec["subject"] for rec in recs) <= 18, "the motion recipe trains on subjects 1-18 only"
    sampler = Sampler(recs, rng, **r)
    net = build(torch)
    head = torch.nn.Linear(ARCH["dim"], 6, bias=False)
    opt = torch.optim.AdamW(list(net.parameters()) + list(head.parameters()), lr=r["lr"], weight_decay=r["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=r["steps"], pct_start=0.1)
    t0 = time.time()
    for step in range(r["steps"]):
        net.train()
        xa, xb = sampler.pairs(r["batch"])
        loss = _nt_xent(torch, net(torch.from_numpy(xa)), net(torch.from_numpy(xb)), r["tau"])
        xs, ys = sampler.labelled(r["batch"] // 2)
        logits = 10.0 * net(torch.from_numpy(xs)) @ F.normalize(head.weight, dim=1).t()
        loss = loss + r["sup"] * F.cross_entropy(logits, torch.from_numpy(ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 250 == 0 or step + 1 == r["steps"]:
            log("step %d/%d loss %.3f (%.0f s)" % (step + 1, r["steps"], loss.item(), time.time() - t0))
    net.eval()
    return net, time.time() - t0


def calibration(n=1000, seed=1):
    """Un-augmented random training windows (subjects 1-18) for the activation scales."""
    s = Sampler(hapt.load(18), np.random.default_rng(seed), rot=0, warp=0, gain=0, noise=0, jitter=0, dyn=0,
                min_len=RECIPE["min_len"], max_len=RECIPE["max_len"])
    a, b = s.crops(n)
    return float_frontend(s.views(a, b))


def export(net, path, seconds, smoke=False):
    """Write the int8 model (+ .json sidecar with the front end the board must run, + the
    folded float layers as .float.npz for the float column of the evaluation)."""
    layers = net.layers()
    calib = calibration(100 if smoke else 1000)
    # the maximum, not the 99.9th percentile: transitions move more than most training windows,
    # and a clipped scale cost 2-3 points on validation
    model = quantize.quantize_layers(layers, calib, INPUT_SCALE, in_channels=CHANNELS, pct=100.0)
    modelfile.write(path, model)
    info = {"recipe": "motion", "length": LENGTH, "channels": CHANNELS, "groups": GROUPS,
            "input_scale": INPUT_SCALE, "embedding": ARCH["dim"], "sensor": "mpu6050",
            "accel_g": 4, "gyro_dps": 500, "rate_hz": hapt.RATE, "arch": ARCH,
            "train": dict(RECIPE, **(SMOKE if smoke else {})), "train_seconds": round(seconds, 1),
            "data": "UCI HAPT subjects 1-18, labels 1-6 and -1, no transition sample"}
    with open(path + ".json", "w") as f:
        json.dump(info, f, indent=1)
    arrays = {}
    for i, layer in enumerate(layers):
        if layer[0] in ("conv1d", "dense"):
            arrays["w%d" % i], arrays["b%d" % i] = layer[1], layer[2]
    np.savez(path + ".float.npz", **arrays)
    return model


def float_forward(path, x):
    """Float embeddings of int8 inputs x (n, 6*LENGTH) with the folded float layers saved
    beside the model: the float column the int8 model is compared with."""
    with np.load(path + ".float.npz", allow_pickle=False) as z:
        f = {k: z[k] for k in z.files}
    a = np.asarray(x, np.float64).reshape(len(x), CHANNELS, LENGTH) * INPUT_SCALE
    for i, s in ((0, ARCH["s1"]), (1, ARCH["s2"])):
        a = np.maximum(quantize.conv_float(a, f["w%d" % i], f["b%d" % i], s), 0.0)
    p = ARCH["pool"]
    lo = a.shape[2] // p
    a = a[:, :, :lo * p].reshape(len(a), a.shape[1], lo, p).max(3)
    z = a.reshape(len(a), -1) @ f["w3"].T + f["b3"]
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def run(out, smoke=False, log=print):
    net, seconds = train(smoke=smoke, log=log)
    model = export(net, out, seconds, smoke)
    w = sum(int(layer["w"].size) for layer in model["layers"] if "w" in layer)
    log("wrote %s: %d int8 weights, trained in %.0f s%s" % (out, w, seconds, " (smoke)" if smoke else ""))
    return model
