"""The maker's own data through the existing evaluations (`fewshot --data`, `anomaly-eval --data`).

fewshot --data DIR|FILE --model M: labelled windows (a recording folder from `tinyenroll record`,
or a .csv/.ts as `train` reads them) are put through the board's front end with the model's
settings (M.json: length, groups, sensor scale; recordings are int16 already) and embedded by the
firmware's code; each episode enrolls K random windows of every class in the firmware's Enroller
(k=1) and classifies all the others. Beside it, the raw-window 1-NN on the same episodes. No
base/novel split here: the model was trained elsewhere (or on these classes: then the figure
says how well it separates what it was trained on, not how it carries over).

anomaly-eval --data FILE: one continuous recording (a .ter with its sidecar, or a CSV with one
column per channel and an optional 0/1 `anomaly` column) becomes a Recording of anomaly_eval:
2 s windows, 1 s hop, the band features, the detector learns on the first --learn seconds.
"""
import json
import os

import numpy as np

from ..oracle.errors import DataError
from ..learn import train


def _model(path, channels):
    from ..oracle import modelfile
    if not os.path.exists(path):
        raise DataError("%s: no such model file" % path)
    data = open(path, "rb").read()
    try:
        m = modelfile.from_bytes(data)
    except Exception as e:  # the reader names what is wrong with the file
        raise DataError("%s: not a tinyenroll model (%s)" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__))
    info = {}
    if os.path.exists(path + ".json"):
        with open(path + ".json") as f:
            try:
                info = json.load(f)
            except ValueError as e:
                raise DataError("%s.json: not JSON (%s)" % (path, e)) from None
    length = info.get("length") or m["in_dim"] // channels
    if length * channels != m["in_dim"]:
        raise DataError("%s takes %d values; the data has %d channels (x %d points = %d)"
                         % (path, m["in_dim"], channels, length, length * channels))
    return data, info, length, info.get("groups", 1)


def fewshot(path, model_path, episodes=200, seed=0, shots=(1, 5)):
    """dict: windows, classes, per K accuracy of int8 (firmware Enroller) and raw 1-NN."""
    from tinyenroll.enroll import Enroller
    from .fewshot import one_nn, raw_features
    series, labels, int16 = train.read_windows(path)
    train.check_windows(series, labels, path)
    data, info, length, groups = _model(model_path, series[0].shape[1])
    if int16:
        scale = 1.0
    elif info.get("sensor_scale"):
        scale = float(info["sensor_scale"])
    else:
        scale = train.choose_scale(series, "auto", False, False)
    x = np.stack([train.frontend(train.to_int16(s, scale), length, groups) for s in series])
    e = train.firmware_embed(data, x)
    raw = raw_features(series)
    y = np.asarray(labels)
    classes = sorted(set(labels))
    counts = {c: int((y == c).sum()) for c in classes}
    rng = np.random.default_rng(seed)
    out = {"data": path, "model": model_path, "windows": len(y), "classes": counts, "episodes": episodes,
           "accuracy": {}}
    for K in shots:
        if min(counts.values()) <= K:
            continue  # every class needs K supports and at least one query
        acc_i, acc_r = [], []
        for _ in range(episodes):
            sup = np.concatenate([rng.choice(np.flatnonzero(y == c), K, replace=False) for c in classes])
            q = np.setdiff1d(np.arange(len(y)), sup)
            en = Enroller(e.shape[1], k=1, capacity=len(sup), max_classes=len(classes), max_per_class=K)
            for i in sup:
                en.add(str(y[i]), e[i].tobytes())
            hits = 0
            for i in q:
                en.classify(e[i].tobytes())
                hits += en.nearest == y[i]
            acc_i.append(hits / len(q))
            acc_r.append(float((one_nn(raw[sup], y[sup], raw[q]) == y[q]).mean()))
        out["accuracy"][str(K)] = {"int8": float(np.mean(acc_i)), "raw": float(np.mean(acc_r))}
    if not out["accuracy"]:
        raise DataError("%s: every class needs at least %d windows (smallest has %d)"
                         % (path, min(shots) + 1, min(counts.values())))
    return out


