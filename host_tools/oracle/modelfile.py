"""Write and read tinyenroll model files on the host (format: firmware/model.py docstring).

A model here is a dict: {"input_scale": float, "layers": [layer, ...]} where a layer is
{"type": "dense", "w": int8 (n_out, n_in), "b": int32 (n_out,), "shift": uint8 (n_out,),
 "out_scale": float}, {"type": "relu" | "l2norm", "n": size} (n optional),
{"type": "conv1d", "w": int8 (O, C, K), "b": int32 (O,), "shift": uint8 (O,), "stride": S,
 "out_scale": float} or {"type": "maxpool" | "avgpool", "channels": C, "size": P}.
Activations are channel-major (channel 0's L points, then channel 1's, ...): a layer's input
length L is its input size divided by its channel count, which must divide exactly.
A model of dense/relu/l2norm layers only is written as format version 1 (byte for byte as
before); one with conv1d or pooling layers as version 2, whose layer records carry extra
header fields after the common "<BBHH": conv1d "<HHHH" (in channels, out channels, kernel,
stride), maxpool/avgpool "<HH" (channels, pool size).
This module is independent of the firmware code: it is half of the reference the boards are
checked against.
"""
import struct
import zlib

import numpy as np

from . import bounds32
from .errors import ExportError, ModelFileError  # noqa: F401  (ExportError re-exported)

MAGIC = b"TNYE"
VERSION = 1
VERSION_CONV = 2
TYPES = {"dense": 1, "relu": 2, "l2norm": 3, "conv1d": 4, "maxpool": 5, "avgpool": 6}
V1_TYPES = ("dense", "relu", "l2norm")
NAMES = {v: k for k, v in TYPES.items()}
ACC_LIMIT = 1 << 24  # every partial sum must stay below this (exact in float32)
MAX_SHIFT = 24


def row_bounds(w, b, shift):
    """Worst-case |accumulator| per row: 128*sum|W| + |b| + rounding constant."""
    w = np.asarray(w, dtype=np.int64)
    rnd = np.where(shift > 0, 1 << np.maximum(shift.astype(np.int64) - 1, 0), 0)
    return 128 * np.abs(w).sum(axis=1) + np.abs(np.asarray(b, dtype=np.int64)) + rnd


def check_layer(i, layer, n_in):
    """Raise ExportError naming the problem if a layer is malformed or could overflow."""
    kind = layer["type"]
    if kind not in TYPES:
        raise ExportError("layer %d: unknown type %r" % (i, kind))
    if kind == "conv1d":
        return check_conv1d(i, layer, n_in)
    if kind in ("maxpool", "avgpool"):
        return check_pool(i, layer, n_in)
    if kind != "dense":
        n = int(layer.get("n", n_in))
        if n != n_in:
            raise ExportError("layer %d (%s): size %d but gets %d inputs" % (i, kind, n, n_in))
        return n_in
    w = np.asarray(layer["w"])
    b = np.asarray(layer["b"])
    shift = np.asarray(layer["shift"])
    if w.ndim != 2 or w.shape[1] != n_in:
        raise ExportError("layer %d (dense): weights %s do not take %d inputs" % (i, w.shape, n_in))
    n_out = w.shape[0]
    if b.shape != (n_out,) or shift.shape != (n_out,):
        raise ExportError("layer %d (dense): bias %s / shift %s must be (%d,)" % (i, b.shape, shift.shape, n_out))
    if w.min() < -128 or w.max() > 127:
        raise ExportError("layer %d: weights outside int8" % i)
    if b.min() < -(1 << 31) or b.max() >= (1 << 31):
        raise ExportError("layer %d: bias outside int32" % i)
    if shift.min() < 0 or shift.max() > MAX_SHIFT:
        raise ExportError("layer %d: shifts must be in 0..%d" % (i, MAX_SHIFT))
    worst = row_bounds(w, b, shift)
    if worst.max() >= ACC_LIMIT:
        r = int(worst.argmax())
        raise ExportError("layer %d row %d: accumulator could reach %d, not below 2**24 "
                          "(float32 dot on a board would round)" % (i, r, int(worst[r])))
    return n_out


