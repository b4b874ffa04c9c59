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
    s2 = 0
    for c in range(c0, c1):
        for i in range(length):
            d = _point(x, channels, c, i, span, den) - m
            s2 += d * d
    s = isqrt(s2 // total)
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
    j, f = divmod(i * span, den)
    a = x[j * channels + c]
    if f == 0:
        return a
    return a + ((x[(j + 1) * channels + c] - a) * f) // den
