"""A fake I2C bus holding an MPU-6050 that keeps the chip's own time (runs in CPython and in
micropython; allocates nothing per transfer, so the driver's heap use can be measured).

From the MPU-6000/6050 register map rev 4.2: reset values (PWR_MGMT_1 = 0x40 asleep, WHO_AM_I);
sample rate = gyro output rate / (1 + SMPLRT_DIV), the gyro rate 1 kHz for DLPF_CFG 1..6 and
8 kHz for 0 and 7; while awake with USER_CTRL FIFO_EN and FIFO_EN = accel + gyro, each sample
writes 12 bytes (ACCEL_XOUT_H..ACCEL_ZOUT_L, GYRO_XOUT_H..GYRO_ZOUT_L) into a 1024-byte FIFO;
when it is full the oldest bytes are overwritten and INT_STATUS FIFO_OFLOW_INT (bit 4) is set;
DATA_RDY_INT (bit 0) is set by each sample; reading INT_STATUS clears it; FIFO_COUNTH/L give
the bytes queued; FIFO_R_W pops bytes (a burst read stays on the register); USER_CTRL
FIFO_RESET empties the FIFO. The chip's clock runs `ppm` parts per million off the host's
(MPU-6050 sample clock tolerance is +-1..2 %), so a driver paced by the MCU clock would drift.

Sample number n holds ax = n mod 32768 and fixed values elsewhere (see sample()).
"""
try:
    from time import ticks_us, ticks_diff
except ImportError:
    import time

    def ticks_us():
        return int(time.monotonic() * 1000000)

    def ticks_diff(a, b):
        return a - b

FIFO_SIZE = 1024
FIXED = (0, -1234, -32768, 32767, 5, -5)   # ay.. gz of every sample (ax is the counter)


class FakeMPU:
    def __init__(self, who=0x68, ppm=0, address=0x68):
        self.address = address
        self.regs = bytearray(128)
        self.regs[0x6B] = 0x40
        self.regs[0x75] = who
        self.ppm = ppm
        self.fifo = bytearray(FIFO_SIZE)
        self.head = 0        # index of the oldest byte
        self.count = 0       # bytes queued
        self.produced = 0    # samples taken since wake-up
        self.wake_us = None
        self.fifo_on_us = None   # when FIFO output was first enabled after wake-up
        self.empty_reads = 0     # FIFO_R_W bytes read while empty (a driver bug)
        self.written = bytearray(128)
        self._t = ticks_us()
        self._acc = 0

    def rate_hz(self):
        cfg = self.regs[0x1A] & 7
        return (8000 if cfg == 0 or cfg == 7 else 1000) // (1 + self.regs[0x19])

    def _tick(self):
        now = ticks_us()
        d = ticks_diff(now, self._t)
        self._t = now
        if self.regs[0x6B] & 0x40:
            self._acc = 0
            return
        # samples due: d microseconds of a clock running ppm fast, at rate_hz
        r = self.rate_hz()
        self._acc += d * r * (1000000 + self.ppm)
        new = self._acc // 1000000000000
        self._acc -= new * 1000000000000
        for _ in range(new):
            self._sample()

    def _sample(self):
        n = self.produced
        self.produced = n + 1
        self.regs[0x3A] |= 0x01   # DATA_RDY_INT
        if not (self.regs[0x6A] & 0x40 and self.regs[0x23] & 0x78 == 0x78):
            return
        for j in range(6):
            v = (n & 0x7FFF) if j == 0 else FIXED[j]
            v &= 0xFFFF
            self._push(v >> 8)
            self._push(v & 0xFF)

    def _push(self, b):
        if self.count == FIFO_SIZE:      # full: the oldest byte is lost
            self.head = (self.head + 1) % FIFO_SIZE
            self.count -= 1
            self.regs[0x3A] |= 0x10      # FIFO_OFLOW_INT
        self.fifo[(self.head + self.count) % FIFO_SIZE] = b
        self.count += 1

    def readfrom_mem_into(self, addr, reg, buf):
        if addr != self.address:
            raise OSError(19)
        self._tick()
        if reg == 0x74:
            for i in range(len(buf)):
                if self.count:
                    buf[i] = self.fifo[self.head]
                    self.head = (self.head + 1) % FIFO_SIZE
                    self.count -= 1
                else:
                    self.empty_reads += 1
                    buf[i] = 0
            return
        self.regs[0x72] = self.count >> 8
        self.regs[0x73] = self.count & 0xFF
        for i in range(len(buf)):
            buf[i] = self.regs[reg + i]
        if reg <= 0x3A < reg + len(buf):
            self.regs[0x3A] = 0

    def writeto_mem(self, addr, reg, data):
        if addr != self.address:
            raise OSError(19)
        self._tick()
        for i in range(len(data)):
            r = reg + i
            v = data[i]
            was = self.regs[r]
            self.regs[r] = v
            self.written[r] = 1
            if r == 0x6B and was & 0x40 and not v & 0x40:
                self.wake_us = ticks_us()
            if r == 0x6A:
                if v & 0x04:
                    self.count = 0
                    self.head = 0
                    self.regs[0x6A] = v & ~0x04
                if v & 0x40 and self.fifo_on_us is None and self.wake_us is not None:
                    self.fifo_on_us = ticks_us()
