"""Labelled time-series windows for training and evaluation: UCR/UEA .ts files and CSV.

    series, labels = load("PickupGestureWiimoteZ", "TRAIN")   # from the aeon wheel, offline
    series, labels = read_ts("my.ts"); series, labels = read_csv("my.csv")
A series is a float array (length, channels); lengths may differ.
"""
import csv

import numpy as np

from ..oracle.errors import DataError
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
            raise DataError("%s line %d: no values before the label" % (name, n))
        chans = []
        for d in dims:
            vals = [v for v in d.split(",") if v not in ("", "?", "NaN")]
            try:
                chans.append(np.array([float(v) for v in vals]))
            except ValueError as e:
                raise DataError("%s line %d: %s" % (name, n, e)) from None
        length = min(len(c) for c in chans)
        if length < 2:
            raise DataError("%s line %d: a series needs at least 2 values" % (name, n))
        series.append(np.stack([c[:length] for c in chans], axis=1))
        labels.append(label.strip())
    if not series:
        raise DataError("%s: no series after @data" % name)
    return series, labels


def read_ts(path):
    with open(path) as f:
        return parse_ts(f.read(), path)


def read_csv(path, label="label"):
    """One window per row: a label column and value columns. Columns named CHANNEL_INDEX
    (ax_0, ax_1, ..., ay_0, ...) with two or more channel names give a multi-channel window
    (channels in the order they first appear, samples by index); any other names, one channel.
    Refused with a ValueError naming the row and column: an empty, NaN or infinite cell, a
    value that is not a number, a row with more or fewer cells than the header."""
    import math
    import re
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError("%s: empty file" % path)
    head = [h.strip() for h in rows[0]]
    if label not in head:
        raise DataError("%s: needs a %r column (header: %s)" % (path, label, ",".join(head)[:80]))
    li = head.index(label)
    cols = [i for i in range(len(head)) if i != li]
    if not cols:
        raise DataError("%s: no value columns beside %r" % (path, label))
    if len(rows) < 2:
        raise DataError("%s: a header and no windows" % path)
    m = [re.match(r"^(.*)_(\d+)$", head[i]) for i in cols]
    names = []
    for x in m:
        if x and x.group(1) not in names:
            names.append(x.group(1))
    if all(m) and len(names) >= 2:
        order = {n: sorted((int(x.group(2)), i) for x, i in zip(m, cols) if x.group(1) == n) for n in names}
        lengths = {len(v) for v in order.values()}
        if len(lengths) != 1:
            raise DataError("%s: channels %s have different numbers of columns" % (path, ", ".join(names)))
        layout = [[i for _, i in order[n]] for n in names]
    else:
        layout = [cols]
    series, labels = [], []
    for r, row in enumerate(rows[1:], 2):
        if len(row) != len(head):
            raise DataError("%s row %d: %d cells, the header has %d (ragged rows)" % (path, r, len(row), len(head)))
        vals = {}
        for i in cols:
            cell = row[i].strip()
            try:
                v = float(cell)
            except ValueError:
                raise DataError("%s row %d column %s: %s" % (path, r, head[i], "empty cell" if not cell
                                 else "%r is not a number" % cell[:20])) from None
            if not math.isfinite(v):
                raise DataError("%s row %d column %s: %s" % (path, r, head[i], cell))
            vals[i] = v
        if not row[li].strip():
            raise DataError("%s row %d: empty label" % (path, r))
        series.append(np.array([[vals[i] for i in ch] for ch in layout]).T)
        labels.append(row[li].strip())
    return series, labels


def load(name, split):
    """A dataset shipped in the aeon==1.6.0 wheel, read offline (the wheel is cached once)."""
    if name not in NAMES:
        raise DataError("unknown dataset %r (have %s)" % (name, ", ".join(NAMES)))
    return parse_ts(aeon_bytes(AEON % (name, name, split)).decode(), name)


def base_novel(labels):
    """Base classes = first half of the labels in natural (sorted) order, novel = the rest."""
    names = sorted(set(labels), key=lambda s: (len(s), s) if s.isdigit() else (0, s))
    half = (len(names) + 1) // 2  # JapaneseVowels: 5 base, 4 novel speakers
    return names[:half], names[half:]
