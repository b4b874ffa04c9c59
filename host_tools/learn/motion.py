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
folded into the convolutions at export. Half of every SimCLR batch is synthetic posture changes
(Synth: built from still sitting/standing/laying stretches of the training recordings, see its
docstring), augmented the same way but rotated only up to 10 degrees, plus 1.0 x a cosine
softmax over their 18 posture sequences (sit->stand, stand->sit->lie, ...). The six real
transitions are never seen as data; the idea of a posture change is. Training is deterministic on one CPU thread: the same
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
              jitter=0.1, dyn=0.5, sup=0.5, min_len=75, max_len=400, syn_frac=0.5, syn_sup=1.0, syn_rot=10.0,
              syn_dynnoise=0.3, seed=0)
SMOKE = dict(steps=20, batch=32)


def _torch():
    try:
        import torch
    except ImportError:
        raise SystemExit('training the motion model needs PyTorch: pip install "tinyenroll[train]"') from None
    return torch


def build(torch, cfg=ARCH, channels=CHANNELS, length=LENGTH):
    """The float network: conv, conv, maxpool, dense, L2 norm, with batch norm while training.
    channels x length: the input window (the keyword recipe, kws.py, builds it for log-mel)."""
    nn = torch.nn
    F = torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg = dict(cfg)
            self.conv1 = nn.Conv1d(channels, cfg["c1"], cfg["k1"], cfg["s1"])
            self.bn1 = nn.BatchNorm1d(cfg["c1"])
            self.conv2 = nn.Conv1d(cfg["c1"], cfg["c2"], cfg["k2"], cfg["s2"])
            self.bn2 = nn.BatchNorm1d(cfg["c2"])
            t1 = (length - cfg["k1"]) // cfg["s1"] + 1
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

    def augment(self, v, rot):
        """The same augmentation applied to ready windows (n, LENGTH, 6): time warp (by
        re-interpolation), rotation up to rot degrees, dynamic gain, gain, noise."""
        rng = self.rng
        n = len(v)
        if self.warp:
            t = np.cumsum(np.exp(rng.normal(0, self.warp, (n, 4))) @ self.interp4.T, 1)
            t = (t - t[:, :1]) / (t[:, -1:] - t[:, :1]) * (LENGTH - 1)
            j = np.minimum(np.floor(t).astype(int), LENGTH - 2)
            f = (t - j)[..., None]
            idx = np.arange(n)[:, None]
            v = v[idx, j] * (1 - f) + v[idx, j + 1] * f
        if rot:
            ang = np.radians(rot) * rng.uniform(-1, 1, n)
            ax = rng.normal(size=(n, 3))
            ax /= np.linalg.norm(ax, axis=1, keepdims=True)
            R = _expm(ax * ang[:, None])
            v = np.concatenate([np.einsum("ntc,ndc->ntd", v[..., :3], R),
                                np.einsum("ntc,ndc->ntd", v[..., 3:], R)], 2)
        if self.dyn:
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


POSTURES = (4, 5, 6)  # sitting, standing, laying
HIP_HEIGHT = {4: 0.0, 5: 0.45, 6: -0.25}  # rough hip height (m) relative to sitting
SEQS = ([(a, b) for a in POSTURES for b in POSTURES if a != b]
        + [(a, b, c) for a in POSTURES for b in POSTURES for c in POSTURES if a != b and b != c])


def _skew(v):
    K = np.zeros(v.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    return K - np.swapaxes(K, -1, -2)


def _expm(v):
    """Rodrigues: axis-angle vectors (..., 3) -> rotation matrices (..., 3, 3)."""
    th = np.linalg.norm(v, axis=-1)[..., None, None]
    K = _skew(v / np.maximum(th[..., 0], 1e-12))
    return np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * (K @ K)


def _logm(R):
    """Rotation matrices (..., 3, 3) -> axis-angle vectors (..., 3)."""
    c = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1)
    th = np.arccos(c)
    w = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    s = np.sin(th)
    return w * np.where(s > 1e-6, th / (2 * np.maximum(s, 1e-12)), 0.5)[..., None]


