"""Data files shipped inside the aeon==1.6.0 wheel, read offline from the cached wheel.

aeon itself is never installed or imported (it would pull numba, llvmlite, pandas and an older
numpy than our pin); an installed aeon is read in place if present.
"""
import importlib.util
import io
import os
import zipfile

import numpy as np

from . import cache

AEON = "aeon==1.6.0"
WHEEL = "aeon-1.6.0-py3-none-any.whl"
WHEEL_SHA256 = "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409"


def aeon_bytes(relpath):
    """Bytes of a data file inside the aeon package: installed aeon, else the cached wheel."""
    try:
        spec = importlib.util.find_spec("aeon")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        root = os.path.dirname(list(spec.submodule_search_locations)[0])
        path = os.path.join(root, relpath)
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()
    with zipfile.ZipFile(cache.pypi_file(AEON, WHEEL, WHEEL_SHA256)) as z:
        return z.read(relpath)


def read_csv(relpath, columns):
    """(values float array (n, len(columns)), is_anomaly int array (n,)) from an aeon csv."""
    text = aeon_bytes(relpath).decode()
    header = text.split("\n", 1)[0].strip().split(",")
    idx = [header.index(c) for c in columns]
    lab = header.index("is_anomaly")
    a = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, usecols=idx + [lab], dtype=np.float64)
    return a[:, :len(idx)], a[:, -1].astype(np.int64)
