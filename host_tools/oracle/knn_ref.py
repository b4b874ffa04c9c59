"""numpy reference of the board's nearest-neighbour search and threshold (firmware/enroll.py).

Independent of the firmware: same rules, written over whole arrays in int64.
"""
import numpy as np


def _s8(rows):
    return np.asarray(rows, dtype=np.int8).astype(np.int64)


def prototypes(rows, lab, ncls):
    rows, lab = _s8(rows), np.asarray(lab)
    out = np.zeros((ncls, rows.shape[1]), np.int64)
    for c in range(ncls):
        m = rows[lab == c]
        out[c] = np.floor_divide(2 * m.sum(axis=0) + len(m), 2 * len(m))
    return out


def class_scores(q, rows, lab, ncls, k, mode, skip=-1):
    """Score of each class for q (None for a class with no usable example)."""
    rows, lab, q = _s8(rows), np.asarray(lab), _s8(q)
    if mode == "prototype":
        p = prototypes(rows, lab, ncls)
        return [int(v) for v in ((p - q) ** 2).sum(axis=1)]
    d = ((rows - q) ** 2).sum(axis=1)
    out = []
    for c in range(ncls):
        idx = np.flatnonzero(lab == c)
        idx = idx[idx != skip]
        if len(idx) == 0:
            out.append(None)
            continue
        top = np.sort(d[idx])[:k]
        out.append(int(top.sum()) // len(top))
    return out


def calibrate(rows, lab, ncls, k, mode, manual=None, unknown_pct=150, unknown_dist=None):
    """(threshold, source) exactly as Enroller.calibration()."""
    if manual is not None:
        return manual, "manual"
    rows, lab = _s8(rows), np.asarray(lab)
    loo = []
    for c in range(ncls):
        idx = np.flatnonzero(lab == c)
        if len(idx) < 2:
            continue
        for i in idx:
            if mode == "prototype":
                rest = rows[idx[idx != i]]
                p = np.floor_divide(2 * rest.sum(axis=0) + len(rest), 2 * len(rest))
                loo.append(int(((rows[i] - p) ** 2).sum()))
            else:
                loo.append(class_scores(rows[i], rows, lab, ncls, k, "knn", skip=i)[c])
    if loo:
        loo.sort()
        q = loo[(9 * len(loo) + 9) // 10 - 1]
        return q * unknown_pct // 100, "loo"
    if ncls and unknown_dist is not None:
        return unknown_dist, "model"
    if ncls >= 2:
        d = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2)
        other = lab[:, None] != lab[None, :]
        return int(d[other].min()) // 2, "inter-class"
    return 127 * 127, "default"


def classify(q, rows, lab, labels, k, mode, manual=None, blocked=(), unknown_pct=150, unknown_dist=None):
    """(label or None, score, margin) as Learner.classify."""
    if not labels:
        return None, None, None
    ncls = len(labels)
    threshold, _ = calibrate(rows, lab, ncls, k, mode, manual, unknown_pct, unknown_dist)
    sc = class_scores(q, rows, lab, ncls, k, mode)
    best = int(np.argmin(sc))  # first of equal scores, as the board
    others = [v for c, v in enumerate(sc) if c != best]
    margin = min(others) - sc[best] if others else None
    if sc[best] > threshold or labels[best] in blocked:
        return None, sc[best], margin
    return labels[best], sc[best], margin
