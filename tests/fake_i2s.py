# A stand-in for machine.I2S in RX mode at bits=32, format=MONO, as ESP32 and RP2040 MicroPython
# implement it, for MicroPython and CPython alike. It follows the documented behaviour:
# readinto(buf) blocks until buf is full of whole 32-bit slots and returns the bytes written;
# each slot is stored as a little-endian int32 whose top bits hold the mic's sample, MSB first,
# with the bits below it zero: 24 bits for an INMP441 (sample << 8), 18 for an SPH0645
# (sample << 14). `samples` are the mic's native values (signed 24- or 18-bit integers).
import struct

BITS = {"inmp441": 24, "sph0645": 18}


class FakeI2S:
    RX = 0
    MONO = 0

    def __init__(self, samples, mic="inmp441", loop=False):
        self.samples = samples
        self.bits = BITS[mic]
        self.pos = 0
        self.loop = loop
        self.reads = 0
        self.deinited = False

    def readinto(self, buf):
        nbytes = len(buf) if isinstance(buf, (bytearray, bytes)) else 4 * len(buf)  # or array('i')
        if nbytes % 4:
            raise ValueError("I2S at bits=32 reads whole 4-byte slots")
        lo = -(1 << (self.bits - 1))
        hi = (1 << (self.bits - 1)) - 1
        for i in range(nbytes // 4):
            if self.pos >= len(self.samples):
                if not self.loop:
                    raise EOFError("fake I2S source exhausted")
                self.pos = 0
            v = self.samples[self.pos]
            if v < lo or v > hi:
                raise ValueError("sample %d does not fit %d bits" % (v, self.bits))
            self.pos += 1
            struct.pack_into("<i", buf, 4 * i, v << (32 - self.bits))
        self.reads += 1
        return nbytes

    def deinit(self):
        self.deinited = True

