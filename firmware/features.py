"""Raw feature vectors from windows of integer samples, for the anomaly detector without a model.

    features.band_features(x, n, channels, out, rate_hz)   # multi-axis motion: 5 ints a channel
    features.shape_features(x, n, points, out)    # one channel's coarse shape: points + 2 ints
The results are anomaly.Detector(..., raw=True) input. level=False leaves the window's level
(its mean, the one feature a slow additive drift of the signal moves) out: its slot holds 0, so
the layout stays and the detector learns and scores on level-free features only. Integers only, every division floors;
host_tools/evaluate/anomaly_eval.py has the numpy twins and the tests compare them bit for bit.
"""
from .ints import err


def band_lengths(rate_hz):
    """(a, b): the short and long moving-average lengths of band_features at rate_hz, 8 and 21
    samples at 64 Hz (nulls at 8 Hz and ~3 Hz) scaled to the rate, rounded: 6 and 16 at 50 Hz."""
    a = max(2, (8 * rate_hz + 32) // 64)
    return a, max(a + 1, (21 * rate_hz + 32) // 64)


def band_features(x, n, channels, out, rate_hz=64, level=True):
    """Raw features of one window for the detector, in integers only.

    x holds n samples of `channels` interleaved ints (x[t * channels + c]) taken at rate_hz; n is
    at least the long average's length (21 at 64 Hz). For each channel c, out[5c:5c+5] = mean,
    mean |x - mean|, the 3-8 Hz and below-3 Hz L1 power (moving averages over a and b samples as
    band filters, band_lengths: nulls near 8 Hz and 3 Hz at any rate), and how often the short
    average crosses the mean; level=False: 0 in place of the mean (the others are level-free). Every division floors, so the board, CPython and
    host_tools/evaluate/anomaly_eval.band_features agree exactly.
    """
    a, b = band_lengths(rate_hz)
    if n < b:
        raise err("InputError", "band_features needs at least %d samples at %d Hz, got %d" % (b, rate_hz, n))
    if len(x) < n * channels or len(out) < 5 * channels:
        raise err("InputError", "band_features: x needs %d values and out %d" % (n * channels, 5 * channels))
    C = channels
    m = n - b + 1
    off = (b - a) // 2  # the short window centred in the long one
    for c in range(C):
        s = 0
        for t in range(n):
            s += x[t * C + c]
        mean = s // n
        mad = 0
        for t in range(n):
            d = x[t * C + c] - mean
            mad += d if d >= 0 else -d
        # moving sums: sa over x[j+off .. j+off+a-1], sb over x[j .. j+b-1]
        sa = 0
        for t in range(off, off + a):
            sa += x[t * C + c]
        sb = 0
        for t in range(b):
            sb += x[t * C + c]
        fog = 0
        loco = 0
        for j in range(m):
            if j:
                sa += x[(j + off + a - 1) * C + c] - x[(j + off - 1) * C + c]
                sb += x[(j + b - 1) * C + c] - x[(j - 1) * C + c]
            lpb = sb // b
            d = sa // a - lpb
            fog += d if d >= 0 else -d
            d = lpb - mean
            loco += d if d >= 0 else -d
        # crossings of the short average through the mean
        sa = 0
        for t in range(a):
            sa += x[t * C + c]
        above = sa // a >= mean
        zc = 0
        for j in range(1, n - a + 1):
            sa += x[(j + a - 1) * C + c] - x[(j - 1) * C + c]
            now = sa // a >= mean
            if now != above:
                zc += 1
            above = now
        out[5 * c] = mean if level else 0
        out[5 * c + 1] = mad // n
        out[5 * c + 2] = fog // m
        out[5 * c + 3] = loco // m
        out[5 * c + 4] = zc


def shape_features(x, n, points, out, level=True):
    """Raw features of one univariate window: `points` block means minus the window mean, then
    the mean (0 when level=False) and mean |x - mean| (out needs points + 2 slots); integer
    floor divisions."""
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
    out[points] = mean if level else 0
    out[points + 1] = a // n
