"""Turn a raw sensor window into the model's int8 input, in integers only.

    frontend.prepare(x, n, channels, length, out, groups=1)
        # x: n samples of int16, channel-interleaved; out: bytearray(length * channels)

1. each channel is resampled to `length` points by linear interpolation in integers:
   point i lies at i*(n-1)/(length-1); with j, f = divmod(i*(n-1), length-1),
   v = x[j] + floor((x[j+1] - x[j]) * f / (length-1))
2. the channels are cut into `groups` consecutive groups of equal size (1: the whole window;
   2 for a 6-axis IMU: accelerometer, gyroscope), and each group is z-normalised on its own:
   m = floor(mean), s = isqrt(floor(mean of (v - m)**2)) (at least 1),
   q = floor((64*(v - m) + s) / (2*s)), i.e. 32*(v - m)/s rounded half up, clamped to
   -128..127: one unit is 1/32 of the group's standard deviation (the model's input scale).
   A group keeps the relations between its own axes (gravity's direction, the rotation axis).
3. out holds channel 0's points, then channel 1's, ... (channel-major).
host_tools/learn/train.py has the same rule in numpy; the tests compare them bit for bit.
"""
from .ints import err, isqrt

INPUT_SCALE = 1.0 / 32


def prepare(x, n, channels, length, out, groups=1):
    if n < 2 or length < 2:
        raise err("InputError", "a window needs at least 2 samples and 2 points, got %d and %d" % (n, length))
    if len(x) < n * channels:
        raise err("InputError", "window has %d values, %d samples of %d channels need %d"
                         % (len(x), n, channels, n * channels))
    if len(out) < length * channels:
        raise err("InputError", "out holds %d values, needs %d" % (len(out), length * channels))
    if groups < 1 or channels % groups:
        raise err("InputError", "%d channels cannot be cut into %d equal groups" % (channels, groups))
    per = channels // groups
    if length * per >= 8192:
        raise ValueError("%d points x %d channels per group: the integer maths needs fewer than 8192" % (length, per))
    for g in range(groups):
        _normalise(x, n, channels, g * per, (g + 1) * per, length, out)
    return out


def _normalise(x, n, channels, c0, c1, length, out):
    """Channels c0..c1-1 resampled and z-normalised together into out (rule above)."""
    total = length * (c1 - c0)
    span = n - 1
    den = length - 1
    # three passes (mean, spread, output) recompute the points: no buffer for the resampled window
    s1 = 0
    for c in range(c0, c1):
        for i in range(length):
            s1 += _point(x, channels, c, i, span, den)
    m = s1 // total
    # s2 // total, with s2 the sum of d*d, in small ints: d*d reaches 2**32 at full int16 range,
    # a heap-allocated big int on a board (31-bit small ints). |d| < 2**16 is split as
    # a*2**15 + b; hi counts units of 2**15 (< total * 2**17 < 2**30), lo < 2**15. The quotient
    # itself is below 2**30: it is at most the variance of int16 values plus 1.
    hi = 0
    lo = 0
    for c in range(c0, c1):
        for i in range(length):
            d = _point(x, channels, c, i, span, den) - m
            if d < 0:
                d = -d
            a = d >> 15
            b = d & 0x7FFF
            lo += b * b
            hi += ((a * a) << 15) + 2 * a * b + (lo >> 15)
            lo &= 0x7FFF
    q = hi // total
    s = isqrt((q << 15) + (((hi - q * total) << 15) + lo) // total)
    if s < 1:
        s = 1
    k = c0 * length
    for c in range(c0, c1):
        for i in range(length):
            q = (64 * (_point(x, channels, c, i, span, den) - m) + s) // (2 * s)
            if q > 127:
                q = 127
            elif q < -128:
                q = -128
            out[k] = q & 0xFF
            k += 1


def _point(x, channels, c, i, span, den):
    t = i * span
    j = t // den   # not divmod: its tuple would be allocated for every point
    f = t - j * den
    a = x[j * channels + c]
    if f == 0:
        return a
    return a + ((x[(j + 1) * channels + c] - a) * f) // den
