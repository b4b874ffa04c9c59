"""Load a tinyenroll model file and compute int8 embeddings with it.

    m = model.load("model.tem")
    emb = m.embed(window)        # window: in_dim int8 (bytes, bytearray or array('b'))
    emb = m.embed(m.input())     # a window built in the model's own input buffer: no copy

File format, versions 1 and 2 (little-endian; host_tools/oracle/modelfile.py writes it):
  header  "<4sBBHHHf"  magic b"TNYE", version, flags 0, n_layers, in_dim, reserved 0, input_scale
  layers  "<BBHH"      type, flags 0, n_in, n_out, then the payload of the type:
            1 DENSE    n_out*n_in int8 weights (row-major), n_out int32 biases,
                       n_out uint8 right shifts (0..24), float32 output scale
            2 RELU     (none; n_in == n_out)
            3 L2NORM   (none; n_in == n_out)
          version 2 only (a version-1 file with these types is refused):
            4 CONV1D   "<HHHH" in_ch C, out_ch O, kernel K, stride S; then O*C*K int8 weights
                       in (O, C, K) order, O int32 biases, O uint8 shifts, float32 output scale.
                       n_in = C*L, n_out = O*L_out, L_out = (L - K)//S + 1 >= 1
            5 MAXPOOL  "<HH" channels C, size P; n_in = C*L, n_out = C*(L//P), L//P >= 1
            6 AVGPOOL  "<HH" as MAXPOOL
  trailer "<I"         CRC32 of every byte before it
Activations are channel-major: channel 0's L values, then channel 1's, ... (torch's flatten
order, so a dense layer after a conv or pool layer needs no flatten step).
The arithmetic of each layer is documented in kernels.py. Scales are informational (the host
uses them to dequantise); the board computes in integers only.
"""
import struct
import binascii
import array
import os

from . import kernels
from .ints import check_int8, err

MAGIC = b"TNYE"
VERSION = 1
VERSION_CONV = 2
HEADER = "<4sBBHHHf"
HEADER_SIZE = 16
LAYER = "<BBHH"
LAYER_SIZE = 6
DENSE, RELU, L2NORM = 1, 2, 3
CONV1D, MAXPOOL, AVGPOOL = 4, 5, 6
LAYER_NAMES = {DENSE: "dense", RELU: "relu", L2NORM: "l2norm",
               CONV1D: "conv1d", MAXPOOL: "maxpool", AVGPOOL: "avgpool"}
CONV_EXT = "<HHHH"
CONV_EXT_SIZE = 8
POOL_EXT = "<HH"
POOL_EXT_SIZE = 4
MAX_DIM = 4096
MAX_LAYERS = 32


class Dense:
    """One dense layer: views into the model buffer plus small per-row arrays."""

    def __init__(self, buf, off, n_in, n_out):
        self.n_in = n_in
        self.n_out = n_out
        nw = n_in * n_out
        self.w = memoryview(buf)[off:off + nw]
        off += nw
        self.bias = array.array("i", [0] * n_out)
        self.bias_off = array.array("i", [0] * n_out)
        for i in range(n_out):
            b = struct.unpack_from("<i", buf, off + 4 * i)[0]
            if b >= kernels.DENSE_BOUND or b <= -kernels.DENSE_BOUND:
                # checked here, before bias + 2**24 could overflow the int32 array
                raise err("ModelError", "row %d: bias %d, its size is not below 2**24" % (i, b))
            self.bias[i] = b
            self.bias_off[i] = b + kernels.DENSE_BOUND
        off += 4 * n_out
        self.shift = memoryview(buf)[off:off + n_out]
        off += n_out
        self.out_scale = struct.unpack_from("<f", buf, off)[0]
        self.lo = -128
        self.cache = None

    def check_bounds(self, index):
        n_in = self.n_in
        w = self.w
        for i in range(self.n_out):
            k = self.shift[i]
            if k > kernels.MAX_SHIFT:
                raise err("ModelError", "layer %d row %d: shift %d is over %d" % (index, i, k, kernels.MAX_SHIFT))
            total = 0
            base = i * n_in
            for j in range(n_in):
                v = w[base + j]
                total += 256 - v if v > 127 else v
            total = 128 * total + abs(self.bias[i]) + ((1 << (k - 1)) if k else 0)
            if total >= kernels.DENSE_BOUND:
                raise err("ModelError", "layer %d row %d: accumulator bound %d is not below 2**24" % (index, i, total))


