"""Viper backend of kernels.py: the same rule compiled to machine code on MicroPython.

viper's int is the machine word (32-bit on boards, 64-bit on the unix port); the bounds in
kernels.py keep every value below 2**24, so both give the same results. ptr8 reads bytes
unsigned, so int8 values are sign-extended with (v ^ 128) - 128. Biases are read with an
offset of 2**24 (see model.py) so that a 32-bit load is never negative.
"""
import micropython

from .ints import scale_unit

BIAS_OFFSET = 1 << 24
_QB = bytearray(256)  # the query of knn_topk, each byte xor 128 (kernels.MAX_DIST_DIM values)


@micropython.viper
def _dense(pw: ptr8, px: ptr8, acc: int, bias, shift, y, n_in: int, n_out: int, lo: int):
    # inner loop unrolled by 4 and the weight pointer stepped a row at a time: ~1.5x faster
    # than one MAC per iteration with index arithmetic (make bench); the sums are the same.
    # The weight cursor, the input and the sum are the first three locals, the ones viper
    # keeps in registers (the caller passes the buffers as pw and px and 0 as acc)
    pb = ptr32(bias)
    pk = ptr8(shift)
    py = ptr8(y)
    n4 = n_in - 3
    for i in range(n_out):
        acc = int(pb[i]) - 0x1000000
        j = 0
        while j < n4:
            acc += (((int(pw[j]) ^ 128) - 128) * ((int(px[j]) ^ 128) - 128)
                    + ((int(pw[j + 1]) ^ 128) - 128) * ((int(px[j + 1]) ^ 128) - 128)
                    + ((int(pw[j + 2]) ^ 128) - 128) * ((int(px[j + 2]) ^ 128) - 128)
                    + ((int(pw[j + 3]) ^ 128) - 128) * ((int(px[j + 3]) ^ 128) - 128))
            j += 4
        while j < n_in:
            acc += ((int(pw[j]) ^ 128) - 128) * ((int(px[j]) ^ 128) - 128)
            j += 1
        pw = ptr8(uint(pw) + n_in)
        k = int(pk[i])
        if k:
            acc = (acc + (1 << (k - 1))) >> k
        if acc < lo:
            acc = lo
        elif acc > 127:
            acc = 127
        py[i] = acc


@micropython.viper
def _sumsq(v, n: int) -> int:
    p = ptr8(v)
    s = 0
    for i in range(n):
        a = (int(p[i]) ^ 128) - 128
        s += a * a
    return s


@micropython.viper
def _sqdist(q, rows, count: int, dim: int, out):
    # every distance written out (calibration, prototypes); the search itself is knn_topk.
    # One value an iteration: the unrolled form cost heap that the 96K demo pipeline lacks
    pq = ptr8(q)
    pr = ptr8(rows)
    po = ptr32(out)
    for r in range(count):
        d = 0
        for j in range(dim):
            a = (int(pr[j]) ^ 128) - (int(pq[j]) ^ 128)
            d += a * a
        po[r] = d
        pr = ptr8(uint(pr) + dim)


@micropython.viper
def _knn_words(pr: ptr32, px: ptr8, d: int, count: int, dim: int, lab, k: int, ncls: int, top, fill,
               skip: int):
    # sqdist + class_topk fused, rows read 4 bytes a load (dim % 8 == 0, rows 4-aligned).
    # The hot values are the first three locals, the ones viper keeps in registers: the row
    # pointer, the biased query, the running sum. Row bytes are unbiased by one xor per word:
    # (r ^ 128) - (q ^ 128) = r - q for int8 r, q. A row is abandoned once its partial sum
    # reaches its class's k-th best (it could not enter: topk_insert's rule), checked every 8 values.
    pl = ptr8(lab)
    pt = ptr32(top)
    pf = ptr8(fill)
    for c in range(ncls):
        pf[c] = 0
    x0 = uint(px)
    m8 = 0x8080
    xm = (m8 << 16) | m8  # 0x80808080 built at run time: as a literal it is no small int on a board
    for r in range(count):
        if r == skip:
            pr = ptr32(uint(pr) + dim)
            continue
        c = int(pl[r])
        m = int(pf[c])
        base = c * k
        bound = 1 << 28  # above any distance (< 2**24); a small int on every port
        if m == k:
            bound = int(pt[base + k - 1])
        d = 0
        px = ptr8(x0)
        i = dim >> 2
        while i > 0:
            w = int(pr[0]) ^ xm
            a = (w & 255) - int(px[0])
            b = ((w >> 8) & 255) - int(px[1])
            e = ((w >> 16) & 255) - int(px[2])
            f = ((w >> 24) & 255) - int(px[3])
            d += a * a + b * b + e * e + f * f
            w = int(pr[1]) ^ xm
            a = (w & 255) - int(px[4])
            b = ((w >> 8) & 255) - int(px[5])
            e = ((w >> 16) & 255) - int(px[6])
            f = ((w >> 24) & 255) - int(px[7])
            d += a * a + b * b + e * e + f * f
            pr = ptr32(uint(pr) + 8)
            px = ptr8(uint(px) + 8)
            i -= 2
            if d >= bound:
                break
        pr = ptr32(uint(pr) + (i << 2))
        if d >= bound:
            continue
        if m < k:
            j = m
            pf[c] = m + 1
        else:
            j = k - 1
        while j > 0 and int(pt[base + j - 1]) > d:
            pt[base + j] = pt[base + j - 1]
            j -= 1
        pt[base + j] = d