def _rot_between(a, b):
    """The smallest rotation taking unit vectors a to b (rows)."""
    ax = np.cross(a, b)
    s = np.linalg.norm(ax, axis=-1)
    th = np.arctan2(s, (a * b).sum(-1))
    return _expm(ax / np.maximum(s, 1e-12)[..., None] * th[..., None])


def _minjerk(t):
    t = np.clip(t, 0, 1)
    return t ** 3 * (10 - 15 * t + 6 * t * t)


class Synth:
    """Synthetic posture-change windows: a waist-worn IMU while its wearer goes through 2 or 3
    still postures (sit, stand, lie; consecutive ones differ), labelled by the posture sequence
    (6 ordered pairs + 12 triples = 18 classes).

    Built only from still postures (labels 4-6) of the training recordings the sampler holds
    (subjects 1-18); no transition sample (labels 7-12) is read. For one recording: each
    posture's gravity vector is the mean accelerometer over a random 1 s of a real still segment
    of that posture; the orientation path world->body Q(t) goes from posture to posture by a
    geodesic rotation with a minimum-jerk profile (plus a random yaw up to 40 degrees about the
    vertical per posture, still pads before and after, a pause between the two moves of a
    triple, and a smooth random wobble up to 8 degrees). Accelerometer = Q(t) up x |g| plus the
    vertical acceleration of a hip-height change (stand 0.45 m, sit 0, lie -0.25 m, x U(0.5,
    1.3)); gyroscope = the body-frame angular velocity vee(Q dQ/dt^T) (sign checked on HAPT:
    dg/dt = -omega x g); both plus a real still chunk's residual and dynnoise x U(0, 1) x the
    zero-mean part of a random real allowed crop (body motion). 2-7 s on the LENGTH-point grid.
    """

    def __init__(self, sampler, rng, dynnoise, min_secs=2.0, max_secs=7.0, wobble=8.0, triple=0.4,
                 yaw=40.0, pad=0.15):
        self.s, self.rng = sampler, rng
        self.min_secs, self.max_secs, self.wobble, self.triple = min_secs, max_secs, wobble, triple
        self.dynnoise, self.yaw, self.pad = dynnoise, np.radians(yaw), pad
        per = {}  # {recording: {posture: [(a, b)]}}: still segments, in sampler.big's coordinates
        for (a, b), lab in zip(sampler.segs, sampler.seg_label):
            if lab in POSTURES and b - a >= 100:
                per.setdefault(int(sampler.rec_of[a]), {}).setdefault(int(lab), []).append((int(a), int(b)))
        self.per = {r: d for r, d in per.items() if len(d) >= 2}
        self.recs = sorted(self.per)
        self.rec_seqs = {r: [i for i, q in enumerate(SEQS) if all(p in self.per[r] for p in q)] for r in self.recs}

    def generate(self, n):
        """n windows (n, LENGTH, 6) in g and rad/s, and their posture-sequence classes 0-17."""
        rng = self.rng
        T = LENGTH
        big = self.s.big
        secs = rng.uniform(self.min_secs, self.max_secs, n)
        dt = secs / (T - 1)
        nsamp = (secs * hapt.RATE).astype(int)
        cls = np.empty(n, np.int64)
        G = np.empty((n, 3, 3))  # gravity vectors of the (up to) 3 postures
        H = np.zeros((n, 3))  # hip heights
        two = np.zeros(n, bool)  # two moves (a triple)
        noise = np.empty((n, T, 6))
        tt = np.linspace(0, 1, T)
        for i in range(n):
            r = self.recs[int(rng.integers(len(self.recs)))]
            opts = self.rec_seqs[r]
            pairs = [k for k in opts if len(SEQS[k]) == 2]
            trips = [k for k in opts if len(SEQS[k]) == 3]
            pool = trips if (trips and rng.random() < self.triple) else pairs
            k = pool[int(rng.integers(len(pool)))]
            seq = SEQS[k]
            cls[i] = k
            two[i] = len(seq) == 3
            for j, p in enumerate(seq):
                segs = self.per[r][p]
                a, b = segs[int(rng.integers(len(segs)))]
                st = a + int(rng.integers(0, max(1, b - a - 50)))
                G[i, j] = big[st:st + 50, :3].mean(0)
                H[i, j] = HIP_HEIGHT[p]
                if j == 0:  # the first posture's real still chunk gives the sensor noise
                    ln = min(int(nsamp[i]), b - a)
                    s0 = a + int(rng.integers(0, b - a - ln + 1))
                    pos = s0 + tt * (ln - 1)
                    jj = np.minimum(np.floor(pos).astype(int), s0 + ln - 2)
                    f = (pos - jj)[:, None]
                    noise[i] = big[jj] * (1 - f) + big[jj + 1] * f
            if len(seq) == 2:
                G[i, 2], H[i, 2] = G[i, 1], H[i, 1]
        noise -= noise.mean(1, keepdims=True)
        mag = np.linalg.norm(G, axis=2)
        gh = G / mag[..., None]
        u = np.array([1.0, 0.0, 0.0])
        Q0 = _rot_between(np.tile(u, (n, 1)), gh[:, 0])
        yaw = rng.uniform(-self.yaw, self.yaw, (n, 3))
        yaw[:, 0] = 0
        yaw[~two, 2] = yaw[~two, 1]
        Qs = [_rot_between(gh[:, 0], gh[:, j]) @ Q0 @ _expm(u[None] * yaw[:, j:j + 1]) for j in range(3)]
        # schedule: pre pad, move 1, pause, move 2 (none for pairs), post pad
        pre, post = rng.uniform(0, self.pad, (2, n))
        pause = np.where(two, rng.uniform(0, 0.2, n), 0.0)
        avail = 1 - pre - post - pause
        w = rng.uniform(0.6, 1.4, (n, 2))
        w[~two, 1] = 0
        lens = avail[:, None] * w / w.sum(1, keepdims=True)
        s1 = _minjerk((tt[None] - pre[:, None]) / lens[:, :1])
        st2 = pre + lens[:, 0] + pause
        s2 = np.where(two[:, None], _minjerk((tt[None] - st2[:, None]) / np.maximum(lens[:, 1:], 1e-9)), 0.0)
        rel1 = _logm(np.swapaxes(Qs[0], 1, 2) @ Qs[1])
        rel2 = _logm(np.swapaxes(Qs[1], 1, 2) @ Qs[2])
        Q = np.where((tt[None] < st2[:, None])[..., None, None],
                     Qs[0][:, None] @ _expm(s1[..., None] * rel1[:, None]),
                     Qs[1][:, None] @ _expm(s2[..., None] * rel2[:, None]))
        if self.wobble:
            knots = rng.normal(0, 1, (n, 6, 3)) * (np.radians(self.wobble) * rng.random(n))[:, None, None]
            basis = np.stack([np.interp(tt, np.linspace(0, 1, 6), np.eye(6)[k]) for k in range(6)], 1)
            Q = _expm(np.einsum("tk,nkc->ntc", basis, knots)) @ Q
        g_b = Q[..., 0]  # Q u, u = e_x
        gmag = mag[:, :1] + s1 * (mag[:, 1:2] - mag[:, :1]) + s2 * (mag[:, 2:3] - mag[:, 1:2])
        Qd = np.gradient(Q, axis=1) / dt[:, None, None, None]
        Om = Q @ np.swapaxes(Qd, 2, 3)
        wb = np.stack([Om[..., 2, 1], Om[..., 0, 2], Om[..., 1, 0]], 2)
        k = rng.uniform(0.5, 1.3, (n, 2))
        h = s1 * (H[:, 1:2] - H[:, :1]) * k[:, :1] + s2 * (H[:, 2:3] - H[:, 1:2]) * k[:, 1:]
        hdd = np.gradient(np.gradient(h, axis=1), axis=1) / (dt[:, None] ** 2) / 9.81
        acc = g_b * gmag[..., None] + hdd[..., None] * g_b
        out = np.concatenate([acc, wb], 2) + noise
        if self.dynnoise:  # body motion: the dynamic part of a random real crop, not augmented
            s = self.s
            a, b = s.crops(n)
            save = (s.rot, s.warp, s.gain, s.noise, s.jitter, s.dyn)
            s.rot = s.warp = s.gain = s.noise = s.jitter = s.dyn = 0
            d = s.views(a, b)
            s.rot, s.warp, s.gain, s.noise, s.jitter, s.dyn = save
            d = d - d.mean(1, keepdims=True)
            out += d * (self.dynnoise * rng.random((n, 1, 1)))
        return out, cls


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


