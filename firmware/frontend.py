"""Turn a raw sensor window into the model's int8 input, in integers only.

    frontend.prepare(x, n, channels, length, out)   # x: n samples of int16, channel-interleaved
                                                    # out: bytearray(length * channels)

1. each channel is resampled to `length` points by linear interpolation in integers:
   point i lies at i*(n-1)/(length-1); with j, f = divmod(i*(n-1), length-1),
   v = x[j] + floor((x[j+1] - x[j]) * f / (length-1))
2. the whole window (all channels together) is z-normalised: m = floor(mean),
   s = isqrt(floor(mean of (v - m)**2)) (at least 1), q = floor((64*(v - m) + s) / (2*s)),
   i.e. 32*(v - m)/s rounded half up, clamped to -128..127: one unit is 1/32 of a standard
   deviation (the model's input scale).
3. out holds channel 0's points, then channel 1's, ... (channel-major).
host_tools/train.py has the same rule in numpy; the tests compare them bit for bit.
"""
from .ints import isqrt

INPUT_SCALE = 1.0 / 32


def prepare(x, n, channels, length, out):
    if n < 2 or length < 2:
        raise ValueError("a window needs at least 2 samples and 2 points, got %d and %d" % (n, length))
    if len(x) < n * channels:
        raise ValueError("window has %d values, %d samples of %d channels need %d"
                         % (len(x), n, channels, n * channels))
    if len(out) < length * channels:
        raise ValueError("out holds %d values, needs %d" % (len(out), length * channels))
    total = length * channels
    span = n - 1
    den = length - 1
    # three passes (mean, spread, output) recompute the points: no buffer for the resampled window
    s1 = 0
    for c in range(channels):
        for i in range(length):
            s1 += _point(x, channels, c, i, span, den, n)
    m = s1 // total
    s2 = 0
    for c in range(channels):
        for i in range(length):
            d = _point(x, channels, c, i, span, den, n) - m
            s2 += d * d
    s = isqrt(s2 // total)
    if s < 1:
        s = 1
    k = 0
    for c in range(channels):
        for i in range(length):
            q = (64 * (_point(x, channels, c, i, span, den, n) - m) + s) // (2 * s)
            if q > 127:
                q = 127
            elif q < -128:
                q = -128
            out[k] = q & 0xFF
            k += 1
    return out


def _point(x, channels, c, i, span, den, n):
    j, f = divmod(i * span, den)
    a = x[j * channels + c]
    if f == 0:
        return a
    return a + ((x[(j + 1) * channels + c] - a) * f) // den
