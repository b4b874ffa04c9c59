"""An I2C bus with a simulated MPU-6050 that plays a recording: the virtual board's IMU.

    from tinyenroll.sensors.mpu6050 import MPU6050
    imu = MPU6050(SimBus("/imu.ter"), rate_hz=50, accel_range=4, gyro_range=500)

The recording (sensors/replay.py format, 6 channels: ax ay az gx gy gz in the chip's raw
LSBs at the ranges the driver configures) is served through the chip's registers, so the
real driver's data path runs unchanged. Timing is the chip's (register map rev 4.2): while
awake with the FIFO enabled, a sample enters the FIFO every 1 / (1000 / (1 + SMPLRT_DIV)) s
(8000 instead of 1000 when DLPF_CFG is 0 or 7) of this clock; FIFO_COUNTH/L hold the bytes
queued, FIFO_R_W pops them (12 a sample: accel then gyro, big-endian), USER_CTRL FIFO_RESET
empties it, and a FIFO holding more than 1024 bytes drops its oldest samples and sets
INT_STATUS FIFO_OFLOW (cleared by reading INT_STATUS). Simplification: whole samples are
dropped, where the chip drops bytes (the driver resets the FIFO after an overflow either way).
"""
from . import ticks_diff, ticks_us
from .replay import Replay

ADDRESS = 0x68
CONFIG = 0x1A
SMPLRT_DIV = 0x19
INT_STATUS = 0x3A
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
FIFO_COUNTH = 0x72
FIFO_R_W = 0x74
WHO_AM_I = 0x75
FIFO_SAMPLES = 1024 // 12


class SimBus:
    def __init__(self, path, address=ADDRESS, loop=False):
        self.rec = Replay(path, loop=loop)
        if self.rec.channels != 6:
            raise ValueError("%s: an MPU-6050 recording has 6 channels, this one %d" % (path, self.rec.channels))
        self.address = address
        self.regs = bytearray(128)
        self.regs[PWR_MGMT_1] = 0x40  # resets asleep
        self.regs[WHO_AM_I] = ADDRESS
        self._frame = self.rec._frame
        self._queued = 0   # samples in the FIFO
        self._t = ticks_us()
        self._acc = 0      # microseconds x rate not yet a whole sample
        self._pos = 0      # bytes of the current sample already popped

    def _check(self, addr):
        if addr != self.address:
            raise OSError(19)  # ENODEV, as machine.I2C raises when nothing acknowledges

    def _tick(self):
        now = ticks_us()
        d = ticks_diff(now, self._t)
        self._t = now
        if self.regs[PWR_MGMT_1] & 0x40 or not self.regs[USER_CTRL] & 0x40:
            self._acc = 0
            return
        cfg = self.regs[CONFIG] & 7
        rate = (8000 if cfg == 0 or cfg == 7 else 1000) // (1 + self.regs[SMPLRT_DIV])
        if d < 0 or d > 10000000:
            d = 10000000
        new = (d // 1000000) * rate
        self._acc += (d % 1000000) * rate
        new += self._acc // 1000000
        self._acc %= 1000000
        q = self._queued + new
        if q > FIFO_SAMPLES:
            for _ in range(q - FIFO_SAMPLES):   # the oldest samples are lost
                self.rec.read_into(self._frame)
            q = FIFO_SAMPLES
            self.regs[INT_STATUS] |= 0x10
        self._queued = q

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        self._tick()
        if reg == FIFO_R_W:
            for i in range(len(buf)):
                if self._pos == 0:
                    if not self._queued:
                        buf[i] = 0
                        continue
                    f = self.rec.read_into(self._frame)
                    self._queued -= 1
                    for j in range(6):
                        v = f[j] & 0xFFFF
                        self.regs[0x3B + 2 * j + (2 if j >= 3 else 0)] = v >> 8
                        self.regs[0x3C + 2 * j + (2 if j >= 3 else 0)] = v & 0xFF
                p = self._pos
                buf[i] = self.regs[0x3B + p + (2 if p >= 6 else 0)]
                self._pos = (p + 1) % 12
            return
        if reg == FIFO_COUNTH:
            n = 12 * self._queued + (12 - self._pos if self._pos else 0)
            self.regs[FIFO_COUNTH] = n >> 8
            self.regs[FIFO_COUNTH + 1] = n & 0xFF
        for i in range(len(buf)):
            buf[i] = self.regs[reg + i]
        if reg == INT_STATUS:
            self.regs[INT_STATUS] = 0

    def writeto_mem(self, addr, reg, data):
        self._check(addr)
        self._tick()
        for i in range(len(data)):
            self.regs[reg + i] = data[i]
        if reg == USER_CTRL and data[0] & 0x04:   # FIFO_RESET
            self._queued = 0
            self._pos = 0
            self.regs[USER_CTRL] &= ~0x04
