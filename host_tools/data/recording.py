"""Recordings: int16 sensor samples with their rate, the format firmware/sensors/replay.py plays.

File (little-endian): "<4sBBHI" magic b"TERC", version 1, channels, rate_hz, sample count, then
count * channels int16 values, channel-interleaved.
"""
import struct

import numpy as np

HEAD = "<4sBBHI"


def write(path, samples, rate_hz):
    """samples: (count, channels) int16-able array."""
    x = np.asarray(samples)
    if x.ndim != 2 or not 1 <= x.shape[1] <= 255:
        raise ValueError("samples must be (count, channels), got %s" % (x.shape,))
    if x.min() < -32768 or x.max() > 32767:
        raise ValueError("samples outside int16")
    with open(path, "wb") as f:
        f.write(struct.pack(HEAD, b"TERC", 1, x.shape[1], int(rate_hz), x.shape[0]))
        f.write(x.astype("<i2").tobytes())


def read(path):
    """(samples (count, channels) int16, rate_hz)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12:
        raise ValueError("%s: truncated recording" % path)
    magic, version, channels, rate, count = struct.unpack_from(HEAD, data, 0)
    if magic != b"TERC" or version != 1:
        raise ValueError("%s: not a version 1 tinyenroll recording" % path)
    need = 12 + 2 * channels * count
    if len(data) != need:
        raise ValueError("%s: %d bytes, header says %d" % (path, len(data), need))
    return np.frombuffer(data, "<i2", offset=12).reshape(count, channels), rate
