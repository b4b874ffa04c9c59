"""MPU-6050 driver against a fake I2C bus that keeps the chip's time (tests/fake_mpu6050.py)."""
import os
import subprocess
import sys

import numpy as np

from host_tools.board import mpy

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = os.path.join(HERE, "mpu6050_checks.py")


def _check_output(out):
    assert out.returncode == 0, out.stdout + out.stderr
    assert "MPU6050 OK" in out.stdout
    clones = out.stdout.split("-- clones:")[1].split("-- end clones")[0]
    # five clone chips constructed, one warning printed
    assert clones.count("warning:") == 1 and "0x70" in clones and "MPU-6500" in clones, clones


def test_driver_against_a_timed_fake_chip_cpython():
    """Registers and DLPF below Nyquist, WHO_AM_I allow-list, settle delay, pacing by the chip's
    clock (3 % fast and slow), overruns, flush, read_window (tests/mpu6050_checks.py)."""
    out = subprocess.run([sys.executable, CHECKS], capture_output=True, text=True, timeout=120, cwd=HERE)
    _check_output(out)


def test_driver_against_a_timed_fake_chip_in_micropython():
    """The same in micropython at 96K, plus: no allocation per sample (heap locked)."""
    out = mpy.run(CHECKS, heap="96K", extra_path=[HERE], timeout=120)
    _check_output(out)
    assert "no allocation: 80 samples read with the heap locked" in out.stdout


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
