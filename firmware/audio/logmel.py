"""Streaming integer log-mel front end: int16 audio, one hop at a time, to int8 frames.

    fe = LogMel()                    # 512-sample frames (32 ms at 16 kHz), hop 256 (16 ms), 40 mels
    frame = fe.step(hop_samples)     # array('h') of fe.hop samples -> bytearray(40) of int8, or
                                     # None until the first 512 samples have arrived
    LogMel(offset=-81)               # where int8 sits on the level scale (1 unit = 1/8 octave of
                                     # power = 0.38 dB): the default puts full-scale sines at
                                     # 90 (1 kHz) .. 127 (7 kHz); speech at -28 dBFS peaks near -16

It never holds more than one frame of audio (a 512-sample ring, 1 KB) plus fixed work buffers
(about 5 KB in all, allocated once). Hop 256 (50 % overlap): a periodic Hann window at 50 %
overlap sums to a constant, so every sample counts equally and a 20 ms plosive is never lost in
a window's taper; 16 ms steps are what keyword spotters commonly use (10-20 ms), at twice the
cost of hop 512 (measured: host_tools/evaluate/bench_audio.py).

The rule (pre-emphasis, Hann in Q16, exact normalising left shift, radix-2 FFT with every stage
computing (a +- W b)/2 rounded half up, power >> 6, Q8 triangular mel weights, log2 in 1/8
steps from the leading bit and a 32-entry table, int8) and the proof that no intermediate
reaches 2**31 are written out in host_tools/oracle/logmel.py, its numpy twin, which checks the
bounds on every value it computes. Backends: plain Python (here, the rule as loops) and viper
(logmel_viper.py, machine code on MicroPython); both give the twin's integers bit for bit.
"""
import array
import sys

from . import tables

NONE = 255


def _preemph(src, ring, pos, n, mask, prev):
    """y = (32 x - 31 x_prev + 32) >> 6 into ring[(pos + i) & mask]; returns the last x."""
    for i in range(n):
        x = src[i]
        ring[(pos + i) & mask] = (32 * x - 31 * prev + 32) >> 6
        prev = x
    return prev


def _window(ring, pos, win, rev, re, im, n):
    """re[rev[i]] = (y_i w_i + 2**16) >> 17 for the frame starting at ring[pos]; im = 0.
    Returns the largest |value|."""
    mask = n - 1
    peak = 0
    for i in range(n):
        v = (ring[(pos + i) & mask] * win[i] + 65536) >> 17
        re[rev[i]] = v
        im[i] = 0
        if v < 0:
            v = -v
        if v > peak:
            peak = v
    return peak


def _scale(re, n, s):
    for i in range(n):
        re[i] = re[i] << s


def _fft(re, im, twc, tws, n):
    """In-place radix-2 DIT on bit-reversed input; every stage halves, rounding half up."""
    size = 2
    step = n >> 1
    while size <= n:
        half = size >> 1
        for j in range(half):
            c = twc[j * step] - 32768
            s = tws[j * step]
            a = j
            while a < n:
                b = a + half
                br = re[b]
                bi = im[b]
                tr = c * br + s * bi
                ti = c * bi - s * br
                ar = re[a] * 32768 + 32768
                ai = im[a] * 32768 + 32768
                re[a] = (ar + tr) >> 16
                re[b] = (ar - tr) >> 16
                im[a] = (ai + ti) >> 16
                im[b] = (ai - ti) >> 16
                a += size
        size <<= 1
        step >>= 1


def _power_mel(re, im, table, e, nbins, n_mels):
    for m in range(n_mels):
        e[m] = 0
    for k in range(nbins):
        j = table[2 * k]
        if j == NONE:
            continue
        a = table[2 * k + 1]
        p = (re[k] * re[k] + im[k] * im[k]) >> 6
        if j < n_mels:
            e[j] += a * p
        if j >= 1:
            e[j - 1] += (256 - a) * p


def _log(e, out, n_mels, s, log2tab, offset):
    for m in range(n_mels):
        v = e[m]
        if v <= 0:
            out[m] = 128  # -128 as a byte
            continue
        top = 0
        t = v
        while t > 1:
            t >>= 1
            top += 1
        if top >= 5:
            f = (v >> (top - 5)) - 32
        else:
            f = (v << (5 - top)) - 32
        q = 8 * top + log2tab[f] - 16 * s + offset
        if q > 127:
            q = 127
        elif q < -128:
            q = -128
        out[m] = q & 255


def _bitlen(v):
    n = 0
    while v:
        v >>= 1
        n += 1
    return n


def backends():
    """Backends that run here, best first."""
    if sys.implementation.name == "micropython":
        return ["viper", "plain"]
    return ["plain"]


