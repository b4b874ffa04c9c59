"""Evaluate the on-device anomaly detector on recordings shipped in the aeon wheel.

What is measured, per recording: the detector learns "normal" on the opening stretch
(no labelled anomaly in it), then scores every later window. ROC-AUC of the score, the
labelled anomaly episodes caught at the self-calibrated threshold (an episode is caught
when a flagged window overlaps it) and the false-alarm rate (flagged share of normal
windows), next to two baselines fitted on the same windows and features: per-feature
z-score (sum of squared z) and K-means distance to the nearest centroid (Edge Impulse's
anomaly block), each thresholded at the maximum of its own learning-phase scores.

Recordings (all inside aeon==1.6.0, read offline from the wheel):
  daphnet     Daphnet_S06R02E0, 9 accelerometer axes at 64 Hz. The excerpt aeon ships has
              NO labelled freezing-of-gait episode (aeon 1.6.0 says so itself), so on it only
              the false-alarm rate is measurable.
  daphnet+fog the same recording with freezing-like episodes inserted into the scored part
              (leg and ankle axes replaced by a 5-7 Hz trembling around the local posture,
              amplitude half the local gait deviation): semi-synthetic, labelled by us.
  bleeding    KDD-TSAD 135 (UCR InternalBleeding16): a real heart-rate recording with one
              labelled anomaly; learn on its TRAIN part, score its TEST part.
  ecg         ecg-diff-count-3 (GutenTAG synthetic ECG): learn on TRAIN_NA (normal),
              score TEST (three labelled anomalies).

Features are integers made only of sums, differences, absolute values and floor divisions
of the samples (moving averages as band filters). Every window's features are computed by
the firmware code (tinyenroll.features.band_features / shape_features) and by numpy here, and
the run fails if they differ. The detector itself is the firmware code (tinyenroll.anomaly)
run under CPython with the kernel backend chosen by --backend, and every threshold and
score is checked against host_tools/oracle/anomaly_ref.py (the run fails if one differs).
"""
import json
import os

import numpy as np

from ..data.aeon import read_csv

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

class Recording:
    """Learning windows (features) and scored windows (features, labels, episode ids)."""

    def __init__(self, name, note, learn, test, labels, episodes, raw=None, rate_hz=64, semi_synthetic=False):
        self.name = name
        self.semi_synthetic = semi_synthetic  # anomalies inserted by this tool, not recorded ones
        self.rate_hz = rate_hz        # the samples' rate: band features' filter lengths follow it
        self.raw = raw                # (kind, points, learn windows, test windows) for on-device runs
        self.note = note
        self.learn = learn
        self.test = test
        self.labels = labels
        self.episodes = episodes      # per scored window: list of episode ids it overlaps
        self.n_episodes = len(set(e for ep in episodes for e in ep))


def _episode_ids(y):
    d = np.diff(np.concatenate([[0], y, [0]]))
    ids = np.zeros(len(y), dtype=np.int64) - 1
    for i, (s, e) in enumerate(zip(np.where(d == 1)[0], np.where(d == -1)[0])):
        ids[s:e] = i
    return ids


def firmware_features(w, kind, points=16, rate_hz=64):
    """The same features computed by the firmware code (tinyenroll.features) for one window."""
    from tinyenroll import features
    n, c = w.shape
    if kind == "band":
        out = [0] * (5 * c)
        features.band_features([int(v) for v in w.reshape(-1)], n, c, out, rate_hz)
    else:
        out = [0] * (points + 2)
        features.shape_features([int(v) for v in w[:, 0]], n, points, out)
    return out


