"""Evaluate the on-device anomaly detector on recordings shipped in the aeon wheel.

What is measured, per recording: the detector learns "normal" on the opening stretch
(no labelled anomaly in it), then scores every later window. ROC-AUC of the score, the
labelled anomaly episodes caught at the self-calibrated threshold (an episode is caught
when a flagged window overlaps it) and the false-alarm rate (flagged share of normal
windows), next to two baselines fitted on the same windows and features: per-feature
z-score (sum of squared z) and K-means distance to the nearest centroid (Edge Impulse's
anomaly block), each thresholded at the maximum of its own learning-phase scores.

Settings cannot flatter themselves: the scored windows of every recording are split in time
(Recording.split). The first half (selection) chooses the detector's settings: k (1, 2, 4),
threshold factor (x1, x3/2, x2 of the calibrated threshold), drift adaptation (off, every 16th
calm window) and features (with the level, or level-free: features.py level=False), 36 in all.
The selection metric is balanced accuracy at the threshold (per recording, the mean of the
share of anomalous windows flagged, when it has any, and the share of normal windows not
flagged), averaged over the recordings; the best mean wins, ties go to the earlier setting in
grid() (defaults first). Those runs stop before the first held-out window. Every figure printed
is then computed on the held-out windows only: those after the selection half that share no
sample with it. The detector keeps running through the selection half first (a board runs
continuously), with the same windows for the baselines. One setting is chosen for all
recordings together.

Recordings (all inside aeon==1.6.0, read offline from the wheel):
  daphnet     Daphnet_S06R02E0, 9 accelerometer axes at 64 Hz. The excerpt aeon ships has
              NO labelled freezing-of-gait episode (aeon 1.6.0 says so itself), so on it only
              the false-alarm rate is measurable.
  daphnet+fog the same recording with freezing-like episodes inserted into the scored part
              (leg and ankle axes replaced by a 5-7 Hz trembling around the local posture,
              amplitude half the local gait deviation): semi-synthetic, labelled by us.
  bleeding    KDD-TSAD 135 (UCR InternalBleeding16): a real heart-rate recording with one
              labelled anomaly; learn on its TRAIN part, score its TEST part.
  bleeding+trend  the same, with a slow level ramp added to TEST (linear, from 0 to 4 standard
              deviations of TRAIN at its end): semi-synthetic, the slow drift a sensor's offset
              or a machine's temperature makes; the anomaly is the recorded one.
  ecg         ecg-diff-count-3 (GutenTAG synthetic ECG): learn on TRAIN_NA (normal),
              score TEST (three labelled anomalies). Generated data, starred as such.

Slow drift is measured on every recording with the chosen k and threshold: no fix, drift
adaptation only, level-free features only, both (the "slow drift" table).

Features are integers made only of sums, differences, absolute values and floor divisions
of the samples (moving averages as band filters). Every window's features (with and without
the level) are computed by the firmware code (tinyenroll.features.band_features /
shape_features) and by numpy here, and the run fails if they differ. The detector itself is
the firmware code (tinyenroll.anomaly) run under CPython with the kernel backend chosen by
--backend, and every threshold and score is checked against host_tools/oracle/anomaly_ref.py
(the run fails if one differs); --micropython does the same in the real interpreter at 96K.
"""
import json
import os

import numpy as np

from ..data.aeon import read_csv
from ..oracle.errors import DataError

DAPHNET = "aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv"
BLEEDING = "aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_%s.csv"
ECG = "aeon/datasets/data/UnitTest/ecg-diff-count-3_%s.csv"


# ---------------------------------------------------------------- data
DAPHNET_AXES = ["ankle_horiz_fwd", "ankle_vert", "ankle_horiz_lateral", "leg_horiz_fwd", "leg_vert",
                "leg_horiz_lateral", "trunk_horiz_fwd", "trunk_vert", "trunk_horiz_lateral"]


def daphnet():
    x, y = read_csv(DAPHNET, DAPHNET_AXES)
    return x.astype(np.int64), y