def nt_xent(torch, za, zb, tau):
    """SimCLR's NT-Xent: row i of za and row i of zb (unit embeddings of two views of one
    window) are positives, every other row of the batch a negative; temperature tau."""
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
    synth = Synth(sampler, rng, r["syn_dynnoise"])
    net = build(torch)
    head = torch.nn.Linear(ARCH["dim"], 6, bias=False)
    shead = torch.nn.Linear(ARCH["dim"], len(SEQS), bias=False)
    params = list(net.parameters()) + list(head.parameters()) + list(shead.parameters())
    opt = torch.optim.AdamW(params, lr=r["lr"], weight_decay=r["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=r["steps"], pct_start=0.1)
    nsyn = int(round(r["batch"] * r["syn_frac"]))
    t0 = time.time()
    for step in range(r["steps"]):
        net.train()
        a, b = sampler.crops(r["batch"] - nsyn)
        va, vb = sampler.views(a, b), sampler.views(a, b)
        sv, sc = synth.generate(nsyn)  # synthetic posture changes: the last nsyn of each view batch
        va = np.concatenate([va, sampler.augment(sv, r["syn_rot"])])
        vb = np.concatenate([vb, sampler.augment(sv, r["syn_rot"])])
        za, zb = net(torch.from_numpy(float_frontend(va))), net(torch.from_numpy(float_frontend(vb)))
        loss = nt_xent(torch, za, zb, r["tau"])
        xs, ys = sampler.labelled(r["batch"] // 2)
        logits = 10.0 * net(torch.from_numpy(xs)) @ F.normalize(head.weight, dim=1).t()
        loss = loss + r["sup"] * F.cross_entropy(logits, torch.from_numpy(ys))
        logits = 10.0 * torch.cat([za[-nsyn:], zb[-nsyn:]]) @ F.normalize(shead.weight, dim=1).t()
        loss = loss + r["syn_sup"] * F.cross_entropy(logits, torch.from_numpy(np.concatenate([sc, sc])))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 300 == 0 or step + 1 == r["steps"]:
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
    write_sidecars(path, info, layers)
    return model


def write_sidecars(path, info, layers):
    """Beside the model at path: info as path.json (the front end the board must run) and the
    folded float layers as path.float.npz (what float_forward reads)."""
    with open(path + ".json", "w") as f:
        json.dump(info, f, indent=1)
    np.savez(path + ".float.npz", **folded_arrays(layers))


def folded_arrays(layers):
    """{"w0": ..., "b0": ..., ...}: the weights and biases of net.layers()'s conv and dense
    layers, keyed by layer index (what .float.npz holds and forward_folded takes)."""
    arrays = {}
    for i, layer in enumerate(layers):
        if layer[0] in ("conv1d", "dense"):
            arrays["w%d" % i], arrays["b%d" % i] = layer[1], layer[2]
    return arrays


def float_forward(path, x, channels=CHANNELS, length=LENGTH, arch=ARCH, input_scale=INPUT_SCALE):
    """Float embeddings of int8 inputs x (n, channels*length) with the folded float layers saved
    beside the model: the float column the int8 model is compared with."""
    with np.load(path + ".float.npz", allow_pickle=False) as z:
        f = {k: z[k] for k in z.files}
    return forward_folded(f, x, channels, length, arch, input_scale)


def forward_folded(f, x, channels=CHANNELS, length=LENGTH, arch=ARCH, input_scale=INPUT_SCALE):
    """Float embeddings (unit length) of int8 inputs x (n, channels*length) through the folded
    layers f (folded_arrays)."""
    a = np.asarray(x, np.float64).reshape(len(x), channels, length) * input_scale
    for i, s in ((0, arch["s1"]), (1, arch["s2"])):
        a = np.maximum(quantize.conv_float(a, f["w%d" % i], f["b%d" % i], s), 0.0)
    p = arch["pool"]
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
