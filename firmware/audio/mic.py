"""An I2S MEMS microphone (INMP441 / SPH0645 class) through machine.I2S, into a ring buffer.

    mic = I2SMic(sck=14, ws=15, sd=32)       # ESP32; Pico: I2SMic(sck=16, ws=17, sd=18)
    mic.read_window(buf, 256)                 # 256 int16 samples at 16 kHz into array('h') buf

The sensor interface of tinyenroll.sensors: rate_hz, channels (1), read_into(frame) (one
sample), read_window(buf, n). The I2S peripheral paces the samples (its DMA fills `ibuf` in the
background), so reads block until the audio has arrived; no software pacing.

Wiring (3.3 V parts):
    mic VDD -> 3V3, GND -> GND
    L/R (INMP441) or SEL (SPH0645) -> GND: the mic drives the left slot, which MONO reads
    SCK (BCLK) -> sck,  WS (LRCL) -> ws,  SD (DOUT) -> sd
    ESP32: any GPIOs (e.g. sck 14, ws 15, sd 32; sd may be input-only 34-39).
    RP2040: the rp2 driver needs ws = sck + 1 (e.g. sck 16, ws 17, sd 18).

Data and the shift: at bits=32 each slot is 32 bit clocks; the mic sends its sample MSB first,
24 bits for the INMP441 and 18 for the SPH0645, and the bits after it are zero (the line is
tri-stated or low). machine.I2S stores each slot as a native int32 (little-endian on ESP32 and
RP2040), so the sample is the top of the int32 and `v >> shift` (arithmetic: the sign is kept)
scales it; the result is saturated to int16. shift 16 keeps the top 16 bits (int16 full scale
= the mic's full scale, 120 dB SPL); the default 14 keeps the 18 bits both mics resolve and
gives 12 dB of gain (int16 full scale = 108 dB SPL; speech at 70 dB SPL peaks near -30 dBFS).

Memory, all allocated once: `chunk` int32 slots for one DMA read (1 KB at 256) and a ring of
`ring` int16 samples (2 KB at 1024); `ibuf` bytes inside the driver (8 KB = 128 ms of slots).
If the caller falls behind by more than ibuf, the DMA overwrites audio the driver still holds
(machine.I2S drops silently): process each hop within its 16 ms on average.
"""
import array
import sys


def _convert_plain(raw, ring, head, n, mask, shift):
    for i in range(n):
        v = raw[i] >> shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        ring[(head + i) & mask] = v


def _copy_plain(ring, tail, mask, buf, start, n):
    for k in range(n):
        buf[start + k] = ring[(tail + k) & mask]


_convert = _convert_plain
_copy = _copy_plain
if sys.implementation.name == "micropython":
    try:
        import micropython

        @micropython.viper
        def _convert_viper(raw, ring, head: int, n: int, mask: int, shift: int):
            # the int32 slot from its two little-endian halves: the high half sign-extended, so
            # the value is right on 32- and 64-bit words alike
            p = ptr16(raw)
            r = ptr16(ring)
            for i in range(n):
                hi = (int(p[2 * i + 1]) ^ 0x8000) - 0x8000
                v = ((hi << 16) | int(p[2 * i])) >> shift
                if v > 32767:
                    v = 32767
                elif v < -32768:
                    v = -32768
                r[(head + i) & mask] = v

        @micropython.viper
        def _copy_viper(ring, tail: int, mask: int, buf, start: int, n: int):
            r = ptr16(ring)
            b = ptr16(buf)
            for k in range(n):
                b[start + k] = r[(tail + k) & mask]

        _convert = _convert_viper
        _copy = _copy_viper
    except (ImportError, AttributeError, SyntaxError):  # a port built without viper
        pass


class I2SMic:
    def __init__(self, sck=None, ws=None, sd=None, id=0, rate=16000, shift=14, chunk=256,
                 ring=1024, ibuf=8192, i2s=None):
        if ring & (ring - 1) or ring < chunk:
            raise ValueError("ring must be a power of 2 holding at least one chunk (%d)" % chunk)
        if not 0 <= shift <= 16:
            raise ValueError("shift must be 0..16, got %d" % shift)
        if i2s is None:
            from machine import I2S, Pin
            i2s = I2S(id, sck=Pin(sck), ws=Pin(ws), sd=Pin(sd), mode=I2S.RX, bits=32,
                      format=I2S.MONO, rate=rate, ibuf=ibuf)
        self.i2s = i2s
        self.rate_hz = rate
        self.channels = 1
        self.shift = shift
        self.raw = array.array("i", [0] * chunk)
        self.ring = array.array("h", [0] * ring)
        self.mask = ring - 1
        self.head = 0   # samples written into the ring, ever
        self.tail = 0   # samples read out of it, ever
        self._frame = array.array("h", [0])

    def _fill(self):
        """One blocking DMA read of `chunk` slots, converted into the ring."""
        if self.head - self.tail + len(self.raw) > len(self.ring):
            return  # the ring is full enough: read it first
        got = self.i2s.readinto(self.raw)
        n = got // 4
        _convert(self.raw, self.ring, self.head, n, self.mask, self.shift)
        self.head += n

    def available(self):
        return self.head - self.tail

    def read_into(self, frame):
        if self.tail == self.head:
            self._fill()
        frame[0] = self.ring[self.tail & self.mask]
        self.tail += 1
        return frame

    def read_window(self, buf, n):
        """n samples into buf (array('h')), blocking until they have arrived; returns buf."""
        ring, mask = self.ring, self.mask
        i = 0
        while i < n:
            if self.tail == self.head:
                self._fill()
            take = min(n - i, self.head - self.tail)
            _copy(ring, self.tail, mask, buf, i, take)
            self.tail += take
            i += take
        return buf

    def close(self):
        self.i2s.deinit()
