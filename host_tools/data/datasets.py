"""Labelled time-series windows for training and evaluation: UCR/UEA .ts files and CSV.

    series, labels = load("PickupGestureWiimoteZ", "TRAIN")   # from the aeon wheel, offline
    series, labels = read_ts("my.ts"); series, labels = read_csv("my.csv")
A series is a float array (length, channels); lengths may differ.
"""
import csv

import numpy as np

from .aeon import aeon_bytes

AEON = "aeon/datasets/data/%s/%s_%s.ts"
NAMES = ("PickupGestureWiimoteZ", "JapaneseVowels")


def parse_ts(text, name="ts"):
    """([(length, channels) float arrays], [label str]) from the text of a .ts file."""
    series, labels = [], []
    data = False
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            data = True
            continue
        if line.startswith("@") or not data:
            continue
        *dims, label = line.split(":")
        if not dims:
            raise ValueError("%s line %d: no values before the label" % (name, n))
        chans = []
        for d in dims:
            vals = [v for v in d.split(",") if v not in ("", "?", "NaN")]
            chans.append(np.array([float(v) for v in vals]))
        length = min(len(c) for c in chans)
        if length < 2:
            raise ValueError("%s line %d: a series needs at least 2 values" % (name, n))
        series.append(np.stack([c[:length] for c in chans], axis=1))
        labels.append(label.strip())
    if not series:
        raise ValueError("%s: no series after @data" % name)
    return series, labels


def read_ts(path):
    with open(path) as f:
        return parse_ts(f.read(), path)


def read_csv(path, label="label"):
    """One window per row: a label column and value columns (one channel)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or label not in rows[0]:
        raise ValueError("%s: needs a %r column" % (path, label))
    cols = [c for c in rows[0] if c != label]
    series = [np.array([[float(r[c])] for c in cols if r[c] not in ("", "NaN")]) for r in rows]
    return series, [r[label] for r in rows]


def load(name, split):
    """A dataset shipped in the aeon==1.6.0 wheel, read offline (the wheel is cached once)."""
    if name not in NAMES:
        raise ValueError("unknown dataset %r (have %s)" % (name, ", ".join(NAMES)))
    return parse_ts(aeon_bytes(AEON % (name, name, split)).decode(), name)


def base_novel(labels):
    """Base classes = first half of the labels in natural (sorted) order, novel = the rest."""
    names = sorted(set(labels), key=lambda s: (len(s), s) if s.isdigit() else (0, s))
    half = (len(names) + 1) // 2  # JapaneseVowels: 5 base, 4 novel speakers
    return names[:half], names[half:]