def fewshot_table(r):
    lines = ["your data %s: %d windows, %s; model %s; %d episodes"
             % (r["data"], r["windows"], ", ".join("%s %d" % kv for kv in r["classes"].items()),
                r["model"], r["episodes"]),
             "%5s %8s %8s" % ("shots", "raw", "int8")]
    for K, a in r["accuracy"].items():
        lines.append("%5s %7.1f%% %7.1f%%" % (K, 100 * a["raw"], 100 * a["int8"]))
    lines.append("raw: 1-NN on the resampled windows; int8: the firmware's embedding and Enroller (k=1); "
                 "queries: every window not enrolled")
    return "\n".join(lines)


def read_stream(path):
    """(int64 samples (n, channels), 0/1 labels (n,), rate_hz or None) of one continuous recording."""
    from ..data import recording
    if not os.path.exists(path):
        raise DataError("%s: no such file" % path)
    if path.lower().endswith(".ter"):
        x, rate, _, _ = recording.read_meta(path)
        return x.astype(np.int64), np.zeros(len(x), np.int64), rate
    if not path.lower().endswith(".csv"):
        raise DataError("%s: not a .ter recording or a .csv" % path)
    import csv
    import math
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError("%s: needs a header and rows" % path)
    head = [h.strip() for h in rows[0]]
    lab = head.index("anomaly") if "anomaly" in head else None
    cols = [i for i in range(len(head)) if i != lab]
    if not cols:
        raise DataError("%s: no channel columns" % path)
    vals, ys = [], []
    for r, row in enumerate(rows[1:], 2):
        if len(row) != len(head):
            raise DataError("%s row %d: %d cells, the header has %d" % (path, r, len(row), len(head)))
        try:
            v = [float(row[i]) for i in cols]
            a = int(float(row[lab])) if lab is not None else 0
        except ValueError:
            raise DataError("%s row %d: a cell that is not a number" % (path, r)) from None
        if not all(math.isfinite(t) for t in v):
            raise DataError("%s row %d: NaN or infinite value" % (path, r))
        vals.append(v)
        ys.append(1 if a else 0)
    x = np.array(vals)
    scale = train.choose_scale([x], "auto", bool(np.all(x == np.round(x)) and np.abs(x).max() <= 32767), False)
    return np.round(x * scale).astype(np.int64), np.array(ys, np.int64), None


def anomaly_recording(path, rate_hz=None, learn_seconds=40):
    from . import anomaly_eval as ae
    x, y, rate = read_stream(path)
    rate = rate or rate_hz
    if not rate:
        raise DataError("%s has no sample rate: give --rate" % path)
    size, hop = 2 * rate, rate
    learn_n = learn_seconds
    if len(x) < size + (learn_n + 1) * hop:
        raise DataError("%s: %.1f s of data, needs more than %d s to learn on plus a window to score"
                         % (path, len(x) / rate, learn_seconds + 2))
    if y[:learn_n * hop + size].any():
        raise DataError("%s: labelled anomalies inside the first %d s the detector learns on" % (path, learn_seconds))
    F, L, E, R = ae._windowed(x, y, size, hop, "band", rate_hz=rate)
    note = "your data: %d s windows, %d s hop, band features, learn first %d s, %s" % (
        2, 1, learn_seconds, "labelled anomalies: %d samples" % y.sum() if y.any() else "no labels (false alarms only)")
    return ae.Recording(os.path.basename(path), note, F[:learn_n], F[learn_n:], L[learn_n:], E[learn_n:],
                        ("band", 0, R[:learn_n], R[learn_n:]), rate_hz=rate,
                        level_idx=ae.level_indices("band", F.shape[1]), starts=np.arange(len(F) - learn_n) * hop,
                        size=size)
