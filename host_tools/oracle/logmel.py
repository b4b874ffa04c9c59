"""The numpy int64 twin of the board's streaming log-mel front end (firmware/audio/logmel.py).

Every step is integer arithmetic; the board (plain Python or viper, 32- or 64-bit words) must
return the same int8 frames bit for bit. `logmel(x, check=True)` also asserts the range proof
below on every value it computes.

The rule, per frame of N samples (N = 512 = 32 ms at 16 kHz; hop H = 256 = 16 ms):

  pre-emphasis  y[n] = (32*x[n] - 31*x[n-1] + 32) >> 6      (x int16, x[-1] = 0, across frames:
                the filter runs once per sample as it arrives); (1 - 0.97 z^-1)/2, |y| <= 32256
  window        w[n] = 32768 - C[n], C[n] = round(32768 cos(2 pi n / N)) (periodic Hann in Q16,
                0..65536); v[n] = (y[n]*w[n] + 2**16) >> 17          |v| <= 16129 < 2**14
  normalise     s = 13 - floor(log2(max|v|)) (s = 0 for a silent frame): u = v << s, exact, so
                the frame's peak lies in [2**13, 2**14) and quiet frames keep their precision
  FFT           radix-2 decimation in time, bit-reversed input, log2(N) stages; every butterfly
                with twiddle W = (c, s) = (round(32768 cos), round(32768 sin)) of 2 pi j/N (Q15)
                  t = W* . b   (tr = c*br + s*bi, ti = c*bi - s*br, exact)
                  a' = (32768*a + t + 32768) >> 16,  b' = (32768*a - t + 32768) >> 16
                i.e. (a +- W*b)/2 rounded half up, each component: one rounding per stage,
                overall X = DFT(u)/N
  power         P[k] = (re[k]**2 + im[k]**2) >> 6              for k = 0 .. N/2
  mel           triangles with Q8 weights: bin k in segment j of the mel-spaced edges gets
                weight a[k] (0..255) in band j and 256 - a[k] in band j - 1;
                E[m] = sum_k weight * P[k]
  log           L = 8*e + T[f] for E >= 1 (e = floor(log2 E), f = the 5 bits after the leading
                one, T[f] = round(8 log2(1 + f/32))): log2(E) in 1/8 steps (0.38 dB of power)
  int8          out[m] = clamp(L - 16*s + OFFSET, -128, 127); E = 0 gives -128
                (16*s undoes the normalisation: power scaled by 4**s)

Ranges (every intermediate below 2**31, so a 32-bit viper word never wraps):
  y*w <= 32256*65536 + 65536 = 2,114,060,288 < 2**31.
  FFT: |u| < 2**14. |W| <= 32768 + 1 (each component rounded by <= 1/2), each stage's rounding
  moves a complex value by <= sqrt(2)/2, so magnitudes after stage k are at most
  2**14 (1 + 2**-15)**k + 0.71 k <= 16393 for k <= 9: they fit int16 (the board keeps re, im in
  array('h')). Numerators: |c br + s bi| <= |W| |b| (Cauchy-Schwarz), so
  |32768 a| + |t| + 32768 <= 32768*16393 + 32769*16393 + 32768 = 1,074,364,441 < 2**31.
  Power: re**2 + im**2 <= 16393**2 < 2**28.01, P < 2**22.01.
  Mel: each stage maps energy to half (plus rounding), so sum_k |X_k|**2 <= (16384 + 60)**2 and
  E[m] <= 256 * sum_k P[k] < 2**30.02. L <= 8*30 + 8 = 248 (only a tone filling one band
  reaches it; a full-scale 5 kHz sine gives L ~ 203), so OFFSET = 127 - 208 puts full-scale
  sines at 90 (1 kHz, where pre-emphasis takes 14 dB) to 127 (7 kHz), and the int8 range covers 255/8 = 32 octaves (96 dB) of band power below it.
"""
import math

import numpy as np

RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 40
FMIN = 60.0
FMAX = 7600.0
LOG_STEPS = 8            # log2 units per octave of power
OFFSET = 127 - 208       # full-scale sines give 90 (1 kHz) .. 127 (7 kHz) after pre-emphasis
MAX_N = 512              # the quarter-wave table's size: N may be any power of 2 from 4 to 512
NONE = 255               # bin in no mel band


def _round(v):
    return np.floor(np.asarray(v, np.float64) + 0.5).astype(np.int64)


