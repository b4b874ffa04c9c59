"""Recordings of int16 sensor samples with their rate, channel names and units.

Two forms, one meaning:

A stream file (.ter), the format firmware/sensors/replay.py plays (little-endian): "<4sBBHI"
magic b"TERC", version 1, channels, rate_hz, sample count, then count * channels int16 values,
channel-interleaved. Its optional sidecar FILE.ter.json carries what the board does not need:
  {"channels": ["ax", "ay", "az", "gx", "gy", "gz"], "units": "LSB: 8192 per g (+-4 g), ..."}
(the board reads the .ter unchanged; a .ter without sidecar has channels ch0.. and raw units).

A recording folder (what `tinyenroll record` and `tinyenroll stream` write, `train`, `fewshot`,
`anomaly-eval` read):
  windows.npy      int16 (n, samples, channels): the windows, in the order taken
  recording.json   {"format": "tinyenroll-recording", "version": 1, "rate_hz": 50,
                    "channels": [...names], "units": "...", "labels": [label or null per window]}
Each file is written to a temporary name and renamed in, so an interrupted write leaves the
previous recording whole.
"""
import json
import os
import struct

import numpy as np

from ..oracle.errors import DataError

HEAD = "<4sBBHI"
META = "recording.json"
WINDOWS = "windows.npy"
FORMAT = "tinyenroll-recording"
RAW_UNITS = "raw int16 counts"
MPU_NAMES = ["ax", "ay", "az", "gx", "gy", "gz"]
ACCEL_LSB = {2: 16384, 4: 8192, 8: 4096, 16: 2048}
GYRO_LSB = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}


def describe(sensor, channels):
    """(channel names, units) for a board profile's "sensor" section giving `channels` values."""
    sensor = sensor or {}
    if sensor.get("driver") == "mpu6050" and channels == 6:
        g, dps = sensor.get("accel_g", 4), sensor.get("gyro_dps", 500)
        return list(MPU_NAMES), "LSB: %d per g (+-%d g), %g per deg/s (+-%d deg/s)" % (
            ACCEL_LSB.get(g, 0), g, GYRO_LSB.get(dps, 0), dps)
    return ["ch%d" % i for i in range(channels)], RAW_UNITS


def write(path, samples, rate_hz, channels=None, units=None):
    """samples: (count, channels) int16-able array; channels/units go to the sidecar PATH.json."""
    x = np.asarray(samples)
    if x.ndim != 2 or not 1 <= x.shape[1] <= 255:
        raise DataError("samples must be (count, channels), got %s" % (x.shape,))
    if x.min() < -32768 or x.max() > 32767:
        raise DataError("samples outside int16")
    with open(path, "wb") as f:
        f.write(struct.pack(HEAD, b"TERC", 1, x.shape[1], int(rate_hz), x.shape[0]))
        f.write(x.astype("<i2").tobytes())
    if channels is not None or units is not None:
        names = list(channels) if channels is not None else ["ch%d" % i for i in range(x.shape[1])]
        if len(names) != x.shape[1]:
            raise DataError("%d channel names for %d channels" % (len(names), x.shape[1]))
        _write_atomic(path + ".json", json.dumps({"channels": names, "units": units or RAW_UNITS}).encode())