@micropython.viper
def _knn_bytes(pr: ptr8, px: ptr8, d: int, count: int, dim: int, lab, k: int, ncls: int, top, fill,
               skip: int):
    # _knn_words for any dim: one byte a load, unrolled by 4, abandoned as there
    pl = ptr8(lab)
    pt = ptr32(top)
    pf = ptr8(fill)
    for c in range(ncls):
        pf[c] = 0
    x0 = uint(px)
    for r in range(count):
        if r == skip:
            pr = ptr8(uint(pr) + dim)
            continue
        c = int(pl[r])
        m = int(pf[c])
        base = c * k
        bound = 1 << 28  # above any distance (< 2**24); a small int on every port
        if m == k:
            bound = int(pt[base + k - 1])
        d = 0
        px = ptr8(x0)
        i = dim
        while i > 3:
            a = (int(pr[0]) ^ 128) - int(px[0])
            b = (int(pr[1]) ^ 128) - int(px[1])
            e = (int(pr[2]) ^ 128) - int(px[2])
            f = (int(pr[3]) ^ 128) - int(px[3])
            d += a * a + b * b + e * e + f * f
            pr = ptr8(uint(pr) + 4)
            px = ptr8(uint(px) + 4)
            i -= 4
            if d >= bound:
                break
        if d < bound:
            while i > 0:
                a = (int(pr[0]) ^ 128) - int(px[0])
                d += a * a
                pr = ptr8(uint(pr) + 1)
                px = ptr8(uint(px) + 1)
                i -= 1
        pr = ptr8(uint(pr) + i)
        if d >= bound:
            continue
        if m < k:
            j = m
            pf[c] = m + 1
        else:
            j = k - 1
        while j > 0 and int(pt[base + j - 1]) > d:
            pt[base + j] = pt[base + j - 1]
            j -= 1
        pt[base + j] = d


@micropython.viper
def _bias_query(q, qb, dim: int, rows) -> int:
    # qb = q xor 128 per byte; returns 1 when rows can be read two words at a time
    pq = ptr8(q)
    pb = ptr8(qb)
    for j in range(dim):
        pb[j] = int(pq[j]) ^ 128
    a = int(uint(ptr8(rows))) & 3
    return 1 if (dim & 7) == 0 and a == 0 else 0


@micropython.viper
def _class_best(top, fill, k: int, ncls: int, sc) -> int:
    # enroll.class_best's rule (fill never None); sums stay below 32 * 2**24, a small int
    pt = ptr32(top)
    pf = ptr8(fill)
    ps = ptr32(sc)
    best = -1
    bv = 1 << 29     # above every score: none yet
    runner = 1 << 29
    for c in range(ncls):
        n = int(pf[c])
        b = c * k
        v = 0
        for j in range(b, b + n):
            v += int(pt[j])
        if n > 1:
            v = v // n
        ps[c] = v
        if v < bv:
            runner = bv
            bv = v
            best = c
        elif v < runner:
            runner = v
    ps[ncls] = runner if runner < (1 << 29) else -1
    return best


@micropython.viper
def knn_best(e, q, qn, skip: int) -> int:
    # enroll.knn_best in one viper call: no Python frame, which with this many arguments would
    # come from the heap at every call (a third of a classify's time at 200 examples); qn unused
    dim = int(e.dim)
    rows = e.rows
    ncls = len(e.labels)
    f = _knn_words if int(_bias_query(q, _QB, dim, rows)) else _knn_bytes
    f(rows, _QB, 0, e.count, dim, e.lab, e.k, ncls, e._topk, e._fill, skip)
    return int(_class_best(e._topk, e._fill, e.k, ncls, e._sc))


def knn_topk(q, qnorm, rows, norms, count, dim, lab, k, ncls, top, fill, skip=-1, dist=None):
    qb = _QB
    if _bias_query(q, qb, dim, rows):
        _knn_words(rows, qb, 0, count, dim, lab, k, ncls, top, fill, skip)
    else:
        _knn_bytes(rows, qb, 0, count, dim, lab, k, ncls, top, fill, skip)


def dense(layer, x, y):
    _dense(layer.w, x, 0, layer.bias_off, layer.shift, y, layer.n_in, layer.n_out, layer.lo)


def sumsq(v, n):
    return _sumsq(v, n)


def l2norm(y, n):
    scale_unit(y, n, _sumsq(y, n))


def sqdist(q, qnorm, rows, norms, count, dim, out):
    _sqdist(q, rows, count, dim, out)


def class_topk(dist, lab, count, k, ncls, top, fill, skip=-1):
    # the plain one: the search calls knn_topk (below), which has the top-k step in machine code;
    # class_topk alone is left for the anomaly detector's drift adaptation (heap: one less function)
    from .kernels_plain import class_topk as plain
    plain(dist, lab, count, k, ncls, top, fill, skip)


def __getattr__(name):
    # conv1d, maxpool, avgpool: in kernels_viper_conv.py, loaded by a model's first conv or pool
    # layer (a dense-only model never holds their machine code)
    if name not in ("conv1d", "maxpool", "avgpool"):
        raise AttributeError(name)  # a probe (hasattr, the import system's) loads nothing
    from . import kernels_viper_conv
    return getattr(kernels_viper_conv, name)
