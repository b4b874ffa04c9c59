"""A sensor that replays a recording at its real sample rate (the virtual board's sensor).

Recording file (little-endian): "<4sBBHI" magic b"TERC", version 1, channels, rate_hz,
sample count, then count * channels int16 values, channel-interleaved. Written by
host_tools/recording.py. Samples are read from flash one at a time: no RAM beyond a frame.
"""
import array
import struct

from . import pace_window

MAGIC = b"TERC"
HEAD = "<4sBBHI"
HEAD_SIZE = 12


class Replay:
    def __init__(self, path, loop=True, speed=1):
        self.f = open(path, "rb")
        head = self.f.read(HEAD_SIZE)
        if len(head) != HEAD_SIZE or head[:4] != MAGIC:
            raise ValueError("%s: not a tinyenroll recording" % path)
        _, version, self.channels, self.rate_hz, self.count = struct.unpack(HEAD, head)
        if version != 1 or self.channels < 1 or self.rate_hz < 1:
            raise ValueError("%s: unsupported recording (version %d)" % (path, version))
        self.recorded_hz = self.rate_hz
        self.rate_hz = int(self.rate_hz * speed)  # speed > 1 replays faster than real time (tests)
        self.loop = loop
        self.position = 0
        self._frame = array.array("h", [0] * self.channels)
        self._bytes = bytearray(2 * self.channels)

    def read_into(self, frame):
        if self.position >= self.count:
            if not self.loop:
                raise EOFError("recording finished")
            self.f.seek(HEAD_SIZE)
            self.position = 0
        self.f.readinto(self._bytes)
        for j in range(self.channels):
            frame[j] = struct.unpack_from("<h", self._bytes, 2 * j)[0]
        self.position += 1
        return frame

    def read_window(self, buf, n):
        return pace_window(self, buf, n)

    def seek(self, sample):
        self.f.seek(HEAD_SIZE + 2 * self.channels * sample)
        self.position = sample

    def close(self):
        self.f.close()
