"""MPU-6050 driver against a fake I2C bus that holds the datasheet's register values."""
import array
import os
import struct
import subprocess

import pytest

from host_tools.board import mpy

FAKE_I2C = '''
class FakeI2C:
    """Register file of an MPU-6050 at 0x68, reset values from the register map."""
    def __init__(self, who=0x68):
        self.regs = bytearray(128)
        self.regs[0x6B] = 0x40  # PWR_MGMT_1 resets to SLEEP
        self.regs[0x75] = who
        self.writes = []
    def readfrom_mem_into(self, addr, reg, buf):
        assert addr == 0x68
        for i in range(len(buf)):
            buf[i] = self.regs[reg + i]
    def writeto_mem(self, addr, reg, data):
        assert addr == 0x68
        for i in range(len(data)):
            self.regs[reg + i] = data[i]
            self.writes.append((reg + i, data[i]))
'''

CHECKS = '''
import array, struct
from tinyenroll.sensors.mpu6050 import MPU6050, SensorError
bus = FakeI2C()
imu = MPU6050(bus, rate_hz=50, accel_range=4, gyro_range=500, dlpf=3)
assert bus.regs[0x6B] == 0x01, "awake, PLL clock"
assert bus.regs[0x19] == 19, "SMPLRT_DIV: 1 kHz / (1 + 19) = 50 Hz"
assert bus.regs[0x1A] == 3, "CONFIG: DLPF_CFG"
assert bus.regs[0x1B] == 1 << 3, "GYRO_CONFIG FS_SEL=1 (500 deg/s)"
assert bus.regs[0x1C] == 1 << 3, "ACCEL_CONFIG AFS_SEL=1 (4 g)"
assert imu.accel_lsb == 8192 and imu.gyro_lsb == 65.5
# 1 g on z, -2 g on x, 340 LSB above 36.53 C, gyro x/y/z
struct.pack_into(">hhhhhhh", bus.regs, 0x3B, -16384, 5, 8192, 340, -131, 0, 32767)
f = array.array("h", [0] * 6)
imu.read_into(f)
assert list(f) == [-16384, 5, 8192, -131, 0, 32767], list(f)
assert abs(imu.temperature_c() - 37.53) < 1e-3
try:
    MPU6050(FakeI2C(who=0x70))
    raise AssertionError("accepted a wrong WHO_AM_I")
except SensorError as e:
    assert "WHO_AM_I is 0x70" in str(e)
for bad in (dict(accel_range=3), dict(gyro_range=100), dict(rate_hz=7), dict(dlpf=0)):
    try:
        MPU6050(FakeI2C(), **bad)
        raise AssertionError("accepted %r" % bad)
    except ValueError:
        pass
print("MPU6050 OK")
'''


def test_register_handling_cpython():
    scope = {}
    exec(FAKE_I2C + CHECKS, scope)


def test_register_handling_in_micropython(tmp_path):
    script = tmp_path / "mpu.py"
    script.write_text(FAKE_I2C + CHECKS)
    out = mpy.run(str(script), heap="96K")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "MPU6050 OK" in out.stdout
