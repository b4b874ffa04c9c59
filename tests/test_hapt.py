"""UCI HAPT, read from the cached sdist with a restricted unpickler; test subjects kept out."""
import copyreg
import pickle
import subprocess

import numpy as np
import pytest

from host_tools.data import hapt


def test_pickle_naming_os_system_is_refused():
    evil = b"cos\nsystem\n(S'echo pwned'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        hapt.safe_loads(evil)


@pytest.mark.parametrize("obj", [print, subprocess.Popen, eval])
def test_any_other_global_is_refused(obj):
    for proto in (2, 4):
        with pytest.raises(pickle.UnpicklingError):
            hapt.safe_loads(pickle.dumps(obj, protocol=proto))


def test_reconstructor_builds_only_the_inert_standins():
    assert hapt.safe_loads(pickle.dumps(copyreg._reconstructor, protocol=2)) is not copyreg._reconstructor
    with pytest.raises(pickle.UnpicklingError):
        hapt._reconstructor(dict, object, None)


def test_load_never_returns_test_subjects():
    with pytest.raises(ValueError, match="load_test"):
        hapt.load(25)
    with pytest.raises(ValueError):
        hapt.load(30, 25)
    dev = hapt.load()
    assert {r["subject"] for r in dev} == set(range(1, 25))
    assert {r["subject"] for r in hapt.load_train()} == set(range(1, 19))


def test_the_corpus_is_what_the_readme_says():
    recs = hapt.load() + hapt.load_test()
    assert len(recs) == 61 and {r["subject"] for r in recs} == set(range(1, 31))
    n = sum(len(r["label"]) for r in recs)
    assert 1_100_000 < n < 1_140_000                      # 6.2 h at 50 Hz
    labels = np.concatenate([r["label"] for r in recs])
    assert set(np.unique(labels).tolist()) == set(range(1, 13)) | {-1}
    r = recs[0]
    assert r["acc"].shape == r["gyro"].shape == (len(r["label"]), 3)
    # standing still: gravity is ~1 g on the accelerometer, the gyroscope ~0
    still = r["label"] == 5
    assert 0.9 < np.linalg.norm(r["acc"][still].mean(0)) < 1.1
    assert np.abs(r["gyro"][still].mean(0)).max() < 0.05


def test_segments_are_maximal_runs():
    rec = {"label": np.array([5, 5, 7, 7, 7, 4, 4, -1])}
    assert hapt.segments(rec) == [(0, 2, 5), (2, 5, 7), (5, 7, 4)]
    assert hapt.segments(rec, hapt.TRANSITIONS) == [(2, 5, 7)]