def read(path):
    """(samples (count, channels) int16, rate_hz)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12:
        raise DataError("%s: truncated recording" % path)
    magic, version, channels, rate, count = struct.unpack_from(HEAD, data, 0)
    if magic != b"TERC" or version != 1:
        raise DataError("%s: not a version 1 tinyenroll recording" % path)
    need = 12 + 2 * channels * count
    if len(data) != need:
        raise DataError("%s: %d bytes, header says %d" % (path, len(data), need))
    return np.frombuffer(data, "<i2", offset=12).reshape(count, channels), rate


def read_meta(path):
    """(samples, rate_hz, channel names, units) of a .ter and its sidecar, if any."""
    x, rate = read(path)
    names, units = ["ch%d" % i for i in range(x.shape[1])], RAW_UNITS
    if os.path.exists(path + ".json"):
        with open(path + ".json") as f:
            try:
                meta = json.load(f)
            except ValueError as e:
                raise DataError("%s.json: not JSON (%s)" % (path, e)) from None
        names, units = meta.get("channels", names), meta.get("units", units)
        if len(names) != x.shape[1]:
            raise DataError("%s.json: %d channel names for %d channels" % (path, len(names), x.shape[1]))
    return x, rate, names, units


def _write_atomic(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def write_folder(out_dir, windows, labels, rate_hz, channels, units, extra=()):
    """Write a recording folder (replacing windows.npy and recording.json); extra: (name, bytes)
    pairs written the same way (each to a temporary name, then all renamed in)."""
    w = np.asarray(windows)
    if w.ndim != 3 or w.shape[0] < 1:
        raise DataError("windows must be (n >= 1, samples, channels), got %s" % (w.shape,))
    if len(labels) != w.shape[0] or len(channels) != w.shape[2]:
        raise DataError("%d windows, %d labels, %d channels, %d channel names"
                         % (w.shape[0], len(labels), w.shape[2], len(channels)))
    os.makedirs(out_dir, exist_ok=True)
    meta = {"format": FORMAT, "version": 1, "rate_hz": int(rate_hz), "channels": list(channels),
            "units": units, "samples": int(w.shape[1]), "labels": list(labels)}
    import io
    buf = io.BytesIO()
    np.save(buf, w.astype(np.int16))
    parts = [(WINDOWS, buf.getvalue()), (META, json.dumps(meta, indent=1).encode())] + list(extra)
    for name, data in parts:
        with open(os.path.join(out_dir, name + ".tmp"), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    for name, _ in parts:
        os.replace(os.path.join(out_dir, name + ".tmp"), os.path.join(out_dir, name))


def is_folder(path):
    return os.path.isdir(path) and os.path.exists(os.path.join(path, WINDOWS))


def read_folder(path):
    """dict(windows int16 (n, samples, channels), labels, rate_hz, channels, units)."""
    if not os.path.isdir(path):
        raise DataError("%s: not a recording folder" % path)
    wp, mp = os.path.join(path, WINDOWS), os.path.join(path, META)
    if not os.path.exists(wp):
        raise DataError("%s: no %s (not a recording folder)" % (path, WINDOWS))
    try:
        w = np.load(wp, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError("%s: unreadable (%s)" % (wp, e))
    if w.ndim != 3 or w.dtype != np.int16:
        raise DataError("%s: expected int16 (n, samples, channels), got %s %s" % (wp, w.dtype, w.shape))
    meta = {"rate_hz": None, "channels": ["ch%d" % i for i in range(w.shape[2])], "units": RAW_UNITS,
            "labels": [None] * len(w)}
    if os.path.exists(mp):
        try:
            with open(mp) as f:
                meta.update(json.load(f))
        except ValueError as e:
            raise DataError("%s: not JSON (%s)" % (mp, e))
    if len(meta["labels"]) != len(w):
        raise DataError("%s: %d labels for %d windows" % (mp, len(meta["labels"]), len(w)))
    meta["windows"] = w
    return meta


def append_folder(out_dir, windows, labels, rate_hz, channels, units):
    """Add windows to a recording folder (created if missing); refuses a different rate,
    channel set, units or window length. Returns the number of windows now in it."""
    w = np.asarray(windows, np.int16)
    labels = list(labels)
    if is_folder(out_dir):
        old = read_folder(out_dir)
        for what, a, b in (("rate", old["rate_hz"], rate_hz), ("channels", old["channels"], list(channels)),
                           ("units", old["units"], units),
                           ("samples per window", old["windows"].shape[1], w.shape[1])):
            if a is not None and a != b:
                raise DataError("%s holds %s %s, this recording %s: use another folder" % (out_dir, what, a, b))
        w = np.concatenate([old["windows"], w])
        labels = list(old["labels"]) + labels
    write_folder(out_dir, w, labels, rate_hz, channels, units)
    return len(w)
