"""The MPU-6050 driver against fake_mpu6050.FakeMPU; run by tests/test_mpu6050.py in CPython and
in micropython at 96K. Prints one line per check and "MPU6050 OK" at the end."""
import array
import sys

from fake_mpu6050 import FIXED, FakeMPU, ticks_diff, ticks_us
from tinyenroll.sensors import mpu6050
from tinyenroll.sensors.mpu6050 import MPU6050, SensorError

MICRO = sys.implementation.name == "micropython"


def expect_error(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return str(e)
    raise AssertionError("no %s from %r %r" % (exc.__name__, args, kw))


def check_registers():
    bus = FakeMPU()
    imu = MPU6050(bus, rate_hz=50, accel_range=4, gyro_range=500)
    r = bus.regs
    assert r[0x6B] == 0x01, "awake, PLL clock"
    assert r[0x19] == 19, "SMPLRT_DIV: 1 kHz / (1 + 19) = 50 Hz"
    assert r[0x1A] == 4, "CONFIG DLPF_CFG 4 (21 Hz) at 50 Hz: 44 Hz (3) would alias 25-44 Hz"
    assert r[0x1B] == 1 << 3 and r[0x1C] == 1 << 3, "FS_SEL=1 (500 deg/s), AFS_SEL=1 (4 g)"
    assert r[0x23] == 0x78 and r[0x6A] & 0x40, "FIFO: accel + gyro, enabled"
    assert not bus.written[0x1D], "ACCEL_CONFIG2 is not an MPU-6050 register"
    assert imu.accel_lsb == 8192 and imu.gyro_lsb == 65.5 and imu.dlpf == 4
    # bandwidth strictly below Nyquist, the widest such
    for rate, cfg in ((1000, 1), (500, 1), (200, 2), (100, 3), (50, 4), (40, 5), (25, 5), (20, 6)):
        assert mpu6050.dlpf_for(rate) == cfg, (rate, mpu6050.dlpf_for(rate))
        bw = mpu6050.DLPF_BANDWIDTH[cfg]
        assert 2 * bw < rate and (cfg == 1 or 2 * mpu6050.DLPF_BANDWIDTH[cfg - 1] >= rate)
    for rate in (4, 5, 8, 10):
        assert "Nyquist" in expect_error(ValueError, MPU6050, FakeMPU(), rate_hz=rate)
    assert "aliases" in expect_error(ValueError, MPU6050, FakeMPU(), rate_hz=50, dlpf=3)
    MPU6050(FakeMPU(), rate_hz=50, dlpf=5)  # narrower than needed is allowed
    for bad in (dict(accel_range=3), dict(gyro_range=100), dict(rate_hz=7), dict(dlpf=0)):
        expect_error(ValueError, MPU6050, FakeMPU(), **bad)
    print("registers and DLPF ok")


def check_who_am_i():
    assert mpu6050.CLONES and 0x68 not in mpu6050.CLONES
    print("-- clones:")
    for who in (0x70, 0x71, 0x73, 0x98, 0x70):   # the warning is printed once (see the test)
        bus = FakeMPU(who=who)
        imu = MPU6050(bus, rate_hz=100)
        assert imu.who_am_i == who and bus.regs[0x1D] == 3, "6500 family: accel DLPF set too"
    print("-- end clones")
    for who in (0x00, 0x12, 0x69, 0xFF):
        msg = expect_error(SensorError, MPU6050, FakeMPU(who=who))
        assert ("WHO_AM_I is 0x%02x" % who) in msg, msg
    expect_error(OSError, MPU6050, FakeMPU(), address=0x69)
    print("WHO_AM_I ok")


def check_settle():
    bus = FakeMPU()
    MPU6050(bus, rate_hz=200)
    waited = ticks_diff(bus.fifo_on_us, bus.wake_us)
    assert waited >= 1000 * mpu6050.SETTLE_MS - 1000, waited  # sleep_ms vs ticks_us granularity
    print("settle ok: %d ms from wake-up to the first sample" % (waited // 1000))


def read_counters(imu, frame, n, out):
    for i in range(n):
        imu.read_into(frame)
        out[i] = frame[0]


def check_pacing(ppm):
    """The chip's clock decides: consecutive samples, none twice, none skipped, at its rate."""
    bus = FakeMPU(ppm=ppm)
    imu = MPU6050(bus, rate_hz=200)
    n = 60
    got = array.array("i", [0] * n)
    frame = array.array("h", [0] * 6)
    t0 = ticks_us()
    read_counters(imu, frame, n, got)
    dt = ticks_diff(ticks_us(), t0)
    first = got[0]
    assert list(got) == list(range(first, first + n)), list(got)
    assert list(frame)[1:] == list(FIXED[1:]), list(frame)
    assert bus.empty_reads == 0 and imu.overruns == 0
    want = n * 1000000 * 1000000 // (200 * (1000000 + ppm))  # us at the chip's rate
    assert abs(dt - want) < want // 5 + 10000, (dt, want)
    print("pacing ok at %+d ppm: %d samples in %d ms (chip clock: %d ms)" % (ppm, n, dt // 1000, want // 1000))


def check_overrun_and_flush():
    from tinyenroll.sensors import sleep_ms
    bus = FakeMPU()
    imu = MPU6050(bus, rate_hz=1000)
    frame = array.array("h", [0] * 6)
    got = array.array("i", [0] * 10)
    read_counters(imu, frame, 5, got)
    sleep_ms(200)                  # 200 samples = 2400 bytes: the 1024-byte FIFO overflows
    bus._tick()
    late = bus.produced            # every sample up to here was queued or lost while we slept
    read_counters(imu, frame, 10, got)
    assert imu.overruns == 1, imu.overruns
    assert list(got) == list(range(got[0], got[0] + 10)), list(got)   # realigned after the reset
    assert got[0] >= late, "fresh samples after the overflow, none from the broken FIFO"
    sleep_ms(30)                   # ~30 queued, no overflow
    bus._tick()
    queued = bus.produced
    imu.flush()
    read_counters(imu, frame, 1, got)
    assert got[0] >= queued, "flush drops queued samples"
    assert imu.overruns == 1 and bus.empty_reads == 0
    print("overrun counted and recovered, flush ok")


def check_window():
    bus = FakeMPU()
    imu = MPU6050(bus, rate_hz=500)
    buf = array.array("h", [0] * (6 * 50))
    imu.read_window(buf, 50)
    assert [buf[6 * i] for i in range(50)] == list(range(buf[0], buf[0] + 50))
    assert list(buf[6:12])[1:] == list(FIXED[1:])
    print("read_window ok")


def check_no_allocation():
    """read_into and read_window allocate nothing per sample (checked in micropython)."""
    if not MICRO:
        print("allocation: checked in micropython only")
        return
    import gc
    import micropython
    bus = FakeMPU()
    imu = MPU6050(bus, rate_hz=1000)
    frame = array.array("h", [0] * 6)
    got = array.array("i", [0] * 40)
    buf = array.array("h", [0] * (6 * 40))
    read_counters(imu, frame, 2, got)   # warm up
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        read_counters(imu, frame, 40, got)
        imu.read_window(buf, 40)
    finally:
        micropython.heap_unlock()
    assert gc.mem_alloc() == before, (before, gc.mem_alloc())
    assert list(got) == list(range(got[0], got[0] + 40))
    print("no allocation: 80 samples read with the heap locked")


check_registers()
check_who_am_i()
check_settle()
check_pacing(30000)
check_pacing(-30000)
check_overrun_and_flush()
check_window()
check_no_allocation()
print("MPU6050 OK")
