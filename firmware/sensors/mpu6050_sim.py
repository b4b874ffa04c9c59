"""An I2C bus with a simulated MPU-6050 that plays a recording: the virtual board's IMU.

    from tinyenroll.sensors.mpu6050 import MPU6050
    imu = MPU6050(SimBus("/imu.ter"), rate_hz=50, accel_range=4, gyro_range=500)

The recording (sensors/replay.py format, 6 channels: ax ay az gx gy gz in the chip's raw
LSBs at the ranges the driver configures) is served through the chip's registers, so the
real driver's data path runs unchanged: each burst read of ACCEL_XOUT_H returns the next
sample, big-endian, with the temperature word in between. Timing is the driver's: the
simulation does not model the chip's own sample clock.
"""
import struct

from .replay import Replay

ADDRESS = 0x68
ACCEL_XOUT_H = 0x3B
PWR_MGMT_1 = 0x6B
WHO_AM_I = 0x75


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

    def _check(self, addr):
        if addr != self.address:
            raise OSError(19)  # ENODEV, as machine.I2C raises when nothing acknowledges

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        if reg == ACCEL_XOUT_H and len(buf) >= 14:
            f = self.rec.read_into(self._frame)
            struct.pack_into(">hhhhhhh", self.regs, ACCEL_XOUT_H, f[0], f[1], f[2], 0, f[3], f[4], f[5])
        for i in range(len(buf)):
            buf[i] = self.regs[reg + i]

    def writeto_mem(self, addr, reg, data):
        self._check(addr)
        for i in range(len(data)):
            self.regs[reg + i] = data[i]
