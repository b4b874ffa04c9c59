"""The viper backend's conv1d, maxpool and avgpool (kernels_viper.py's docstring; kernels.py has
the rules). Apart from kernels_viper so that a dense-only model does not hold their machine code:
kernels_viper loads this module at the first use of one of them."""
import micropython


@micropython.viper
def _conv1d(pw: ptr8, px: ptr8, acc: int, bias, shift, y, c_in: int, n_out: int, kk: int, stride: int, l_in: int,
            l_out: int, lo: int):
    # the loops of dense per output position; bias offset by 2**24 as in _dense. The hot values
    # are the first three locals, which viper keeps in registers: the weight and input cursors
    # and the sum (the caller passes the buffers as pw and px and 0 as acc); the cursors step a
    # channel at a time
    w0 = uint(pw)
    x0 = uint(px)
    pb = ptr32(bias)
    pk = ptr8(shift)
    py = ptr8(y)
    row = c_in * kk
    q = 0
    for o in range(n_out):
        b = int(pb[o]) - 0x1000000
        k = int(pk[o])
        rnd = 0
        if k:
            rnd = 1 << (k - 1)
        wo = w0 + o * row
        for t in range(l_out):
            acc = b
            pw = ptr8(wo)
            px = ptr8(x0 + t * stride)
            for c in range(c_in):
                for j in range(kk):
                    acc += ((int(pw[j]) ^ 128) - 128) * ((int(px[j]) ^ 128) - 128)
                pw = ptr8(uint(pw) + kk)
                px = ptr8(uint(px) + l_in)
            acc = (acc + rnd) >> k
            if acc < lo:
                acc = lo
            elif acc > 127:
                acc = 127
            py[q] = acc
            q += 1


@micropython.viper
def _maxpool(x, y, channels: int, size: int, l_in: int, l_out: int):
    px = ptr8(x)
    py = ptr8(y)
    q = 0
    for c in range(channels):
        base = c * l_in
        for t in range(l_out):
            m = -128
            for j in range(base, base + size):
                v = (int(px[j]) ^ 128) - 128
                if v > m:
                    m = v
            py[q] = m
            q += 1
            base += size


@micropython.viper
def _avgpool(x, y, channels: int, size: int, l_in: int, l_out: int):
    # the numerator is made positive (s >= -128*size) so that // is a floor whatever the
    # division of negative machine ints does
    px = ptr8(x)
    py = ptr8(y)
    den = 2 * size
    off = size + 256 * size
    q = 0
    for c in range(channels):
        base = c * l_in
        for t in range(l_out):
            s = 0
            for j in range(base, base + size):
                s += (int(px[j]) ^ 128) - 128
            py[q] = (2 * s + off) // den - 128
            q += 1
            base += size


def conv1d(layer, x, y):
    _conv1d(layer.w, x, 0, layer.bias_off, layer.shift, y, layer.in_ch, layer.out_ch, layer.kernel,
            layer.stride, layer.in_len, layer.out_len, layer.lo)


def maxpool(layer, x, y):
    _maxpool(x, y, layer.channels, layer.size, layer.in_len, layer.out_len)


def avgpool(layer, x, y):
    _avgpool(x, y, layer.channels, layer.size, layer.in_len, layer.out_len)