def _windowed(x, y, size, hop, kind, points=16, rate_hz=64):
    ids = _episode_ids(y)
    W = windows(len(x), size, hop)
    if kind == "band":
        F = np.array([band_features(x[s:e], rate_hz) for s, e in W], dtype=np.int64)
    else:
        F = np.array([shape_features(x[s:e], points) for s, e in W], dtype=np.int64)
    for (s, e), f in zip(W, F):
        if firmware_features(x[s:e], kind, points, rate_hz) != f.tolist():
            raise AssertionError("firmware features differ from the numpy ones at window %d" % s)
    raw = [x[s:e] for s, e in W]
    L = np.array([bool(y[s:e].any()) for s, e in W])
    E = [sorted(set(int(i) for i in ids[s:e] if i >= 0)) for s, e in W]
    return F, L, E, raw


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
                                 ("band", 0, R[:learn_n], R[learn_n:]), semi_synthetic=name == "daphnet+fog"))
        elif name == "bleeding":
            tr, _ = univariate(BLEEDING % "TRAIN", "value", 100)
            te, yt = univariate(BLEEDING % "TEST", "value", 100)
            Ft, _, _, Rt = _windowed(tr, np.zeros(len(tr), dtype=np.int64), 32, 4, "shape", 32)
            F, L, E, R = _windowed(te, yt, 32, 4, "shape", 32)
            out.append(Recording(name, "32-sample windows, hop 4, 34 shape features, learn TRAIN", Ft, F, L, E,
                                 ("shape", 32, Rt, R)))
        elif name == "ecg":
            tr, _ = univariate(ECG % "TRAIN_NA", "value-0", 1000)
            te, yt = univariate(ECG % "TEST", "value-0", 1000)
            Ft, _, _, Rt = _windowed(tr, np.zeros(len(tr), dtype=np.int64), 100, 25, "shape")
            F, L, E, R = _windowed(te, yt, 100, 25, "shape")
            out.append(Recording(name, "100-sample windows, hop 25, 18 shape features, learn TRAIN_NA", Ft, F, L, E,
                                 ("shape", 16, Rt, R)))
        else:
            raise ValueError("unknown recording %r (daphnet, daphnet+fog, bleeding, ecg)" % name)
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


def summarise(rec, method, scores, flagged, threshold):
    labels = rec.labels
    caught = set()
    for f, ep in zip(flagged, rec.episodes):
        if f:
            caught.update(ep)
    normal = ~labels
    return {
        "recording": rec.name, "method": method, "semi_synthetic": rec.semi_synthetic,
        "auc": auc(labels, scores),
        "episodes": rec.n_episodes, "caught": len(caught),
        "false_alarm_rate": float(np.mean(np.asarray(flagged)[normal])) if normal.any() else None,
        "false_alarms": int(np.sum(np.asarray(flagged)[normal])),
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


def detector_run(rec, capacity, k, seed=1, verify=True, adapt_every=0):
    """Scores by the firmware detector (CPython, current kernel backend), checked against the reference."""
    from tinyenroll import anomaly
    from host_tools.oracle import anomaly_ref
    dim = rec.learn.shape[1]
    det = anomaly.Detector(dim, capacity=capacity, k=k, seed=seed, raw=True, adapt_every=adapt_every)
    for v in rec.learn:
        det.learn([int(a) for a in v])
    det.finish()
    scores = np.array([det.check([int(a) for a in v])[0] for v in rec.test], dtype=np.int64)
    if verify and adapt_every:
        ref = anomaly_ref.Detector(dim, capacity=capacity, k=k, seed=seed, raw=True, adapt_every=adapt_every)
        for v in rec.learn:
            ref.learn(v)
        ref.finish()
        want = np.array([ref.check(v)[0] for v in rec.test], dtype=np.int64)
        if ref.threshold != det.threshold or not np.array_equal(want, scores):
            raise AssertionError("firmware detector (drift) differs from host_tools/oracle/anomaly_ref on %s" % rec.name)
    elif verify:
        ref = anomaly_ref.Detector(dim, capacity=capacity, k=k, seed=seed, raw=True)
        for v in rec.learn:
            ref.learn(v)
        ref.finish()
        q = anomaly_ref.quantise(rec.test, ref.center, ref.shift)
        want = anomaly_ref.kth_distances(q, ref.rows, k)
        if ref.threshold != det.threshold or not np.array_equal(want, scores):
            raise AssertionError("firmware detector differs from host_tools/oracle/anomaly_ref on %s" % rec.name)
    return scores, scores > det.threshold, det.threshold, det


MPY_DETECTOR = "import sys\nfrom tinyenroll.jobs.anomaly_eval import detector_file\ndetector_file(sys.argv[1])\n"


def micropython_run(rec, capacity, k, backend="viper", seed=1, heap="96K"):
    """Scores from the real micropython interpreter: features and detector both on-device."""
    import subprocess
    import tempfile
    from host_tools.board import mpy
    kind, points, learn_w, test_w = rec.raw
    n, channels = learn_w[0].shape
    cfg = {"backend": backend, "dim": rec.learn.shape[1], "capacity": capacity, "k": k, "seed": seed,
           "kind": kind, "n": n, "channels": channels, "points": points, "learn": len(learn_w),
           "rate": rec.rate_hz}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "windows.bin")
        with open(data, "wb") as f:
            f.write(json.dumps(cfg).encode() + b"\n")
            for w in list(learn_w) + list(test_w):
                if np.abs(w).max() >= 1 << 31:
                    raise ValueError("%s: samples do not fit int32" % rec.name)
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


