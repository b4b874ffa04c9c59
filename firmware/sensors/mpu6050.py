"""MPU-6050 accelerometer + gyroscope over I2C (machine.I2C), as a tinyenroll sensor.

    from machine import I2C, Pin
    imu = MPU6050(I2C(0, sda=Pin(4), scl=Pin(5)), rate_hz=50, accel_range=2)
    imu.read_into(frame)        # ax, ay, az, gx, gy, gz as raw int16 (16384 LSB/g at +-2 g)

Register map and values from the MPU-6000/6050 register map (rev 4.2).
"""
import array
import struct

from . import pace_window

ADDRESS = 0x68
SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
ACCEL_XOUT_H = 0x3B
PWR_MGMT_1 = 0x6B
WHO_AM_I = 0x75
# full-scale range -> (FS_SEL / AFS_SEL bits 4:3, LSB per unit)
ACCEL_RANGES = {2: (0, 16384), 4: (1, 8192), 8: (2, 4096), 16: (3, 2048)}     # g
GYRO_RANGES = {250: (0, 131.0), 500: (1, 65.5), 1000: (2, 32.8), 2000: (3, 16.4)}  # deg/s
GYRO_RATE_HZ = 1000  # gyro output rate with the digital low-pass filter on (DLPF_CFG 1..6)


class SensorError(OSError):
    pass


class MPU6050:
    channels = 6

    def __init__(self, i2c, address=ADDRESS, rate_hz=50, accel_range=2, gyro_range=250, dlpf=3):
        if accel_range not in ACCEL_RANGES:
            raise ValueError("accel_range must be one of 2, 4, 8, 16 (g)")
        if gyro_range not in GYRO_RANGES:
            raise ValueError("gyro_range must be one of 250, 500, 1000, 2000 (deg/s)")
        if not 1 <= dlpf <= 6:
            raise ValueError("dlpf must be 1..6 (the sample-rate maths assumes a 1 kHz gyro rate)")
        if rate_hz < 4 or rate_hz > GYRO_RATE_HZ or GYRO_RATE_HZ % rate_hz:
            raise ValueError("rate_hz must divide 1000 and be 4..1000")
        self.i2c = i2c
        self.address = address
        self.rate_hz = rate_hz
        self.accel_lsb = ACCEL_RANGES[accel_range][1]
        self.gyro_lsb = GYRO_RANGES[gyro_range][1]
        self._raw = bytearray(14)
        self._one = bytearray(1)
        self._frame = array.array("h", [0] * 6)
        who = self._read(WHO_AM_I)
        if who != ADDRESS:
            raise SensorError("no MPU-6050 at 0x%02x: WHO_AM_I is 0x%02x, expected 0x68" % (address, who))
        self._write(PWR_MGMT_1, 0x01)  # wake up (SLEEP=0), clock from the X gyro PLL
        self._write(CONFIG, dlpf)
        self._write(SMPLRT_DIV, GYRO_RATE_HZ // rate_hz - 1)
        self._write(GYRO_CONFIG, GYRO_RANGES[gyro_range][0] << 3)
        self._write(ACCEL_CONFIG, ACCEL_RANGES[accel_range][0] << 3)

    def _read(self, reg):
        self.i2c.readfrom_mem_into(self.address, reg, self._one)
        return self._one[0]

    def _write(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.address, reg, self._one)

    def read_into(self, frame):
        """ax, ay, az, gx, gy, gz (raw int16) into frame; the temperature word is skipped."""
        self.i2c.readfrom_mem_into(self.address, ACCEL_XOUT_H, self._raw)
        v = struct.unpack(">hhhhhhh", self._raw)
        frame[0] = v[0]
        frame[1] = v[1]
        frame[2] = v[2]
        frame[3] = v[4]
        frame[4] = v[5]
        frame[5] = v[6]
        return frame

    def read_window(self, buf, n):
        return pace_window(self, buf, n)

    def temperature_c(self):
        self.i2c.readfrom_mem_into(self.address, ACCEL_XOUT_H, self._raw)
        return struct.unpack(">h", self._raw[6:8])[0] / 340 + 36.53