def insert_fog(x, y, start, hz=64, episodes=4, seconds=4, seed=7):
    """Copy of (x, y) with freezing-like episodes on the 6 leg/ankle axes after sample `start`."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    y = y.copy()
    n = len(x)
    length = seconds * hz
    gap = (n - start) // episodes
    t = np.arange(length) / hz
    for e in range(episodes):
        s = start + e * gap + int(rng.integers(hz, max(hz + 1, gap - length - hz)))
        seg = x[s:s + length, :6]
        f = rng.uniform(5.0, 7.0)
        posture = seg.mean(axis=0)
        amp = 0.5 * np.abs(seg - posture).mean(axis=0) * np.sqrt(2)
        wobble = np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))[:, None] * amp[None, :]
        noise = rng.normal(0, 1, seg.shape) * amp[None, :] * 0.2
        x[s:s + length, :6] = np.round(posture + wobble + noise).astype(np.int64)
        y[s:s + length] = 1
    return x, y


def univariate(relpath, column, scale):
    """Integer samples (n, 1) = round(value * scale), as an ADC would deliver them, and labels."""
    x, y = read_csv(relpath, [column])
    return np.round(x * scale).astype(np.int64), y


# ---------------------------------------------------------------- features

def shape_features(w, points=16, level=True):
    """Univariate shape: the window (size, 1) averaged into `points` blocks, minus its mean,
    then its mean (0 when level=False) and mean |dev|. Integer floor divisions throughout."""
    x = w[:, 0].astype(np.int64)
    n = len(x)
    mean = x.sum() // n
    b = n // points
    blocks = x[:b * points].reshape(points, b).sum(axis=1) // b - mean
    mad = np.abs(x - mean).sum() // n
    return np.concatenate([blocks, [mean if level else 0, mad]]).astype(np.int64)


def windows(n, size, hop):
    return [(s, s + size) for s in range(0, n - size + 1, hop)]


def band_features(w, rate_hz=64, level=True):
    """Per channel of an int window (size, C) sampled at rate_hz: mean (0 when level=False), mean |dev|, 3-8 Hz and
    <3 Hz L1 power, and crossings of the short (8 Hz null) average through the mean; moving
    averages over a and b samples (8 and 21 at 64 Hz, scaled to the rate and rounded: the
    firmware's features.band_lengths rule). All integer (floor divisions)."""
    a = max(2, (8 * rate_hz + 32) // 64)
    b = max(a + 1, (21 * rate_hz + 32) // 64)
    off = (b - a) // 2
    n, c = w.shape
    out = []
    for ch in range(c):
        x = w[:, ch].astype(np.int64)
        mean = x.sum() // n
        mad = np.abs(x - mean).sum() // n
        cs = np.concatenate([[0], np.cumsum(x)])
        lpa = (cs[a:] - cs[:-a]) // a          # nulls at rate/a (8 Hz at 64 Hz)
        lpb = (cs[b:] - cs[:-b]) // b          # nulls near 3 Hz
        m = len(lpb)
        hi = lpa[off:off + m] - lpb            # centres aligned
        lo = lpb - mean
        fog = np.abs(hi).sum() // m
        loco = np.abs(lo).sum() // m
        z = lpa - mean
        zc = int(((z[1:] >= 0) != (z[:-1] >= 0)).sum())
        out.extend([mean if level else 0, mad, fog, loco, zc])
    return np.array(out, dtype=np.int64)


# ---------------------------------------------------------------- recordings

SEMI = "SEMI-SYNTHETIC"
SYNTHETIC_NOTES = {
    "daphnet+fog": SEMI + ": its anomalies were inserted by this tool (5-7 Hz tremor freezes, inside the "
                   "detector's own 3-8 Hz band), not recorded: no evidence about real freezing of gait",
    "bleeding+trend": SEMI + ": the real recording with a slow level ramp added by this tool (rising linearly by "
                      "4 standard deviations of TRAIN over TEST); its anomaly is the recorded one",
    "ecg": "SYNTHETIC: GutenTAG-generated ECG with generated anomalies (aeon's unit-test data), not a recording",
}


class Recording:
    """Learning windows (features) and scored windows (features, labels, episode ids).

    The scored windows are split in time (split()): the first half chooses the settings, the
    windows after it that share no sample with it are the reported (held-out) part."""

    def __init__(self, name, note, learn, test, labels, episodes, raw=None, rate_hz=64, semi_synthetic=False,
                 level_idx=(), starts=None, size=1):
        self.name = name
        self.semi_synthetic = semi_synthetic  # anomalies or drift inserted by this tool, not recorded ones
        self.synthetic_note = SYNTHETIC_NOTES.get(name) if semi_synthetic or name == "ecg" else None
        self.rate_hz = rate_hz        # the samples' rate: band features' filter lengths follow it
        self.raw = raw                # (kind, points, learn windows, test windows) for on-device runs
        self.note = note
        self.learn = learn
        self.test = test
        self.labels = labels
        self.episodes = episodes      # per scored window: list of episode ids it overlaps
        self.n_episodes = len(set(e for ep in episodes for e in ep))
        self.level_idx = list(level_idx)   # the features that are a window's level (its mean)
        # first sample of each scored window (in the scored stream) and the window length
        self.starts = np.arange(len(test)) if starts is None else np.asarray(starts)
        self.size = size

    def split(self):
        """(selection, held-out) index arrays of the scored windows: the first half in time, and
        every later window that starts after the last selection window ends (no shared sample)."""
        n = len(self.test)
        h = max(1, n // 2)
        end = self.starts[h - 1] + self.size
        held = np.array([i for i in range(h, n) if self.starts[i] >= end], dtype=np.int64)
        return np.arange(h), held

    def features(self, level):
        """(learn, test) features; level=False: the level slots hold 0 (features.py level=False)."""
        if level:
            return self.learn, self.test
        L, T = self.learn.copy(), self.test.copy()
        L[:, self.level_idx] = 0
        T[:, self.level_idx] = 0
        return L, T


def _episode_ids(y):
    d = np.diff(np.concatenate([[0], y, [0]]))
    ids = np.zeros(len(y), dtype=np.int64) - 1
    for i, (s, e) in enumerate(zip(np.where(d == 1)[0], np.where(d == -1)[0])):
        ids[s:e] = i
    return ids


def firmware_features(w, kind, points=16, rate_hz=64, level=True):
    """The same features computed by the firmware code (tinyenroll.features) for one window."""
    from tinyenroll import features
    n, c = w.shape
    if kind == "band":
        out = [0] * (5 * c)
        features.band_features([int(v) for v in w.reshape(-1)], n, c, out, rate_hz, level)
    else:
        out = [0] * (points + 2)
        features.shape_features([int(v) for v in w[:, 0]], n, points, out, level)
    return out


def level_indices(kind, dim, points=16):
    return list(range(0, dim, 5)) if kind == "band" else [points]


def _windowed(x, y, size, hop, kind, points=16, rate_hz=64):
    ids = _episode_ids(y)
    W = windows(len(x), size, hop)
    if kind == "band":
        F = np.array([band_features(x[s:e], rate_hz) for s, e in W], dtype=np.int64)
    else:
        F = np.array([shape_features(x[s:e], points) for s, e in W], dtype=np.int64)
    lv = level_indices(kind, F.shape[1], points)
    for (s, e), f in zip(W, F):
        if firmware_features(x[s:e], kind, points, rate_hz) != f.tolist():
            raise AssertionError("firmware features differ from the numpy ones at window %d" % s)
        free = f.copy()
        free[lv] = 0
        if firmware_features(x[s:e], kind, points, rate_hz, False) != free.tolist():
            raise AssertionError("firmware level-free features differ from the numpy ones at window %d" % s)
    raw = [x[s:e] for s, e in W]
    L = np.array([bool(y[s:e].any()) for s, e in W])
    E = [sorted(set(int(i) for i in ids[s:e] if i >= 0)) for s, e in W]
    return F, L, E, raw


def add_trend(train, test, sds=4):
    """test plus a linear level ramp from 0 to `sds` standard deviations of train (rounded ints)."""
    rise = sds * float(train.std())
    return test + np.round(np.arange(len(test)) * rise / len(test)).astype(np.int64)[:, None]


NAMES = ("daphnet", "daphnet+fog", "bleeding", "bleeding+trend", "ecg")


def recordings(names):
    out = []
    for name in names:
        if name in ("daphnet", "daphnet+fog"):
            x, y = daphnet()
            size, hop, learn_n = 128, 64, 40
            note = "2 s windows, 1 s hop, 45 band features, learn first %d s" % learn_n
            if name == "daphnet+fog":
                x, y = insert_fog(x, y, learn_n * hop + size)
                note += "; 4 inserted 4 s freezes"
            else:
                note += "; excerpt has no labelled episode"
            F, L, E, R = _windowed(x, y, size, hop, "band")
            out.append(Recording(name, note, F[:learn_n], F[learn_n:], L[learn_n:], E[learn_n:],
                                 ("band", 0, R[:learn_n], R[learn_n:]), semi_synthetic=name == "daphnet+fog",
                                 level_idx=level_indices("band", F.shape[1]),
                                 starts=np.arange(len(F) - learn_n) * hop, size=size))
        elif name in ("bleeding", "bleeding+trend"):
            tr, _ = univariate(BLEEDING % "TRAIN", "value", 100)
            te, yt = univariate(BLEEDING % "TEST", "value", 100)
            note = "32-sample windows, hop 4, 34 shape features, learn TRAIN"
            if name == "bleeding+trend":
                te = add_trend(tr, te)
                note += "; TEST level ramped up by 4 SD of TRAIN"
            Ft, _, _, Rt = _windowed(tr, np.zeros(len(tr), dtype=np.int64), 32, 4, "shape", 32)
            F, L, E, R = _windowed(te, yt, 32, 4, "shape", 32)
            out.append(Recording(name, note, Ft, F, L, E, ("shape", 32, Rt, R), semi_synthetic=name != "bleeding",
                                 level_idx=[32], starts=np.arange(len(F)) * 4, size=32))
        elif name == "ecg":
            tr, _ = univariate(ECG % "TRAIN_NA", "value-0", 1000)
            te, yt = univariate(ECG % "TEST", "value-0", 1000)
            Ft, _, _, Rt = _windowed(tr, np.zeros(len(tr), dtype=np.int64), 100, 25, "shape")
            F, L, E, R = _windowed(te, yt, 100, 25, "shape")
            out.append(Recording(name, "100-sample windows, hop 25, 18 shape features, learn TRAIN_NA", Ft, F, L, E,
                                 ("shape", 16, Rt, R), level_idx=[16], starts=np.arange(len(F)) * 25, size=100))
        else:
            raise DataError("unknown recording %r (%s)" % (name, ", ".join(NAMES)))
    return out


# ---------------------------------------------------------------- methods and metrics

def auc(labels, scores):
    """ROC-AUC (Mann-Whitney, ties count half); None when one class is missing."""
    labels = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[labels], s[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([neg, pos]), kind="mergesort")
    allv = np.concatenate([neg, pos])[order]
    ranks = np.empty(len(allv))
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2.0 + 1
        i = j + 1
    r = np.empty(len(allv))
    r[order] = ranks
    rp = r[len(neg):].sum()
    return float((rp - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))


def summarise(rec, method, scores, flagged, threshold, part=None):
    """Figures of one method on the scored windows `part` (index array; None: all of them)."""
    part = np.arange(len(rec.test)) if part is None else np.asarray(part)
    labels = rec.labels[part]
    scores = np.asarray(scores)[part]
    flagged = np.asarray(flagged)[part]
    episodes = [rec.episodes[i] for i in part]
    caught = set()
    for f, ep in zip(flagged, episodes):
        if f:
            caught.update(ep)
    normal = ~labels
    return {
        "recording": rec.name, "method": method, "semi_synthetic": rec.semi_synthetic,
        "synthetic": rec.synthetic_note is not None,
        "auc": auc(labels, scores),
        "episodes": len(set(e for ep in episodes for e in ep)), "caught": len(caught),
        "false_alarm_rate": float(np.mean(flagged[normal])) if normal.any() else None,
        "false_alarms": int(np.sum(flagged[normal])),
        "normal_windows": int(normal.sum()), "anomalous_windows": int(labels.sum()),
        "threshold": float(threshold),
    }


def zscore_baseline(rec):
    mu = rec.learn.mean(axis=0)
    sd = rec.learn.std(axis=0) + 1e-9
    train = (((rec.learn - mu) / sd) ** 2).sum(axis=1)
    s = (((rec.test - mu) / sd) ** 2).sum(axis=1)
    t = train.max()
    return s, s > t, t


def kmeans_baseline(rec, clusters=32, seed=0):
    from sklearn.cluster import KMeans
    mu = rec.learn.mean(axis=0)
    sd = rec.learn.std(axis=0) + 1e-9
    a = (rec.learn - mu) / sd
    km = KMeans(n_clusters=min(clusters, len(a) // 4), n_init=10, random_state=seed).fit(a)
    t = km.transform(a).min(axis=1).max()
    s = km.transform((rec.test - mu) / sd).min(axis=1)
    return s, s > t, t


# ---------------------------------------------------------------- settings and their choice

DEFAULT = {"k": 2, "margin": (1, 1), "adapt": 0, "level": True}   # the detector's defaults


def grid(ks=(2, 1, 4), margins=((1, 1), (3, 2), (2, 1)), adapts=(0, 16), levels=(True, False)):
    """The settings tried, the defaults first (ties keep the earlier one)."""
    return [{"k": k, "margin": m, "adapt": a, "level": lv} for lv in levels for a in adapts for m in margins
            for k in ks]


def setting_name(st):
    return "k=%d thr x%s drift %s %s" % (
        st["k"], ("%d/%d" % st["margin"]) if st["margin"][1] != 1 else st["margin"][0],
        ("every %d" % st["adapt"]) if st["adapt"] else "off", "level" if st["level"] else "level-free")


def reference_run(rec, st, capacity=128, seed=1, upto=None):
    """(scores, threshold) of host_tools/oracle/anomaly_ref with settings st on the scored windows
    [0, upto) (all when None): it never sees a later window."""
    from host_tools.oracle import anomaly_ref
    L, T = rec.features(st["level"])
    T = T if upto is None else T[:upto]
    ref = anomaly_ref.Detector(L.shape[1], capacity=capacity, k=st["k"], seed=seed, raw=True,
                               margin=st["margin"], adapt_every=st["adapt"])
    for v in L:
        ref.learn(v)
    ref.finish()
    if st["adapt"]:
        s = np.array([ref.check(v)[0] for v in T], dtype=np.int64)
    else:
        s = anomaly_ref.kth_distances(anomaly_ref.quantise(T, ref.center, ref.shift), ref.rows, st["k"])
    return np.asarray(s, dtype=np.int64), ref.threshold


def selection_score(rec, flagged, part):
    """Balanced accuracy on the windows `part`: the mean of the share of anomalous windows flagged
    (when there are any) and the share of normal windows not flagged."""
    lab = rec.labels[part]
    f = np.asarray(flagged)[:len(part)]
    terms = []
    if lab.any():
        terms.append(float(f[lab].mean()))
    if (~lab).any():
        terms.append(1.0 - float(f[~lab].mean()))
    return float(np.mean(terms))


def choose(recs, settings=None, capacity=128):
    """The setting with the best mean selection_score over the recordings' selection windows
    (Recording.split: the first half in time); each run stops before the held-out windows.
    Returns (chosen setting, [(setting, score, per-recording scores)] in grid order)."""
    settings = grid() if settings is None else settings
    table = []
    for st in settings:
        per = {}
        for rec in recs:
            sel, _ = rec.split()
            s, t = reference_run(rec, st, capacity, upto=len(sel))
            per[rec.name] = selection_score(rec, s > t, sel)
        table.append((st, float(np.mean(list(per.values()))), per))
    best = max(range(len(table)), key=lambda i: (table[i][1], -i))
    return table[best][0], table


def detector_run(rec, st, capacity=128, seed=1, verify=True):
    """Scores by the firmware detector (CPython, current kernel backend) on every scored window,
    checked integer for integer against the reference."""
    from tinyenroll import anomaly
    L, T = rec.features(st["level"])
    dim = L.shape[1]
    det = anomaly.Detector(dim, capacity=capacity, k=st["k"], seed=seed, raw=True, margin=st["margin"],
                           adapt_every=st["adapt"])
    for v in L:
        det.learn([int(a) for a in v])
    det.finish()
    scores = np.array([det.check([int(a) for a in v])[0] for v in T], dtype=np.int64)
    if verify:
        want, t = reference_run(rec, st, capacity, seed)
        if t != det.threshold or not np.array_equal(want, scores):
            raise AssertionError("firmware detector differs from host_tools/oracle/anomaly_ref on %s (%s)"
                                 % (rec.name, setting_name(st)))
    return scores, scores > det.threshold, det.threshold, det


MPY_DETECTOR = "import sys\nfrom tinyenroll.jobs.anomaly_eval import detector_file\ndetector_file(sys.argv[1])\n"


def micropython_run(rec, st, capacity=128, backend="viper", seed=1, heap="96K"):
    """Scores from the real micropython interpreter: features and detector both on-device."""
    import subprocess
    import tempfile
    from host_tools.board import mpy
    kind, points, learn_w, test_w = rec.raw
    n, channels = learn_w[0].shape
    cfg = {"backend": backend, "dim": rec.learn.shape[1], "capacity": capacity, "k": st["k"], "seed": seed,
           "kind": kind, "n": n, "channels": channels, "points": points, "learn": len(learn_w),
           "rate": rec.rate_hz, "margin": list(st["margin"]), "adapt": st["adapt"], "level": st["level"]}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "windows.bin")
        with open(data, "wb") as f:
            f.write(json.dumps(cfg).encode() + b"\n")
            for w in list(learn_w) + list(test_w):
                if np.abs(w).max() >= 1 << 31:
                    raise DataError("%s: samples do not fit int32" % rec.name)
                f.write(np.ascontiguousarray(w, dtype="<i4").tobytes())
        script = os.path.join(tmp, "detector.py")
        with open(script, "w") as f:
            f.write(MPY_DETECTOR)
        argv, env = mpy.command(script, heap=heap)
        p = subprocess.run(argv + [data], capture_output=True, text=True, env=env, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError("micropython failed on %s: %s" % (rec.name, (p.stdout + p.stderr).strip()[-500:]))
    lines = p.stdout.split()
    threshold = int(lines[0])
    scores = np.array([int(v) for v in lines[1:-2]], dtype=np.int64)
    return scores, scores > threshold, threshold, int(lines[-1])


# ---------------------------------------------------------------- command

EPILOG = """needs: nothing for the shipped recordings; with --data, one continuous recording of
yours: a .ter (tinyenroll's replay format, rate in its header) or a CSV with one column per channel
and an optional 0/1 'anomaly' column (give --rate).
The detector's settings (k, threshold factor, drift adaptation, level-free features) are chosen
on the first half (in time) of every recording's scored windows; the figures are those of the
windows after it.
examples:
  tinyenroll anomaly-eval --recordings daphnet,ecg
  tinyenroll anomaly-eval --data walk.ter --learn 40"""


def add_arguments(p):
    p.epilog = EPILOG
    p.add_argument("--data", help="your own continuous recording (.ter or .csv) instead of --recordings "
                   "(host_tools/evaluate/own_data.py)")
    p.add_argument("--rate", type=int, help="with a --data CSV: samples per second")
    p.add_argument("--learn", type=int, default=40, help="with --data: seconds of normal to learn on (default 40)")
    p.add_argument("--recordings", default=",".join(NAMES), help="comma-separated: " + ", ".join(NAMES))
    p.add_argument("--capacity", type=int, default=128, help="normal rows kept by the detector")
    p.add_argument("--sweep", default="16,32,64,128,256", help="capacities for the reservoir-size table ('' for none)")
    p.add_argument("--backend", default=None, help="kernel backend for the firmware detector (default: best here)")
    p.add_argument("--micropython", action="store_true",
                   help="also run features + detector in the real micropython interpreter at 96K heap "
                        "(viper backend) and check every score against the reference")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def drift_variants(st):
    """The chosen k and threshold with the two slow-drift measures off and on: no fix, drift
    adaptation only, level-free features only, both."""
    out = []
    for lv, ad in ((True, 0), (True, 16), (False, 0), (False, 16)):
        v = dict(st)
        v["level"], v["adapt"] = lv, ad
        out.append(v)
    return out


def evaluate(names, capacity=128, sweep=(), backend=None, micropython=False, settings=None):
    """Choose the settings on the selection halves, then report every method on the held-out
    windows (the same windows for all)."""
    from tinyenroll import kernels
    if backend:
        kernels.select(backend)
    recs = [n for n in names if isinstance(n, Recording)]  # the maker's own (own_data.anomaly_recording)
    recs += recordings([n for n in names if not isinstance(n, Recording)])
    chosen, tried = choose(recs, settings, capacity)
    rows, sweeps, drift, notes, split = [], [], [], {}, {}
    for rec in recs:
        notes[rec.name] = rec.note
        sel, held = rec.split()
        split[rec.name] = {"selection": [int(sel[0]), int(sel[-1])],
                           "held_out": [int(held[0]), int(held[-1])] if len(held) else None,
                           "selection_samples": [int(rec.starts[sel[0]]), int(rec.starts[sel[-1]] + rec.size)],
                           "held_out_samples": ([int(rec.starts[held[0]]), int(rec.starts[held[-1]] + rec.size)]
                                                if len(held) else None)}
        s, f, t, det = detector_run(rec, chosen, capacity)
        r = summarise(rec, "detector", s, f, t, held)
        r["bytes"] = det.count * det.dim
        rows.append(r)
        if micropython:
            ms, mf, mt, heap = micropython_run(rec, chosen, capacity)
            if mt != t or not np.array_equal(ms, s):
                raise AssertionError("micropython detector differs from the reference on %s" % rec.name)
            r = summarise(rec, "micropython", ms, mf, mt, held)
            r["heap"] = heap
            rows.append(r)
        for method, fn in (("z-score", zscore_baseline), ("k-means", kmeans_baseline)):
            s, f, t = fn(rec)
            rows.append(summarise(rec, method, s, f, t, held))
        for v in drift_variants(chosen):
            s, t = reference_run(rec, v, capacity)
            r = summarise(rec, ("drift/%d" % v["adapt"] if v["adapt"] else "no drift")
                          + (", level" if v["level"] else ", level-free"), s, s > t, t, held)
            r["setting"] = v
            drift.append(r)
        for cap in sweep:
            s, t = reference_run(rec, chosen, cap)
            r = summarise(rec, "reservoir %d" % cap, s, s > t, t, held)
            r["capacity"] = cap
            sweeps.append(r)
    return {"backend": kernels.name, "capacity": capacity, "chosen": chosen, "default": DEFAULT,
            "selection": [{"setting": st, "score": sc, "per_recording": per} for st, sc, per in tried],
            "split": split, "results": rows, "drift": drift, "sweep": sweeps, "notes": notes}


def _fmt(v, f="%.3f"):
    return "-" if v is None else f % v


def table(rows):
    """The results as text; a (semi-)synthetic recording is starred, with a footnote saying so."""
    lines = ["%-15s %-20s %7s %9s %18s %10s" % ("recording", "method", "ROC-AUC", "episodes", "false alarms",
                                                 "threshold")]
    notes = {}
    for r in rows:
        star = "*" if r.get("synthetic") or r.get("semi_synthetic") else ""
        if star:
            notes[r["recording"]] = SYNTHETIC_NOTES.get(r["recording"], SEMI)
        lines.append("%-15s %-20s %7s %9s %18s %10s" % (
            r["recording"] + star, r["method"], _fmt(r["auc"], "%.4f"),
            "%d/%d" % (r["caught"], r["episodes"]),
            "%d/%d %s" % (r["false_alarms"], r["normal_windows"], _fmt(r["false_alarm_rate"])),
            "%.4g" % r["threshold"]))
    for name, note in notes.items():
        lines.append("* %s: %s" % (name, note))
    return "\n".join(lines)


def run(args):
    import sys

    def refuse(msg):
        print("anomaly-eval: %s" % msg, file=sys.stderr)
        return 2
    names = [n for n in args.recordings.split(",") if n]
    try:
        sweep = [int(c) for c in args.sweep.split(",") if c]
    except ValueError:
        return refuse("--sweep takes comma-separated capacities, got %r" % args.sweep)
    if args.capacity < 5 or any(c < 5 for c in sweep):
        return refuse("--capacity and --sweep capacities must be at least 5 (k goes up to 4)")
    bad = [n for n in names if n not in NAMES]
    if bad and not args.data:
        return refuse("unknown recording %r (%s)" % (bad[0], ", ".join(NAMES)))
    if args.data:
        from . import own_data
        if args.learn < 1 or (args.rate is not None and args.rate < 1):
            return refuse("--learn and --rate must be at least 1")
        try:
            names = [own_data.anomaly_recording(args.data, args.rate, args.learn)]
        except (ValueError, OSError) as e:
            return refuse(str(e))
    out = evaluate(names, args.capacity, sweep, args.backend, args.micropython)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print("anomaly detector (firmware code under CPython, kernel backend %s, capacity %d)"
          % (out["backend"], out["capacity"]))
    for n, note in out["notes"].items():
        sp = out["split"][n]
        print("  %-15s %s; chooses on scored windows %d-%d, reports %s" % (
            n, note, sp["selection"][0], sp["selection"][1],
            "%d-%d" % tuple(sp["held_out"]) if sp["held_out"] else "none"))
    sel = sorted(out["selection"], key=lambda e: -e["score"])
    print("\nsettings chosen on the selection halves only (mean balanced accuracy at the threshold; "
          "%d tried, best 5):" % len(sel))
    for e in sel[:5]:
        print("  %.4f  %s%s" % (e["score"], setting_name(e["setting"]),
                                "   <- chosen" if e["setting"] == out["chosen"] else ""))
    dflt = [e for e in out["selection"] if e["setting"] == out["default"]]
    if dflt:
        print("  %.4f  %s   (the defaults)" % (dflt[0]["score"], setting_name(out["default"])))
    print("\nheld-out windows (never used to choose), chosen setting: %s" % setting_name(out["chosen"]))
    print(table(out["results"]))
    for r in out["results"]:
        if r["method"] == "micropython":
            print("  micropython %s: every score identical to the reference; detector heap (peak after gc) %d bytes"
                  % (r["recording"], r["heap"]))
    print("\nslow drift: the chosen k and threshold, drift adaptation and level-free features off/on "
          "(held-out windows, reference detector):")
    print(table(out["drift"]))
    if out["sweep"]:
        print("\nreservoir size (reference detector, chosen setting, held-out windows):")
        print(table(out["sweep"]))
    return 0