def reference_scores(rec, capacity, k, seed=1):
    from host_tools.oracle import anomaly_ref
    ref = anomaly_ref.Detector(rec.learn.shape[1], capacity=capacity, k=k, seed=seed, raw=True)
    for v in rec.learn:
        ref.learn(v)
    ref.finish()
    s = anomaly_ref.kth_distances(anomaly_ref.quantise(rec.test, ref.center, ref.shift), ref.rows, k)
    return s, s > ref.threshold, ref.threshold


# ---------------------------------------------------------------- command

EPILOG = """needs: nothing for the shipped recordings; with --data, one continuous recording of
yours: a .ter (tinyenroll's replay format, rate in its header) or a CSV with one column per channel
and an optional 0/1 'anomaly' column (give --rate).
examples:
  tinyenroll anomaly-eval --recordings daphnet,ecg
  tinyenroll anomaly-eval --data walk.ter --learn 40"""


def add_arguments(p):
    p.epilog = EPILOG
    p.add_argument("--data", help="your own continuous recording (.ter or .csv) instead of --recordings "
                   "(host_tools/evaluate/own_data.py)")
    p.add_argument("--rate", type=int, help="with a --data CSV: samples per second")
    p.add_argument("--learn", type=int, default=40, help="with --data: seconds of normal to learn on (default 40)")
    p.add_argument("--recordings", default="daphnet,daphnet+fog,bleeding,ecg",
                   help="comma-separated: daphnet, daphnet+fog, bleeding, ecg")
    p.add_argument("--capacity", type=int, default=128, help="normal rows kept by the detector")
    p.add_argument("-k", type=int, default=2, help="score = sum of distances to the k nearest normal rows")
    p.add_argument("--adapt", type=int, default=16,
                   help="also run with drift adaptation, every N-th calm window (0: not)")
    p.add_argument("--sweep", default="16,32,64,128,256", help="capacities for the reservoir-size table ('' for none)")
    p.add_argument("--backend", default=None, help="kernel backend for the firmware detector (default: best here)")
    p.add_argument("--micropython", action="store_true",
                   help="also run features + detector in the real micropython interpreter at 96K heap "
                        "(viper backend) and check every score against the reference")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def evaluate(names, capacity=128, k=2, sweep=(), backend=None, micropython=False, adapt=0):
    from tinyenroll import kernels
    if backend:
        kernels.select(backend)
    rows, sweeps, notes = [], [], {}
    recs = [n for n in names if isinstance(n, Recording)]  # the maker's own (own_data.anomaly_recording)
    for rec in recs + recordings([n for n in names if not isinstance(n, Recording)]):
        notes[rec.name] = rec.note
        s, f, t, det = detector_run(rec, capacity, k)
        r = summarise(rec, "detector", s, f, t)
        r["bytes"] = det.count * det.dim
        rows.append(r)
        if adapt:
            s2, f2, t2, _ = detector_run(rec, capacity, k, adapt_every=adapt)
            rows.append(summarise(rec, "drift/%d" % adapt, s2, f2, t2))
        if micropython:
            ms, mf, mt, heap = micropython_run(rec, capacity, k)
            if mt != t or not np.array_equal(ms, s):
                raise AssertionError("micropython detector differs from the reference on %s" % rec.name)
            r = summarise(rec, "micropython", ms, mf, mt)
            r["heap"] = heap
            rows.append(r)
        for method, fn in (("z-score", zscore_baseline), ("k-means", kmeans_baseline)):
            s, f, t = fn(rec)
            rows.append(summarise(rec, method, s, f, t))
        for cap in sweep:
            s, f, t = reference_scores(rec, cap, k)
            r = summarise(rec, "reservoir %d" % cap, s, f, t)
            r["capacity"] = cap
            sweeps.append(r)
    return {"backend": kernels.name, "capacity": capacity, "k": k, "results": rows, "sweep": sweeps,
            "notes": notes}


