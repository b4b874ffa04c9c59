"""Sensors the firmware reads windows from, all with one small interface:

    s.rate_hz, s.channels          # samples per second, values per sample
    s.read_into(frame)             # one sample: `channels` int16 into array('h') frame
    s.read_window(buf, n)          # n samples, channel-interleaved, into array('h') buf,
                                   # paced at rate_hz; returns buf

mpu6050.MPU6050 reads an I2C IMU; replay.Replay plays a recording (the virtual board's sensor).
"""
import time


def pace_window(sensor, buf, n):
    """Fill buf with n samples from sensor.read_into, one every 1/rate_hz seconds."""
    c = sensor.channels
    frame = sensor._frame
    period_us = 1000000 // sensor.rate_hz
    ticks_us = getattr(time, "ticks_us", None)
    if ticks_us is None:  # CPython simulation
        start = time.monotonic()
        for i in range(n):
            due = start + i * period_us / 1e6
            while time.monotonic() < due:
                pass
            sensor.read_into(frame)
            for j in range(c):
                buf[i * c + j] = frame[j]
        return buf
    t = ticks_us()
    for i in range(n):
        sensor.read_into(frame)
        for j in range(c):
            buf[i * c + j] = frame[j]
        t = time.ticks_add(t, period_us)
        wait = time.ticks_diff(t, ticks_us())
        if wait > 0:
            time.sleep_us(wait)
    return buf


def from_profile(path="/board.json"):
    """The sensor a board profile names (boards/*.json, installed by flash as /board.json), at
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
