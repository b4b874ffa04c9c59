"""MPU-6050 driver against a fake I2C bus that holds the datasheet's register values."""
import subprocess
import sys

import numpy as np

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


SIM = '''
import array, sys
from tinyenroll.sensors.mpu6050 import MPU6050, SensorError
from tinyenroll.sensors.mpu6050_sim import SimBus
imu = MPU6050(SimBus(sys.argv[1]), rate_hz=50, accel_range=4, gyro_range=500)
f = array.array("h", [0] * 6)
for i in range(int(sys.argv[2])):
    imu.read_into(f)
    print(" ".join(str(v) for v in f))
try:
    imu.read_into(f)
    print("read past the end")
except EOFError:
    print("EOF")
try:
    MPU6050(SimBus(sys.argv[1], address=0x69))
    print("accepted a missing chip")
except OSError:
    print("ENODEV")
'''


def test_simulated_chip_plays_a_recording_through_the_driver(tmp_path):
    """The virtual board's IMU: a recording's raw LSBs come out of the real driver unchanged,
    in CPython and in micropython."""
    from host_tools.data import recording
    rng = np.random.default_rng(1)
    x = rng.integers(-32768, 32768, size=(40, 6))
    rec = tmp_path / "imu.ter"
    recording.write(str(rec), x, 50)
    script = tmp_path / "sim.py"
    script.write_text(SIM)
    want = [" ".join(str(v) for v in row) for row in x.tolist()] + ["EOF", "ENODEV"]
    argv, env = mpy.command(str(script), heap="96K")
    p = subprocess.run(argv + [str(rec), str(len(x))], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split("\n")[:-1] == want
    py = subprocess.run([sys.executable, str(script), str(rec), str(len(x))], capture_output=True, text=True,
                        timeout=60)
    assert py.returncode == 0, py.stderr
    assert py.stdout.split("\n")[:-1] == want
