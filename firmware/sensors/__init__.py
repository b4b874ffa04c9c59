"""Sensors the firmware reads windows from, all with one small interface:

    s.rate_hz, s.channels          # samples per second, values per sample
    s.read_into(frame)             # one sample: `channels` int16 into array('h') frame
    s.read_window(buf, n)          # n samples, channel-interleaved, into array('h') buf; returns buf
    s.flush()                      # (optional) drop samples queued before now

mpu6050.MPU6050 reads an I2C IMU, paced by the chip's own sample clock (its FIFO);
replay.Replay plays a recording, paced by the MCU clock (pace_window).
"""
try:
    from time import ticks_us, ticks_add, ticks_diff, sleep_us, sleep_ms
except ImportError:  # CPython simulation
    import time as _time

    def ticks_us():
        return int(_time.monotonic() * 1000000)

    def ticks_add(a, b):
        return a + b

    def ticks_diff(a, b):
        return a - b

    def sleep_us(us):
        _time.sleep(us / 1e6)

    def sleep_ms(ms):
        _time.sleep(ms / 1e3)


def pace_window(sensor, buf, n):
    """Fill buf with n samples from sensor.read_into. A sensor with `paced_by_chip` set waits for
    its own sample clock in read_into; any other gets one sample every 1/rate_hz seconds of the
    MCU clock."""
    c = sensor.channels
    frame = sensor._frame
    if getattr(sensor, "paced_by_chip", False):
        k = 0
        for i in range(n):
            sensor.read_into(frame)
            for j in range(c):
                buf[k] = frame[j]
                k += 1
        return buf
    period_us = 1000000 // sensor.rate_hz
    t = ticks_us()
    for i in range(n):
        sensor.read_into(frame)
        for j in range(c):
            buf[i * c + j] = frame[j]
        t = ticks_add(t, period_us)
        wait = ticks_diff(t, ticks_us())
        if wait > 0:
            sleep_us(wait)
    return buf


def from_profile(path="/board.json"):
    """The sensor a board profile names (host_tools/boards/*.json, installed by flash as /board.json), at
    the profile's sample rate."""
    import json
    with open(path) as f:
        profile = json.load(f)
    sensor = profile["sensor"]
    rate = profile.get("sample_rate_hz", 50)
    if sensor["driver"] == "replay":
        from .replay import Replay
        return Replay("/" + sensor["file"])
    if sensor["driver"] == "mpu6050":
        from .mpu6050 import MPU6050
        if sensor["bus"] == "sim":  # the virtual board: a recording behind the real driver
            from .mpu6050_sim import SimBus
            i2c = SimBus("/" + sensor["file"], loop=True)
        else:
            from machine import I2C, Pin
            i2c = I2C(sensor["id"], sda=Pin(sensor["sda"]), scl=Pin(sensor["scl"]), freq=sensor["freq"])
        return MPU6050(i2c, sensor["address"], rate_hz=rate, accel_range=sensor.get("accel_g", 4),
                       gyro_range=sensor.get("gyro_dps", 500))
    raise ValueError("unknown sensor driver %r" % sensor["driver"])
