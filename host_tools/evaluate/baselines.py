"""The no-training baselines every few-shot number is reported next to: raw windows compared by
Euclidean distance and by dynamic time warping (DTW), 1-nearest neighbour.

    D = dtw(queries, supports, channels=6, band=8)   # (n_queries, n_supports) distances
    predicted = support_labels[D.argmin(1)]

DTW here is the dependent multivariate form: the cell cost is the squared Euclidean distance
between the two windows' samples over all channels, the path is kept within a Sakoe-Chiba band
of `band` points, and the distance is the square root of the best path's cost. Windows are
channel-major (C*L values: channel 0's L points, then channel 1's), as the board's front end
writes them. Its cost per comparison is L*(2*band+1)*C multiply-adds (dtw_ops).
"""
import numpy as np


def euclid(A, B):
    """(len(A), len(B)) Euclidean distances between the rows of A and of B."""
    A = np.asarray(A, np.float64)
    B = np.asarray(B, np.float64)
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return np.sqrt(np.maximum(d, 0))


def _dtw_pairs(A, B, band):
    """DTW distance of each pair (A[p], B[p]); A and B are (P, C, L)."""
    P, C, L = A.shape
    prev = np.full((L + 1, P), np.inf)
    prev[0] = 0.0
    for i in range(1, L + 1):
        cur = np.full((L + 1, P), np.inf)
        a = A[:, :, i - 1]
        for j in range(max(1, i - band), min(L, i + band) + 1):
            cost = ((a - B[:, :, j - 1]) ** 2).sum(1)
            cur[j] = cost + np.minimum(np.minimum(prev[j], cur[j - 1]), prev[j - 1])
        prev = cur
    return np.sqrt(prev[L])


def dtw(A, B, channels, band=8, chunk=20000):
    """(len(A), len(B)) DTW distances between channel-major windows (rows of A and of B)."""
    A = np.asarray(A, np.float64)
    B = np.asarray(B, np.float64)
    SA = A.reshape(len(A), channels, -1)
    SB = B.reshape(len(B), channels, -1)
    ia, ib = np.meshgrid(np.arange(len(A)), np.arange(len(B)), indexing="ij")
    ia, ib = ia.ravel(), ib.ravel()
    D = np.empty(len(ia))
    for s in range(0, len(ia), chunk):
        D[s:s + chunk] = _dtw_pairs(SA[ia[s:s + chunk]], SB[ib[s:s + chunk]], band)
    return D.reshape(len(A), len(B))


def dtw_ops(length, channels, band=8, enrolled=50):
    """Multiply-adds of DTW 1-NN against `enrolled` examples (cells x channels)."""
    return enrolled * length * (2 * band + 1) * channels


def nn1(D, labels):
    """Labels of each query's nearest support, from a (queries, supports) distance matrix."""
    return np.asarray(labels)[np.asarray(D).argmin(1)]
