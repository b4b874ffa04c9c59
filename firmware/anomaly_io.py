"""The anomaly detector's state on flash and its drift canaries, imported only when needed
(a board that only scores keeps no RAM for them): Detector.to_bytes/from_bytes/protect and the
canary check of a drift step call these with the detector as `self`. Format and rules: anomaly.py.
"""
import struct
import sys
import binascii

from . import kernels
from .errors import InputError, Refused, StoreError
from .ints import s8


def _mod(cls):
    # anomaly.py's constants, without importing it here (it imports this module lazily)
    return sys.modules[cls.__module__]


def canaries_hold(self):
    """True if every drift canary still gets the answer it must keep."""
    dim = self.dim
    out = self._out
    for i in range(len(self.c_flag)):
        row = memoryview(self.c_rows)[i * dim:(i + 1) * dim]
        kernels.sqdist(row, kernels.sumsq(row, dim), self.rows, self.norms, self.count, dim, out)
        if (self._ksum(self.count, -1) > self.threshold) != self.c_flag[i]:
            return False
    return True


def protect(self, vec, flagged):
    """A canary for drift adaptation: vec must keep being answered `flagged` (True: an anomaly,
    e.g. a known fault; False: normal). Refused unless that is its answer now; at most
    MAX_CANARIES. Kept by to_bytes()/save(). Allowed while frozen (it only restricts)."""
    A = _mod(type(self))
    if len(self.c_flag) >= A.MAX_CANARIES:
        raise Refused("the detector's canary set is full (%d)" % A.MAX_CANARIES)
    s = self.score(vec)
    if (s > self.threshold) != bool(flagged):
        raise Refused("this window is %s now (score %d, threshold %d): a canary keeps its answer"
                      % ("flagged" if s > self.threshold else "normal", s, self.threshold))
    n = len(self.c_flag)
    if self.c_rows is None:
        self.c_rows = bytearray(A.MAX_CANARIES * self.dim)
    self.c_rows[n * self.dim:(n + 1) * self.dim] = self._q
    self.c_flag.append(bool(flagged))


def to_bytes(self, out):
    """The detector's state (settings, quantiser, normal rows, threshold, canaries) with a CRC32,
    written into out (bytearray of exactly the size, allocated by the caller)."""
    A = _mod(type(self))
    if self.phase != A.READY:
        raise InputError("only a finished detector can be saved")
    head = struct.pack(A._HEAD, A.MAGIC, A.VERSION, (1 if self.raw else 0) | (self.k << 1),
                       self.dim, self.capacity, self.count,
                       0, 0, self.quantile[0], self.quantile[1], self.margin[0] | (self.margin[1] << 8),
                       self.adapt_every, self.threshold, self.state, self.seen, self.candidates)
    # one buffer filled in place: the rows are most of it, and a small heap has room for one
    # copy of them, not three
    dim = self.dim
    nc = len(self.c_flag)
    rows = self.count * dim
    n = len(head) + (5 * dim if self.raw else 0) + rows + 1 + nc + nc * dim
    if len(out) != n + 4:
        raise InputError("state buffer of %d bytes, needs %d" % (len(out), n + 4))
    out[:len(head)] = head
    at = len(head)
    if self.raw:
        struct.pack_into("<%di" % dim, out, at, *self.center)
        out[at + 4 * dim:at + 5 * dim] = self.shift
        at += 5 * dim
    out[at:at + rows] = memoryview(self.rows)[:rows]
    at += rows
    out[at] = nc
    out[at + 1:at + 1 + nc] = bytes(self.c_flag)
    at += 1 + nc
    if nc:
        out[at:at + nc * dim] = memoryview(self.c_rows)[:nc * dim]
    struct.pack_into("<I", out, n, binascii.crc32(memoryview(out)[:n]) & 0xFFFFFFFF)
    return out


def from_bytes(cls, data, guard=None, seed=1):
    """A READY detector from to_bytes() output (version 1 or 2); StoreError naming what is
    wrong otherwise (every field is checked: struct.pack on MicroPython wraps silently)."""
    A = _mod(cls)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError("anomaly state must be bytes, got %s" % type(data).__name__)
    if len(data) < A._HEAD_SIZE + 4:
        raise StoreError("anomaly state truncated: %d bytes" % len(data))
    body = memoryview(data)[:len(data) - 4]
    crc = struct.unpack("<I", bytes(memoryview(data)[len(data) - 4:]))[0]
    if binascii.crc32(body) & 0xFFFFFFFF != crc:
        raise StoreError("anomaly state CRC mismatch")
    (magic, version, flags, dim, capacity, count, _a, _b, qn, qd, marg, adapt, thr, state,
     seen, cand) = struct.unpack(A._HEAD, bytes(body[:A._HEAD_SIZE]))
    if magic != A.MAGIC:
        raise StoreError("not an anomaly state (bad magic)")
    if version != 1 and version != A.VERSION:
        raise StoreError("anomaly state version %d unsupported" % version)
    raw = flags & 1
    need = A._HEAD_SIZE + (5 * dim if raw else 0) + count * dim
    nc = 0
    if version >= 2:
        if len(body) < need + 1:
            raise StoreError("anomaly state size %d, expected at least %d" % (len(body), need + 1))
        nc = body[need]
        need += 1 + nc + nc * dim
    if len(body) != need:
        raise StoreError("anomaly state size %d, expected %d" % (len(body), need))
    try:
        d = cls(dim, capacity, flags >> 1, (qn, qd), (marg & 0xFF, marg >> 8), seed, raw, adapt, guard)
    except InputError as e:
        raise StoreError("anomaly state settings: %s" % e)
    if count <= d.k or count > capacity or thr < 1 or flags >> 1 > 16 or nc > A.MAX_CANARIES:
        raise StoreError("anomaly state inconsistent (count %d, threshold %d, canaries %d)" % (count, thr, nc))
    if not 1 <= state < A.PRNG_M or seen < count or (adapt and cand >= adapt) or cand < 0:
        raise StoreError("anomaly state inconsistent (generator %d, seen %d, candidates %d)" % (state, seen, cand))
    off = A._HEAD_SIZE
    if raw:
        for f in range(dim):
            c = struct.unpack_from("<i", body, off + 4 * f)[0]
            e = s8(body[off + 4 * dim + f])
            if c >= A.RAW_LIMIT or c <= -A.RAW_LIMIT or e < A.MIN_SHIFT or e > A.MAX_SHIFT:
                raise StoreError("anomaly state feature %d: centre %d / shift %d out of range" % (f, c, e))
            d.center[f] = c
        off += 4 * dim
        d.shift = bytearray(body[off:off + dim])
        off += dim
    d.rows[:count * dim] = body[off:off + count * dim]
    off += count * dim
    if version >= 2:
        for i in range(nc):
            if body[off + 1 + i] > 1:
                raise StoreError("anomaly state canary %d is malformed" % i)
            d.c_flag.append(body[off + 1 + i] == 1)
        off += 1 + nc
        if nc:
            d.c_rows = bytearray(A.MAX_CANARIES * dim)
            d.c_rows[:nc * dim] = body[off:off + nc * dim]
    d.count = count
    for s in range(count):
        d.norms[s] = kernels.sumsq(memoryview(d.rows)[s * dim:(s + 1) * dim], dim)
    d.threshold = thr
    d.state = state
    d.seen = seen
    d.candidates = cand
    d.phase = A.READY
    return d