def quarter_sine(n=MAX_N):
    """round(32768 sin(2 pi k / n)) for k = 0 .. n/4 (Q15, 32768 at the top)."""
    return _round(32768.0 * np.sin(2 * np.pi * np.arange(n // 4 + 1) / n))


LOG2_TABLE = _round(LOG_STEPS * np.log2(1 + np.arange(32) / 32.0))


def sin_cos(n):
    """Q15 sin and cos of 2 pi k/n for k = 0..n-1, from the 512-point quarter wave."""
    q = quarter_sine(MAX_N)[:: MAX_N // n]
    k = np.arange(n)
    quad, r = k // (n // 4), k % (n // 4)
    s = np.where(quad % 2 == 0, q[r], q[n // 4 - r])
    s = np.where(quad >= 2, -s, s)
    c = s[(k + n // 4) % n]
    return s, c


def hann_q16(n):
    return 32768 - sin_cos(n)[1]


def bitrev(n):
    bits = n.bit_length() - 1
    return np.array([int(format(i, "0%db" % bits)[::-1], 2) for i in range(n)], np.int64)


def mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_table(n_fft=N_FFT, rate=RATE, n_mels=N_MELS, fmin=FMIN, fmax=FMAX):
    """Per bin k = 0..n_fft/2: (segment j, Q8 weight a) as 2*(n_fft/2+1) bytes (see the rule).

    Edges e_0..e_{M+1} equally spaced in mel (HTK formula); bin k at f = k*rate/n_fft in
    [e_j, e_{j+1}) is on band j's rising slope with a = round(256 (f - e_j)/(e_{j+1} - e_j))
    (at most 255) and on band j-1's falling slope with 256 - a. Peak-normalised triangles.
    """
    edges = 700.0 * (10 ** (np.linspace(mel(fmin), mel(fmax), n_mels + 2) / 2595.0) - 1)
    out = bytearray()
    for k in range(n_fft // 2 + 1):
        f = k * rate / n_fft
        j = int(np.searchsorted(edges, f, side="right")) - 1
        if j < 0 or j > n_mels:
            out += bytes([NONE, 0])
            continue
        a = min(255, int(math.floor(256.0 * (f - edges[j]) / (edges[j + 1] - edges[j]) + 0.5)))
        out += bytes([j, a])
    return bytes(out)


def band_weights(table, n_mels):
    """The (n_mels, bins) Q8 weight matrix a table means."""
    t = np.frombuffer(table, np.uint8).reshape(-1, 2).astype(np.int64)
    w = np.zeros((n_mels, len(t)), np.int64)
    for k, (j, a) in enumerate(t):
        if j == NONE:
            continue
        if j < n_mels:
            w[j, k] += a
        if j >= 1:
            w[j - 1, k] += 256 - a
    return w


def _bitlen(v):
    """floor(log2 v) + 1 for v >= 0 (int64 arrays)."""
    out = np.zeros(v.shape, np.int64)
    for b in range(63):
        out += (v >> b) > 0
    return out


def int_log(e):
    """L = 8*floor(log2 E) + T[next 5 bits] for E >= 1 (int64 array); -1 where E = 0."""
    e = np.asarray(e, np.int64)
    top = _bitlen(e) - 1
    f = np.where(top >= 5, e >> np.maximum(top - 5, 0), e << np.maximum(5 - top, 0)) - 32
    return np.where(e > 0, LOG_STEPS * top + LOG2_TABLE[np.clip(f, 0, 31)], -1)


def _check(name, v, bound=1 << 31):
    m = int(np.abs(v).max()) if v.size else 0
    assert m < bound, "%s reaches %d, over the proven bound %d" % (name, m, bound)


def n_frames(n_samples, n_fft=N_FFT, hop=HOP):
    """Frames the stream yields from n_samples (whole hops only; the first after n_fft)."""
    hops = n_samples // hop
    return max(0, hops - n_fft // hop + 1)


def logmel(x, n_fft=N_FFT, hop=HOP, table=None, n_mels=N_MELS, check=True, details=False, offset=OFFSET):
    """int8 log-mel frames (F, n_mels) of an int16 stream x, as the board computes them."""
    x = np.asarray(x, np.int64).ravel()
    assert n_fft % hop == 0 and 4 <= n_fft <= MAX_N and n_fft & (n_fft - 1) == 0
    if table is None:
        table = mel_table(n_fft, n_mels=n_mels)
    assert x.size == 0 or (x.min() >= -32768 and x.max() <= 32767)
    x = x[: (x.size // hop) * hop]
    prev = np.concatenate([[0], x[:-1]]) if x.size else x
    y = (32 * x - 31 * prev + 32) >> 6
    F = n_frames(x.size, n_fft, hop)
    if F == 0:
        return np.zeros((0, n_mels), np.int8)
    idx = np.arange(F)[:, None] * hop + np.arange(n_fft)[None, :]
    yf = y[idx]
    w = hann_q16(n_fft)
    prod = yf * w
    v = (prod + 65536) >> 17
    peak = np.abs(v).max(axis=1)
    s = np.where(peak > 0, 13 - (_bitlen(peak) - 1), 0)
    u = v << s[:, None]
    re = u[:, bitrev(n_fft)].copy()
    im = np.zeros_like(re)
    sn, cs = sin_cos(n_fft)
    size = 2
    while size <= n_fft:
        half = size // 2
        step = n_fft // size
        j = np.arange(half)
        c, sj = cs[j * step], sn[j * step]
        a = (np.arange(0, n_fft, size)[:, None] + j[None, :]).ravel()
        b = a + half
        cc, ss = np.tile(c, n_fft // size), np.tile(sj, n_fft // size)
        br, bi = re[:, b], im[:, b]
        tr = cc * br + ss * bi
        ti = cc * bi - ss * br
        ar, ai = 32768 * re[:, a], 32768 * im[:, a]
        if check:
            for name, val in (("c*br", cc * br), ("s*bi", ss * bi), ("tr", tr), ("ti", ti)):
                _check(name, val)
            for val in (ar + tr + 32768, ar - tr + 32768, ai + ti + 32768, ai - ti + 32768):
                _check("butterfly numerator", val)
        re[:, a], re[:, b] = (ar + tr + 32768) >> 16, (ar - tr + 32768) >> 16
        im[:, a], im[:, b] = (ai + ti + 32768) >> 16, (ai - ti + 32768) >> 16
        if check:
            _check("FFT value (int16 buffer)", np.concatenate([re, im]), 16394)
        size *= 2
    nb = n_fft // 2 + 1
    p2 = re[:, :nb] ** 2 + im[:, :nb] ** 2
    P = p2 >> 6
    E = P @ band_weights(table, n_mels).T
    L = int_log(E)
    out = np.where(E > 0, L - 16 * s[:, None] + offset, -128)
    out = np.clip(out, -128, 127).astype(np.int8)
    if check:
        _check("pre-emphasis", y, 32257)
        _check("y*w", prod + 65536)
        _check("windowed", v, 1 << 14)
        _check("re^2+im^2", p2, 1 << 29)
        _check("mel energy", E, 1 << 31)
        # the energy bound behind the mel bound: sum over all N bins of |X|^2 <= (16384 + 60)^2
        _check("power sum", (re ** 2 + im ** 2).sum(axis=1), (16384 + 60) ** 2)
    if details:
        return out, {"s": s, "E": E, "P": P, "re": re, "im": im}
    return out


def firmware_tables_source():
    """Text of firmware/audio/tables.py (tests check the committed file equals it)."""
    q = quarter_sine(MAX_N)
    sin_bytes = b"".join(int(v).to_bytes(2, "little") for v in q)
    lines = [
        '"""Constant tables of the audio front end, generated by host_tools/oracle/logmel.py',
        "(firmware_tables_source; tests/test_audio_frontend.py checks this file equals it). Do not edit.",
        "",
        "SIN_Q15  round(32768 sin(2 pi k / 512)), k = 0..128, uint16 little-endian (quarter wave)",
        "LOG2_Q3  round(8 log2(1 + f/32)), f = 0..31",
        "MEL512   per FFT bin k = 0..256 of a 512-point frame at 16 kHz: (segment j, Q8 weight a),",
        "         %d mel bands %g-%g Hz (HTK mel scale, peak-normalised triangles)" % (N_MELS, FMIN, FMAX),
        "Computed on the host: the board must not round cos/log/mel in float32 where the host",
        'rounds in float64."""',
        "",
        "RATE = %d" % RATE,
        "N_FFT = %d" % N_FFT,
        "HOP = %d" % HOP,
        "N_MELS = %d" % N_MELS,
        "OFFSET = %d" % OFFSET,
        "SIN_Q15 = %r" % sin_bytes,
        "LOG2_Q3 = %r" % bytes(int(v) for v in LOG2_TABLE),
        "MEL512 = %r" % mel_table(),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # regenerate firmware/audio/tables.py
    import os
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(here, "firmware", "audio", "tables.py"), "w") as f:
        f.write(firmware_tables_source())