class Conv1D(Dense):
    """A 1-D convolution: a dense layer's parameters (one weight row of C*K per out channel,
    so n_in here is the row length C*K and n_out the out channels O) plus its geometry.
    The layer reads in_ch*in_len values and writes out_ch*out_len, both channel-major."""

    def __init__(self, buf, off, in_ch, out_ch, kernel, stride, in_len):
        Dense.__init__(self, buf, off, in_ch * kernel, out_ch)
        self.in_ch = in_ch
        self.out_ch = out_ch
        self.kernel = kernel
        self.stride = stride
        self.in_len = in_len
        self.out_len = (in_len - kernel) // stride + 1


class Pool:
    """Max or average pooling per channel over non-overlapping windows of `size`."""

    def __init__(self, channels, size, in_len):
        self.channels = channels
        self.size = size
        self.in_len = in_len
        self.out_len = in_len // size
        self.n_in = channels * in_len
        self.n_out = channels * self.out_len
        self.cache = None


class Model:
    """A loaded model: layers over one buffer, and two scratch buffers reused by every call."""

    _in = None  # input(), made at its first call: a program that never asks holds nothing for it

    def __init__(self, buf, name="model"):
        self.buf = buf
        self.name = name
        self.layers = []
        self._parse()
        width = max([self.in_dim] + [l[2] for l in self.layers])
        self._a = bytearray(width)
        self._b = bytearray(width)

    def _fail(self, msg):
        raise err("ModelError", "%s: %s" % (self.name, msg))

    def _parse(self):
        buf = self.buf
        size = len(buf)
        if size < HEADER_SIZE + 4:
            self._fail("truncated: %d bytes, a header alone needs %d" % (size, HEADER_SIZE + 4))
        magic, version, flags, n_layers, in_dim, _, in_scale = struct.unpack_from(HEADER, buf, 0)
        if magic != MAGIC:
            self._fail("bad magic %r, not a tinyenroll model" % (bytes(magic),))
        if version != VERSION and version != VERSION_CONV:
            self._fail("unknown format version %d (this firmware reads %d and %d)" % (version, VERSION, VERSION_CONV))
        if n_layers < 1 or n_layers > MAX_LAYERS:
            self._fail("layer count %d out of range 1..%d" % (n_layers, MAX_LAYERS))
        if in_dim < 1 or in_dim > MAX_DIM:
            self._fail("input size %d out of range 1..%d" % (in_dim, MAX_DIM))
        # walk the layer table to learn the size before trusting any payload
        off = HEADER_SIZE
        table = []
        exts = []  # per layer: the version-2 header fields of conv/pool layers, else None
        for i in range(n_layers):
            if off + LAYER_SIZE > size - 4:
                self._fail("truncated in layer %d header (%d bytes)" % (i, size))
            kind, lflags, n_in, n_out = struct.unpack_from(LAYER, buf, off)
            if kind not in LAYER_NAMES:
                self._fail("layer %d: unknown layer type %d" % (i, kind))
            if kind > L2NORM and version == VERSION:
                self._fail("layer %d: layer type %s needs format version %d" % (i, LAYER_NAMES[kind], VERSION_CONV))
            off += LAYER_SIZE
            ext = None
            if kind == CONV1D or kind == MAXPOOL or kind == AVGPOOL:
                fmt, n = (CONV_EXT, CONV_EXT_SIZE) if kind == CONV1D else (POOL_EXT, POOL_EXT_SIZE)
                if off + n > size - 4:
                    self._fail("truncated in layer %d header (%d bytes)" % (i, size))
                ext = struct.unpack_from(fmt, buf, off)
                off += n
            table.append((kind, off, n_in, n_out))
            exts.append(ext)
            if kind == DENSE:
                off += n_in * n_out + 5 * n_out + 4
            elif kind == CONV1D:
                c, o, k = ext[0], ext[1], ext[2]
                off += o * c * k + 5 * o + 4
        if off + 4 != size:
            if off + 4 > size:
                self._fail("truncated: layers need %d bytes, file has %d" % (off + 4, size))
            self._fail("%d unexpected bytes after the last layer" % (size - off - 4))
        crc = struct.unpack_from("<I", buf, off)[0]
        if binascii.crc32(memoryview(buf)[:off]) & 0xFFFFFFFF != crc:
            self._fail("CRC mismatch: the file is corrupt")
        width = in_dim
        for i, (kind, loff, n_in, n_out) in enumerate(table):
            if n_in != width:
                self._fail("layer %d (%s) takes %d inputs but gets %d" % (i, LAYER_NAMES[kind], n_in, width))
            if n_out < 1 or n_out > MAX_DIM:
                self._fail("layer %d: output size %d out of range 1..%d" % (i, n_out, MAX_DIM))
            if (kind == RELU or kind == L2NORM) and n_out != n_in:
                self._fail("layer %d (%s) must keep its size, %d -> %d" % (i, LAYER_NAMES[kind], n_in, n_out))
            if exts[i] is not None:
                self._check_geometry(i, kind, exts[i], n_in, n_out)
            width = n_out
        self.in_dim = in_dim
        self.out_dim = width
        self.input_scale = in_scale
        self.crc = crc
        self.size = size
        for i, (kind, loff, n_in, n_out) in enumerate(table):
            layer = None
            try:
                if kind == DENSE:
                    layer = Dense(buf, loff, n_in, n_out)
                    layer.check_bounds(i)
                elif kind == CONV1D:
                    c, o, k, st = exts[i]
                    layer = Conv1D(buf, loff, c, o, k, st, n_in // c)
                    layer.check_bounds(i)
                elif kind == MAXPOOL or kind == AVGPOOL:
                    layer = Pool(exts[i][0], exts[i][1], n_in // exts[i][0])
            except ValueError as e:  # errors.ModelError (imported only when an error happens)
                self._fail("layer %d %s" % (i, e) if str(e).startswith("row") else str(e))
            self.layers.append((kind, layer, n_out))
        # a ReLU straight after a dense or conv layer is fused into its clamp
        for i in range(1, len(self.layers)):
            if self.layers[i][0] == RELU and self.layers[i - 1][0] in (DENSE, CONV1D):
                self.layers[i - 1][1].lo = 0

    def _check_geometry(self, i, kind, ext, n_in, n_out):
        name = LAYER_NAMES[kind]
        c = ext[0]
        if kind == CONV1D:
            o, k, st = ext[1], ext[2], ext[3]
            if c < 1 or o < 1 or k < 1 or st < 1:
                self._fail("layer %d (conv1d): channels %d -> %d, kernel %d, stride %d must all be at least 1"
                           % (i, c, o, k, st))
            size = k
        else:
            size = ext[1]
            if c < 1 or size < 1:
                self._fail("layer %d (%s): channels %d and size %d must be at least 1" % (i, name, c, size))
        if n_in % c:
            self._fail("layer %d (%s): %d inputs do not divide into %d channels" % (i, name, n_in, c))
        length = n_in // c
        if length < size:
            self._fail("layer %d (%s): input length %d is shorter than its window %d, no output"
                       % (i, name, length, size))
        if kind == CONV1D:
            want = o * ((length - k) // st + 1)
        else:
            want = c * (length // size)
        if n_out != want:
            self._fail("layer %d (%s): output size %d, its geometry gives %d" % (i, name, n_out, want))

    def input(self):
        """The model's input buffer (in_dim bytes): a window built in it is embedded with no copy
        (embed(m.input())), and a program streaming windows needs no buffer of its own. Every
        embed() overwrites it."""
        if self._in is None:
            self._in = memoryview(self._a)[:self.in_dim]
        return self._in

    def embed(self, window):
        """Embedding of one int8 window; returns a bytearray reused by the next call."""
        check_int8(window, self.in_dim, "window", "the model takes")
        x = self._a
        y = self._b
        if window is not self._in:
            x[:self.in_dim] = window
        prev = 0  # no layer yet: a leading ReLU is not fused into anything
        for kind, layer, n in self.layers:
            if kind == DENSE:
                kernels.dense(layer, x, y)
                x, y = y, x
            elif kind == CONV1D:
                kernels.conv1d(layer, x, y)
                x, y = y, x
            elif kind == MAXPOOL:
                kernels.maxpool(layer, x, y)
                x, y = y, x
            elif kind == AVGPOOL:
                kernels.avgpool(layer, x, y)
                x, y = y, x
            elif kind == RELU:
                if prev != DENSE and prev != CONV1D:
                    _relu(x, n)
            else:
                kernels.l2norm(x, n)
            prev = kind
        return memoryview(x)[:self.out_dim]


def _relu(x, n):
    for i in range(n):
        if x[i] > 127:
            x[i] = 0


def load(path):
    """Read a model file into one buffer and parse it; raises ModelError on any problem."""
    try:
        size = os.stat(path)[6]
    except OSError:
        raise err("ModelError", "%s: no such model file" % (path,))
    buf = bytearray(size)
    with open(path, "rb") as f:
        got = f.readinto(buf)
    if got != size:
        raise err("ModelError", "%s: read %d of %d bytes" % (path, got or 0, size))
    return Model(buf, path)
