"""The raw-window baselines: Euclidean and DTW 1-NN against direct definitions."""
import numpy as np

from host_tools.evaluate import baselines


def _dtw_direct(a, b, band):
    """Textbook O(L^2) DTW over (C, L) windows, squared-Euclidean cell cost, Sakoe-Chiba band."""
    L = a.shape[1]
    D = np.full((L + 1, L + 1), np.inf)
    D[0, 0] = 0
    for i in range(1, L + 1):
        for j in range(1, L + 1):
            if abs(i - j) <= band:
                cost = ((a[:, i - 1] - b[:, j - 1]) ** 2).sum()
                D[i, j] = cost + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return np.sqrt(D[L, L])


def test_dtw_matches_the_textbook_recursion():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 3 * 12))
    B = rng.normal(size=(5, 3 * 12))
    got = baselines.dtw(A, B, channels=3, band=2)
    want = [[_dtw_direct(a.reshape(3, -1), b.reshape(3, -1), 2) for b in B] for a in A]
    assert np.allclose(got, want)


def test_dtw_forgives_a_shift_that_euclid_does_not():
    t = np.arange(40)
    bump = np.exp(-((t - 15) / 2.0) ** 2)
    late = np.exp(-((t - 21) / 2.0) ** 2)          # the same bump, 6 samples later
    low = 0.4 * np.exp(-((t - 20) / 5.0) ** 2)     # another shape where the late bump is
    A = np.stack([late])
    B = np.stack([bump, low])
    assert baselines.nn1(baselines.dtw(A, B, channels=1, band=8), ["bump", "low"])[0] == "bump"
    assert baselines.nn1(baselines.euclid(A, B), ["bump", "low"])[0] == "low"
    assert np.allclose(baselines.dtw(B, B, 1, 8).diagonal(), 0)


def test_dtw_ops():
    assert baselines.dtw_ops(64, 6, band=8, enrolled=50) == 50 * 64 * 17 * 6
