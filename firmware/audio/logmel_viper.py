"""Viper backend of audio/logmel.py: the same rule as machine code on MicroPython.

viper's int is the machine word (32-bit on boards, 64-bit on the unix port). Every value stays
below 2**31 (the proof is in host_tools/oracle/logmel.py), so both word sizes give the same
integers. ptr16 loads are unsigned: int16 values are sign-extended with (v ^ 0x8000) - 0x8000.
ptr32 loads are zero-extended on the 64-bit port, so every int32 array read here holds only
non-negative values (window 0..65536, cos + 32768, sin of [0, pi), mel energies).
"""
import micropython


@micropython.viper
def _preemph(src, ring, pos: int, n: int, mask: int, prev: int) -> int:
    ps = ptr16(src)
    pr = ptr16(ring)
    for i in range(n):
        x = (int(ps[i]) ^ 0x8000) - 0x8000
        pr[(pos + i) & mask] = (32 * x - 31 * prev + 32) >> 6
        prev = x
    return prev


@micropython.viper
def _window(ring, pos: int, win, rev, re, im, n: int) -> int:
    pr = ptr16(ring)
    pw = ptr32(win)
    pv = ptr16(rev)
    pre = ptr16(re)
    pim = ptr16(im)
    mask = n - 1
    peak = 0
    for i in range(n):
        y = (int(pr[(pos + i) & mask]) ^ 0x8000) - 0x8000
        v = (y * int(pw[i]) + 65536) >> 17
        pre[pv[i]] = v
        pim[i] = 0
        if v < 0:
            v = 0 - v
        if v > peak:
            peak = v
    return peak


@micropython.viper
def _scale(re, n: int, s: int):
    p = ptr16(re)
    for i in range(n):
        p[i] = ((int(p[i]) ^ 0x8000) - 0x8000) << s


@micropython.viper
def _fft(re, im, twc, tws, n: int):
    pre = ptr16(re)
    pim = ptr16(im)
    pc = ptr32(twc)
    ps = ptr32(tws)
    size = 2
    step = n >> 1
    while size <= n:
        half = size >> 1
        j = 0
        while j < half:
            c = int(pc[j * step]) - 32768
            s = int(ps[j * step])
            a = j
            while a < n:
                b = a + half
                br = (int(pre[b]) ^ 0x8000) - 0x8000
                bi = (int(pim[b]) ^ 0x8000) - 0x8000
                tr = c * br + s * bi
                ti = c * bi - s * br
                ar = ((int(pre[a]) ^ 0x8000) - 0x8000) * 32768 + 32768
                ai = ((int(pim[a]) ^ 0x8000) - 0x8000) * 32768 + 32768
                pre[a] = (ar + tr) >> 16
                pre[b] = (ar - tr) >> 16
                pim[a] = (ai + ti) >> 16
                pim[b] = (ai - ti) >> 16
                a += size
            j += 1
        size <<= 1
        step >>= 1


@micropython.viper
def _power_mel(re, im, table, e, nbins: int, n_mels: int):
    pre = ptr16(re)
    pim = ptr16(im)
    pt = ptr8(table)
    pe = ptr32(e)
    for m in range(n_mels):
        pe[m] = 0
    for k in range(nbins):
        j = int(pt[2 * k])
        if j == 255:
            continue
        a = int(pt[2 * k + 1])
        r = (int(pre[k]) ^ 0x8000) - 0x8000
        i = (int(pim[k]) ^ 0x8000) - 0x8000
        p = (r * r + i * i) >> 6
        if j < n_mels:
            pe[j] = int(pe[j]) + a * p
        if j >= 1:
            pe[j - 1] = int(pe[j - 1]) + (256 - a) * p


@micropython.viper
def _log(e, out, n_mels: int, s: int, log2tab, offset: int):
    pe = ptr32(e)
    po = ptr8(out)
    pt = ptr8(log2tab)
    for m in range(n_mels):
        v = int(pe[m])
        if v <= 0:
            po[m] = 128
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
        q = 8 * top + int(pt[f]) - 16 * s + offset
        if q > 127:
            q = 127
        elif q < -128:
            q = -128
        po[m] = q & 255