def _check_int_params(i, w, b, shift):
    if w.size == 0 or w.min() < -128 or w.max() > 127:
        raise ExportError("layer %d: weights outside int8" % i)
    if b.min() < -(1 << 31) or b.max() >= (1 << 31):
        raise ExportError("layer %d: bias outside int32" % i)
    if shift.min() < 0 or shift.max() > MAX_SHIFT:
        raise ExportError("layer %d: shifts must be in 0..%d" % (i, MAX_SHIFT))


def check_conv1d(i, layer, n_in):
    """Checks of a conv1d layer over n_in inputs; returns its output size O * L_out."""
    w = np.asarray(layer["w"])
    b = np.asarray(layer["b"])
    shift = np.asarray(layer["shift"])
    stride = int(layer.get("stride", 1))
    if w.ndim != 3:
        raise ExportError("layer %d (conv1d): weights must be (out_ch, in_ch, kernel), got %s" % (i, w.shape))
    n_out, c, k = w.shape
    if not (1 <= n_out <= 65535 and 1 <= c <= 65535 and 1 <= k <= 65535 and 1 <= stride <= 65535):
        raise ExportError("layer %d (conv1d): channels, kernel and stride must be in 1..65535" % i)
    if n_in % c:
        raise ExportError("layer %d (conv1d): %d inputs do not divide into %d channels" % (i, n_in, c))
    length = n_in // c
    if length < k:
        raise ExportError("layer %d (conv1d): input length %d is shorter than the kernel %d" % (i, length, k))
    if b.shape != (n_out,) or shift.shape != (n_out,):
        raise ExportError("layer %d (conv1d): bias %s / shift %s must be (%d,)" % (i, b.shape, shift.shape, n_out))
    _check_int_params(i, w, b, shift)
    worst = row_bounds(w.reshape(n_out, c * k), b, shift)
    if worst.max() >= ACC_LIMIT:
        r = int(worst.argmax())
        raise ExportError("layer %d out channel %d: accumulator could reach %d, not below 2**24 "
                          "(float32 dot on a board would round)" % (i, r, int(worst[r])))
    return n_out * ((length - k) // stride + 1)


def check_pool(i, layer, n_in):
    """Checks of a maxpool/avgpool layer over n_in inputs; returns its output size C * L_out."""
    c = int(layer["channels"])
    p = int(layer["size"])
    kind = layer["type"]
    if not (1 <= c <= 65535 and 1 <= p <= 65535):
        raise ExportError("layer %d (%s): channels and size must be in 1..65535" % (i, kind))
    if n_in % c:
        raise ExportError("layer %d (%s): %d inputs do not divide into %d channels" % (i, kind, n_in, c))
    if n_in // c < p:
        raise ExportError("layer %d (%s): input length %d is shorter than the pool size %d"
                          % (i, kind, n_in // c, p))
    return c * (n_in // c // p)


def to_bytes(model):
    """Serialise a model dict, refusing any model the firmware could not compute exactly."""
    layers = model["layers"]
    in_dim = int(model["in_dim"])
    if not 1 <= in_dim <= 4096:
        raise ExportError("input size %d out of range 1..4096" % in_dim)
    if not 1 <= len(layers) <= 32:
        raise ExportError("layer count %d out of range 1..32" % len(layers))
    version = VERSION if all(layer["type"] in V1_TYPES for layer in layers) else VERSION_CONV
    out = bytearray(struct.pack("<4sBBHHHf", MAGIC, version, 0, len(layers), in_dim, 0,
                                float(model.get("input_scale", 1.0))))
    width = in_dim
    for i, layer in enumerate(layers):
        n_out = check_layer(i, layer, width)
        if not 1 <= n_out <= 4096:
            raise ExportError("layer %d (%s): output size %d out of range 1..4096" % (i, layer["type"], n_out))
        out += struct.pack("<BBHH", TYPES[layer["type"]], 0, width, n_out)
        if layer["type"] == "conv1d":
            w = np.asarray(layer["w"])
            out += struct.pack("<HHHH", w.shape[1], w.shape[0], w.shape[2], int(layer.get("stride", 1)))
            out += np.asarray(w, dtype="<i1").tobytes()
            out += np.asarray(layer["b"], dtype="<i4").tobytes()
            out += np.asarray(layer["shift"], dtype="u1").tobytes()
            out += struct.pack("<f", float(layer.get("out_scale", 1.0)))
        elif layer["type"] in ("maxpool", "avgpool"):
            out += struct.pack("<HH", int(layer["channels"]), int(layer["size"]))
        elif layer["type"] == "dense":
            out += np.asarray(layer["w"], dtype="<i1").tobytes()
            out += np.asarray(layer["b"], dtype="<i4").tobytes()
            out += np.asarray(layer["shift"], dtype="u1").tobytes()
            out += struct.pack("<f", float(layer.get("out_scale", 1.0)))
        width = n_out
    try:  # every intermediate inside a board's 32-bit word / 31-bit small int (host_tools/oracle/bounds32)
        bounds32.check_model(model)
    except bounds32.Bound32Error as e:
        raise ExportError("32-bit bound: %s" % e)
    out += struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF)
    return bytes(out)


def write(path, model):
    """Write a model file; returns its bytes."""
    data = to_bytes(model)
    with open(path, "wb") as f:
        f.write(data)
    return data


def _params(data, off, shape):
    """(int8 weights of shape (rows, ...), int32 biases, uint8 shifts, float32 scale) read at
    off, and the offset after them."""
    rows, size = shape[0], int(np.prod(shape))
    w = np.frombuffer(data, dtype="<i1", count=size, offset=off).reshape(shape)
    off += size
    b = np.frombuffer(data, dtype="<i4", count=rows, offset=off)
    off += 4 * rows
    shift = np.frombuffer(data, dtype="u1", count=rows, offset=off)
    off += rows
    (scale,) = struct.unpack_from("<f", data, off)
    return {"w": w, "b": b, "shift": shift, "out_scale": scale}, off + 4


def from_bytes(data):
    """Parse a model file into a model dict (strict: ModelFileError, a ValueError, on any defect)."""
    try:
        return _parse(bytes(data))
    except ModelFileError:
        raise
    except (struct.error, KeyError, ValueError, TypeError) as e:
        raise ModelFileError("malformed model file: %s" % (e,)) from None


def _parse(data):
    if len(data) < 20:
        raise ModelFileError("truncated model file (%d bytes)" % len(data))
    magic, version, _, n_layers, in_dim, _, in_scale = struct.unpack_from("<4sBBHHHf", data, 0)
    if magic != MAGIC or version not in (VERSION, VERSION_CONV):
        raise ModelFileError("not a version %d or %d tinyenroll model" % (VERSION, VERSION_CONV))
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != struct.unpack_from("<I", data, len(data) - 4)[0]:
        raise ModelFileError("CRC mismatch")
    off = 16
    layers = []
    for _ in range(n_layers):
        kind, _, n_in, n_out = struct.unpack_from("<BBHH", data, off)
        off += 6
        name = NAMES[kind]
        if version == VERSION and name not in V1_TYPES:
            raise ModelFileError("layer type %s needs format version %d" % (name, VERSION_CONV))
        if name == "conv1d":
            c, o, k, stride = struct.unpack_from("<HHHH", data, off)
            off += 8
            layer, off = _params(data, off, (o, c, k))
            layers.append(dict(layer, type=name, stride=stride))
        elif name in ("maxpool", "avgpool"):
            c, p = struct.unpack_from("<HH", data, off)
            off += 4
            layers.append({"type": name, "channels": c, "size": p})
        elif name == "dense":
            layer, off = _params(data, off, (n_out, n_in))
            layers.append(dict(layer, type=name))
        else:
            layers.append({"type": name, "n": n_in})
    if off + 4 != len(data):
        raise ModelFileError("layer table does not match file size")
    return {"in_dim": in_dim, "input_scale": in_scale, "layers": layers,
            "crc": struct.unpack_from("<I", data, off)[0]}


def read(path):
    with open(path, "rb") as f:
        return from_bytes(f.read())
