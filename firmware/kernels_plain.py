"""Plain-Python backend of kernels.py: the rule written as loops, runs anywhere."""
from .ints import scale_unit, s8, topk_insert


def dense(layer, x, y):
    w = layer.w
    bias = layer.bias
    shift = layer.shift
    n_in = layer.n_in
    lo = layer.lo
    base = 0
    for i in range(layer.n_out):
        acc = bias[i]
        for j in range(n_in):
            wv = w[base + j]
            xv = x[j]
            if wv > 127:
                wv -= 256
            if xv > 127:
                xv -= 256
            acc += wv * xv
        base += n_in
        k = shift[i]
        if k:
            acc = (acc + (1 << (k - 1))) >> k
        if acc < lo:
            acc = lo
        elif acc > 127:
            acc = 127
        y[i] = acc & 0xFF


def sumsq(v, n):
    s = 0
    for i in range(n):
        a = s8(v[i])
        s += a * a
    return s


def l2norm(y, n):
    scale_unit(y, n, sumsq(y, n))


def sqdist(q, qnorm, rows, norms, count, dim, out):
    base = 0
    for r in range(count):
        d = 0
        for j in range(dim):
            a = rows[base + j]
            b = q[j]
            if a > 127:
                a -= 256
            if b > 127:
                b -= 256
            a -= b
            d += a * a
        out[r] = d
        base += dim


def class_topk(dist, lab, count, k, ncls, top, fill, skip=-1):
    for c in range(ncls):
        fill[c] = 0
    for i in range(count):
        if i != skip:
            c = lab[i]
            m = fill[c]
            v = dist[i]
            # most values cannot enter a full list: that test inline, without the call (~2x faster)
            if m < k or v < top[c * k + k - 1]:
                fill[c] = topk_insert(top, c * k, m, k, v)


def knn_topk(q, qnorm, rows, norms, count, dim, lab, k, ncls, top, fill, skip=-1, dist=None):
    sqdist(q, qnorm, rows, norms, count, dim, dist)
    class_topk(dist, lab, count, k, ncls, top, fill, skip)


knn_best = None  # no search of its own: the Enroller runs enroll.knn_best over knn_topk


def conv1d(layer, x, y):
    w = layer.w
    bias = layer.bias
    shift = layer.shift
    lo = layer.lo
    c_in = layer.in_ch
    kk = layer.kernel
    stride = layer.stride
    l_in = layer.in_len
    l_out = layer.out_len
    row = c_in * kk
    q = 0
    for o in range(layer.out_ch):
        k = shift[o]
        rnd = (1 << (k - 1)) if k else 0
        wo = o * row
        for t in range(l_out):
            acc = bias[o]
            xt = t * stride
            for c in range(c_in):
                wb = wo + c * kk
                xb = c * l_in + xt
                for j in range(kk):
                    wv = w[wb + j]
                    xv = x[xb + j]
                    if wv > 127:
                        wv -= 256
                    if xv > 127:
                        xv -= 256
                    acc += wv * xv
            acc = (acc + rnd) >> k
            if acc < lo:
                acc = lo
            elif acc > 127:
                acc = 127
            y[q] = acc & 0xFF
            q += 1


def maxpool(layer, x, y):
    size = layer.size
    q = 0
    for c in range(layer.channels):
        base = c * layer.in_len
        for t in range(layer.out_len):
            m = -128
            for j in range(base, base + size):
                v = s8(x[j])
                if v > m:
                    m = v
            y[q] = m & 0xFF
            q += 1
            base += size


def avgpool(layer, x, y):
    size = layer.size
    q = 0
    for c in range(layer.channels):
        base = c * layer.in_len
        for t in range(layer.out_len):
            s = 0
            for j in range(base, base + size):
                s += s8(x[j])
            y[q] = ((2 * s + size) // (2 * size)) & 0xFF
            q += 1
            base += size