def _table(code, n):
    """array(code) of n zeros in one allocation."""
    a = array.array(code, range(n))
    for i in range(n):
        a[i] = 0
    return a


class LogMel:
    def __init__(self, n_fft=tables.N_FFT, hop=tables.HOP, n_mels=tables.N_MELS, mel=None, backend=None,
                 offset=tables.OFFSET):
        if n_fft < 4 or n_fft > 512 or n_fft & (n_fft - 1):
            raise ValueError("n_fft must be a power of 2 from 4 to 512, got %d" % n_fft)
        if hop < 1 or n_fft % hop:
            raise ValueError("hop must divide n_fft (%d), got %d" % (n_fft, hop))
        if mel is None:
            if n_fft != 512:
                raise ValueError("give the mel table for n_fft %d (host_tools/oracle/logmel.mel_table)" % n_fft)
            mel = tables.MEL512
        nbins = n_fft // 2 + 1
        if len(mel) != 2 * nbins:
            raise ValueError("mel table has %d bytes, %d bins need %d" % (len(mel), nbins, 2 * nbins))
        for k in range(nbins):
            if mel[2 * k] != NONE and mel[2 * k] > n_mels:
                raise ValueError("mel table names band segment %d, n_mels is %d" % (mel[2 * k], n_mels))
        self.n_fft, self.hop, self.n_mels, self.nbins = n_fft, hop, n_mels, nbins
        self.offset = offset  # where int8 sits on the level scale: 1 unit = 1/8 octave of power
        self.mel = mel
        if backend is None:
            backend = backends()[0]
        if backend == "viper":
            from . import logmel_viper as impl
        elif backend == "plain":
            impl = sys.modules[__name__]
        else:
            raise ValueError("unknown backend %r" % backend)
        self.backend = backend
        self._impl = impl
        stride = 512 // n_fft
        q = n_fft // 4
        quarter = [tables.SIN_Q15[2 * k * stride] | (tables.SIN_Q15[2 * k * stride + 1] << 8) for k in range(q + 1)]

        def sin_k(k):  # round(32768 sin(2 pi k / n_fft)), any k in 0..n_fft-1
            quad, r = k // q, k % q
            v = quarter[r] if quad % 2 == 0 else quarter[q - r]
            return -v if quad >= 2 else v

        # twiddles for j = 0..n/2-1: cos + 32768 (>= 0, so a 32-bit load needs no sign) and sin (>= 0);
        # every table is sized from a range and filled in place (a list first would cost 8 bytes
        # an entry on top, and split a small heap)
        half = n_fft // 2
        self.twc = twc = _table("i", half)
        self.tws = tws = _table("i", half)
        for j in range(half):
            twc[j] = sin_k((j + q) % n_fft) + 32768
            tws[j] = sin_k(j)
        self.win = win = _table("i", n_fft)  # Hann, Q16
        for i in range(n_fft):
            win[i] = 32768 - sin_k((i + q) % n_fft)
        bits = _bitlen(n_fft) - 1
        rev = _table("H", n_fft)
        for i in range(n_fft):
            r = 0
            for b in range(bits):
                if i >> b & 1:
                    r |= 1 << (bits - 1 - b)
            rev[i] = r
        self.rev = rev
        self.ring = _table("h", n_fft)
        self.re = _table("h", n_fft)
        self.im = _table("h", n_fft)
        self.e = _table("i", n_mels)
        self.out = bytearray(n_mels)
        self.log2tab = tables.LOG2_Q3
        self.reset()

    def reset(self):
        """Forget the stream: the next frame comes after n_fft new samples."""
        self.pos = 0       # where the oldest sample of the ring is
        self.filled = 0
        self.prev = 0
        self.shift = 0     # the last frame's normalising shift s

    def step(self, samples):
        """Take hop int16 samples (array('h')); return the int8 frame (self.out) once n_fft
        samples have arrived, else None. The returned buffer is reused by the next call."""
        hop, n = self.hop, self.n_fft
        if len(samples) != hop:
            raise ValueError("step takes %d samples, got %d" % (hop, len(samples)))
        impl = self._impl
        self.prev = impl._preemph(samples, self.ring, self.pos, hop, n - 1, self.prev)
        self.pos = (self.pos + hop) & (n - 1)
        if self.filled < n:
            self.filled += hop
            if self.filled < n:
                return None
        peak = impl._window(self.ring, self.pos, self.win, self.rev, self.re, self.im, n)
        s = 13 - (_bitlen(peak) - 1) if peak else 0
        if s:
            impl._scale(self.re, n, s)
        self.shift = s
        impl._fft(self.re, self.im, self.twc, self.tws, n)
        impl._power_mel(self.re, self.im, self.mel, self.e, self.nbins, self.n_mels)
        impl._log(self.e, self.out, self.n_mels, s, self.log2tab, self.offset)
        return self.out
