"""A WAV file played as a microphone at its real rate: the virtual board's I2S mic.

    mic = WavMic("/voice.wav")          # 16-bit PCM, mono, 16 kHz
    mic.read_window(buf, 256)           # the next 256 samples, returned no sooner than the
                                        # real microphone would deliver them

The same interface as mic.I2SMic (rate_hz, channels, read_into, read_window). The file is
streamed from flash: `read_window` reads the samples it returns straight into the caller's
array('h') (WAV data and both boards are little-endian), so no more than one window of audio
is ever in RAM. The header is parsed with struct, chunk by chunk (RIFF/WAVE, "fmt ", "data";
other chunks such as LIST are skipped); anything but 16-bit PCM mono is refused.

Pacing: a real mic delivers n samples n/rate seconds after the previous ones. WavMic keeps the
time the stream started and sleeps until sample_count/rate has passed, so a caller that keeps
up sees real time and one that falls behind gets the audio at once (like reading a DMA buffer
that has filled); `speed` > 1 plays faster (tests), 0 does not wait at all.
"""
import struct
import time


def parse_header(f):
    """(rate, data_offset, data_bytes) of an open 16-bit mono PCM WAV file."""
    head = f.read(12)
    if len(head) != 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    fmt = None
    while True:
        ch = f.read(8)
        if len(ch) < 8:
            raise ValueError("WAV file has no data chunk")
        cid, size = struct.unpack("<4sI", ch)
        if cid == b"fmt ":
            if size < 16:
                raise ValueError("WAV fmt chunk too short")
            fmt = struct.unpack("<HHIIHH", f.read(16))
            f.read(size - 16 + (size & 1))
        elif cid == b"data":
            if fmt is None:
                raise ValueError("WAV data chunk before its fmt chunk")
            tag, channels, rate, _, _, bits = fmt
            if tag != 1 or channels != 1 or bits != 16:
                raise ValueError("need 16-bit PCM mono, got format %d, %d channels, %d bits" % (tag, channels, bits))
            return rate, f.tell(), size
        else:
            f.read(size + (size & 1))  # skip (chunks are padded to even sizes)


def _now():
    t = getattr(time, "ticks_us", None)
    return t() if t else int(time.monotonic() * 1000000)


def _elapsed(start):
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_us(), start)
    return _now() - start


def _sleep_us(us):
    if hasattr(time, "sleep_us"):
        time.sleep_us(us)
    else:
        time.sleep(us / 1000000)


class WavMic:
    def __init__(self, path, loop=False, speed=1):
        self.f = open(path, "rb")
        try:
            self.rate_hz, self.data_offset, nbytes = parse_header(self.f)
        except ValueError as e:
            self.f.close()
            raise ValueError("%s: %s" % (path, e))
        self.count = nbytes // 2
        self.channels = 1
        self.loop = loop
        self.speed = speed
        self.position = 0
        self.delivered = 0
        self.start = None
        self._frame = bytearray(2)

    def _pace(self, n):
        if self.start is None:
            self.start = _now()
        self.delivered += n
        if self.speed:
            wait = int(self.delivered * 1000000 // (self.rate_hz * self.speed)) - _elapsed(self.start)
            if wait > 0:
                _sleep_us(wait)

    def _rewind(self):
        if not self.loop:
            raise EOFError("recording finished")
        self.f.seek(self.data_offset)
        self.position = 0

    def read_into(self, frame):
        if self.position >= self.count:
            self._rewind()
        self.f.readinto(self._frame)
        frame[0] = struct.unpack("<h", self._frame)[0]
        self.position += 1
        self._pace(1)
        return frame

    def read_window(self, buf, n):
        """n samples into array('h') buf, at the real rate; returns buf."""
        mv = memoryview(buf)
        i = 0
        while i < n:
            if self.position >= self.count:
                self._rewind()
            take = min(n - i, self.count - self.position)
            got = self.f.readinto(mv[i:i + take])
            if got != 2 * take:
                raise OSError("WAV data ends early")
            self.position += take
            i += take
        self._pace(n)
        return buf

    def close(self):
        self.f.close()
