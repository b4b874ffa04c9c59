"""Raw feature vectors from windows of integer samples, for the anomaly detector without a model.

    features.band_features(x, n, channels, out)   # multi-axis motion: 5 ints a channel
    features.shape_features(x, n, points, out)    # one channel's coarse shape: points + 2 ints
The results are anomaly.Detector(..., raw=True) input. Integers only, every division floors;
host_tools/evaluate/anomaly_eval.py has the numpy twins and the tests compare them bit for bit.
"""
from .ints import err


def band_features(x, n, channels, out):
    """Raw features of one window for the detector, in integers only.

    x holds n samples of `channels` interleaved ints (x[t * channels + c]); n >= 21. For each
    channel c, out[5c:5c+5] = mean, mean |x - mean|, the 3-8 Hz and below-3 Hz L1 power at a
    64 Hz sample rate (moving averages over 8 and 21 samples as band filters: 8 Hz and ~3 Hz
    nulls), and how often the 8-sample average crosses the mean. Every division floors, so the
    board, CPython and host_tools/evaluate/anomaly_eval.band_features agree exactly.
    """
    if n < 21:
        raise err("InputError", "band_features needs at least 21 samples, got %d" % n)
    if len(x) < n * channels or len(out) < 5 * channels:
        raise err("InputError", "band_features: x needs %d values and out %d" % (n * channels, 5 * channels))
    C = channels
    m = n - 20
    for c in range(C):
        s = 0
        for t in range(n):
            s += x[t * C + c]
        mean = s // n
        a = 0
        for t in range(n):
            d = x[t * C + c] - mean
            a += d if d >= 0 else -d
        # moving sums: s8 over x[j+6 .. j+13], s21 over x[j .. j+20]
        s8 = 0
        for t in range(6, 14):
            s8 += x[t * C + c]
        s21 = 0
        for t in range(21):
            s21 += x[t * C + c]
        fog = 0
        loco = 0
        for j in range(m):
            if j:
                s8 += x[(j + 13) * C + c] - x[(j + 5) * C + c]
                s21 += x[(j + 20) * C + c] - x[(j - 1) * C + c]
            lp21 = s21 // 21
            d = s8 // 8 - lp21
            fog += d if d >= 0 else -d
            d = lp21 - mean
            loco += d if d >= 0 else -d
        # crossings of the 8-sample average through the mean
        s8 = 0
        for t in range(8):
            s8 += x[t * C + c]
        above = s8 // 8 >= mean
        zc = 0
        for j in range(1, n - 7):
            s8 += x[(j + 7) * C + c] - x[(j - 1) * C + c]
            now = s8 // 8 >= mean
            if now != above:
                zc += 1
            above = now
        out[5 * c] = mean
        out[5 * c + 1] = a // n
        out[5 * c + 2] = fog // m
        out[5 * c + 3] = loco // m
        out[5 * c + 4] = zc


def shape_features(x, n, points, out):
    """Raw features of one univariate window: `points` block means minus the window mean, then
    the mean and mean |x - mean| (out needs points + 2 slots); integer floor divisions."""
    b = n // points
    if b < 1:
        raise err("InputError", "shape_features: %d samples cannot make %d blocks" % (n, points))
    if len(x) < n or len(out) < points + 2:
        raise err("InputError", "shape_features: x needs %d values and out %d" % (n, points + 2))
    s = 0
    for t in range(n):
        s += x[t]
    mean = s // n
    a = 0
    for t in range(n):
        d = x[t] - mean
        a += d if d >= 0 else -d
    for p in range(points):
        bs = 0
        for t in range(p * b, (p + 1) * b):
            bs += x[t]
        out[p] = bs // b - mean
    out[points] = mean
    out[points + 1] = a // n