def _fmt(v, f="%.3f"):
    return "-" if v is None else f % v


def table(rows):
    """The results as text; a semi-synthetic recording is starred, with a footnote saying so."""
    lines = ["%-12s %-14s %7s %9s %18s %10s" % ("recording", "method", "ROC-AUC", "episodes", "false alarms", "threshold")]
    for r in rows:
        lines.append("%-12s %-14s %7s %9s %18s %10s" % (
            r["recording"] + ("*" if r.get("semi_synthetic") else ""), r["method"], _fmt(r["auc"], "%.4f"),
            "%d/%d" % (r["caught"], r["episodes"]),
            "%d/%d %s" % (r["false_alarms"], r["normal_windows"], _fmt(r["false_alarm_rate"])),
            "%.4g" % r["threshold"]))
    if any(r.get("semi_synthetic") for r in rows):
        lines.append("* SEMI-SYNTHETIC: its anomalies were inserted by this tool (5-7 Hz tremor freezes, inside the "
                     "detector's own 3-8 Hz band), not recorded: no evidence about real freezing of gait")
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
    if args.capacity < 1 or args.k < 1 or args.adapt < 0 or any(c < 1 for c in sweep):
        return refuse("--capacity, -k and --sweep capacities must be at least 1, --adapt at least 0")
    bad = [n for n in names if n not in ("daphnet", "daphnet+fog", "bleeding", "ecg")]
    if bad and not args.data:
        return refuse("unknown recording %r (daphnet, daphnet+fog, bleeding, ecg)" % bad[0])
    if args.data:
        from . import own_data
        if args.learn < 1 or (args.rate is not None and args.rate < 1):
            return refuse("--learn and --rate must be at least 1")
        try:
            names = [own_data.anomaly_recording(args.data, args.rate, args.learn)]
        except (ValueError, OSError) as e:
            return refuse(str(e))
    out = evaluate(names, args.capacity, args.k, sweep, args.backend, args.micropython, args.adapt)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print("anomaly detector (firmware code under CPython, kernel backend %s, capacity %d, k %d)"
          % (out["backend"], out["capacity"], out["k"]))
    for n, note in out["notes"].items():
        print("  %-12s %s" % (n, note))
    print(table(out["results"]))
    for r in out["results"]:
        if r["method"] == "micropython":
            print("  micropython %s: every score identical to the reference; detector heap (peak after gc) %d bytes"
                  % (r["recording"], r["heap"]))
    if out["sweep"]:
        print("\nreservoir size (reference detector, same rule):")
        print(table(out["sweep"]))
    return 0
