"""MPU-6050 accelerometer + gyroscope over I2C (machine.I2C), as a tinyenroll sensor.

    from machine import I2C, Pin
    imu = MPU6050(I2C(0, sda=Pin(4), scl=Pin(5)), rate_hz=50, accel_range=2)
    imu.read_into(frame)        # ax, ay, az, gx, gy, gz as raw int16 (16384 LSB/g at +-2 g)

Register map and values from the MPU-6000/6050 Register Map and Descriptions (rev 4.2).

Anti-aliasing: the digital low-pass filter (CONFIG DLPF_CFG) is the widest whose bandwidth,
accelerometer and gyroscope both, is below the Nyquist frequency rate_hz / 2 (register map
p. 13; bandwidth in Hz, delay in ms, accelerometer / gyroscope; DLPF_CFG 1..6 keep the 1 kHz
gyroscope output rate that SMPLRT_DIV divides, 0 and 7 switch it to 8 kHz and are not used):

    DLPF_CFG   accel BW  delay   gyro BW  delay
       1         184      2.0      188     1.9
       2          94      3.0       98     2.8
       3          44      4.9       42     4.8
       4          21      8.5       20     8.3
       5          10     13.8       10    13.4
       6           5     19.0        5    18.6

so 50 Hz sampling gets DLPF_CFG 4 (21 Hz), 100 Hz gets 3, 1 kHz gets 1; below 12 Hz no
setting is below Nyquist and the rate is refused.

Pacing: samples come from the chip's FIFO (accelerometer and gyroscope, 12 bytes a sample),
so they follow the chip's own sample clock, never read twice nor skipped; read_into waits for
the next one. A FIFO that overflowed (INT_STATUS FIFO_OFLOW, after ~85 samples unread) is reset
and counted in `overruns`; flush() drops queued samples (start a window "now").

WHO_AM_I: 0x68 is an MPU-6050. Chips of the same family that answer the MPU-6050 registers
this driver uses (CLONES below) are accepted with one printed warning; their accelerometer
filter (ACCEL_CONFIG2, absent on the 6050) is set to the same bandwidth. Anything else raises
SensorError.
"""
import array

try:
    from micropython import const
except ImportError:  # CPython simulation
    def const(v):
        return v

from . import pace_window, sleep_ms, sleep_us, ticks_diff, ticks_us

# registers and bits: _-prefixed const()s are folded into the code by mpy-cross and hold no RAM
ADDRESS = 0x68
_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)  # MPU-6500 family only
_FIFO_EN = const(0x23)
_INT_ENABLE = const(0x38)
_INT_STATUS = const(0x3A)
_ACCEL_XOUT_H = const(0x3B)
_TEMP_OUT_H = const(0x41)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)

_FIFO_ACCEL_GYRO = const(0x78)  # FIFO_EN: XG, YG, ZG, ACCEL
_USER_FIFO_EN = const(0x40)
_USER_FIFO_RESET = const(0x04)
_INT_FIFO_OFLOW = const(0x10)
_SAMPLE_BYTES = const(12)       # ax ay az gx gy gz, big-endian, in register order
SETTLE_MS = const(100)          # after wake-up: gyro start-up (30 ms typ.) and the PLL, then DLPF transients
# full-scale range -> (FS_SEL / AFS_SEL bits 4:3, LSB per unit)
ACCEL_RANGES = {2: (0, 16384), 4: (1, 8192), 8: (2, 4096), 16: (3, 2048)}     # g
GYRO_RANGES = {250: (0, 131.0), 500: (1, 65.5), 1000: (2, 32.8), 2000: (3, 16.4)}  # deg/s
_GYRO_RATE_HZ = const(1000)  # gyro output rate with the digital low-pass filter on (DLPF_CFG 1..6)
# DLPF_CFG 1..6 -> the wider of the accelerometer and gyroscope bandwidths (Hz), table above
DLPF_BANDWIDTH = (0, 188, 98, 44, 21, 10, 5)
CLONES = {0x70: "MPU-6500", 0x71: "MPU-9250", 0x73: "MPU-9255", 0x72: "an MPU-6050 clone",
          0x98: "an MPU-6050 clone / ICM-20689"}

_warned = False


class SensorError(OSError):
    pass


def dlpf_for(rate_hz):
    """The widest DLPF_CFG (1..6) whose bandwidth is below rate_hz / 2."""
    for cfg in range(1, 7):
        if 2 * DLPF_BANDWIDTH[cfg] < rate_hz:
            return cfg
    raise ValueError("no DLPF setting is below the Nyquist frequency of %d Hz (the narrowest is 5 Hz): "
                     "use rate_hz >= 20" % rate_hz)


class MPU6050:
    channels = 6
    paced_by_chip = True

    def __init__(self, i2c, address=ADDRESS, rate_hz=50, accel_range=2, gyro_range=250, dlpf=None):
        global _warned
        if accel_range not in ACCEL_RANGES:
            raise ValueError("accel_range must be one of 2, 4, 8, 16 (g)")
        if gyro_range not in GYRO_RANGES:
            raise ValueError("gyro_range must be one of 250, 500, 1000, 2000 (deg/s)")
        if rate_hz < 4 or rate_hz > _GYRO_RATE_HZ or _GYRO_RATE_HZ % rate_hz:
            raise ValueError("rate_hz must divide 1000 and be 4..1000")
        if dlpf is None:
            dlpf = dlpf_for(rate_hz)
        elif not 1 <= dlpf <= 6:
            raise ValueError("dlpf must be 1..6 (the sample-rate maths assumes a 1 kHz gyro rate)")
        elif 2 * DLPF_BANDWIDTH[dlpf] >= rate_hz:
            raise ValueError("dlpf %d (%d Hz) is not below the Nyquist frequency of %d Hz sampling: it "
                             "aliases; use %d" % (dlpf, DLPF_BANDWIDTH[dlpf], rate_hz, dlpf_for(rate_hz)))
        self.i2c = i2c
        self.address = address
        self.rate_hz = rate_hz
        self.dlpf = dlpf
        self.accel_lsb = ACCEL_RANGES[accel_range][1]
        self.gyro_lsb = GYRO_RANGES[gyro_range][1]
        self.overruns = 0
        self._avail = 0
        self._raw = bytearray(_SAMPLE_BYTES)
        self._one = bytearray(1)
        self._two = bytearray(2)
        self._frame = array.array("h", [0] * 6)
        # waiting longer than this for one sample means the chip is not sampling
        self._timeout_us = 4 * 1000000 // rate_hz + 200000
        who = self._read(_WHO_AM_I)
        if who != ADDRESS:
            if who not in CLONES:
                raise SensorError("no MPU-6050 at 0x%02x: _WHO_AM_I is 0x%02x, expected 0x68" % (address, who))
            if not _warned:
                print("warning: _WHO_AM_I 0x%02x at 0x%02x is %s, not an MPU-6050: read as one"
                      % (who, address, CLONES[who]))
                _warned = True
        self.who_am_i = who
        self._write(_PWR_MGMT_1, 0x01)  # wake up (SLEEP=0), clock from the X gyro PLL
        self._write(_CONFIG, dlpf)
        if who != ADDRESS:
            self._write(_ACCEL_CONFIG2, dlpf)  # A_DLPF_CFG: 218/99/45/21/10/5 Hz for 1..6
        self._write(_SMPLRT_DIV, _GYRO_RATE_HZ // rate_hz - 1)
        self._write(_GYRO_CONFIG, GYRO_RANGES[gyro_range][0] << 3)
        self._write(_ACCEL_CONFIG, ACCEL_RANGES[accel_range][0] << 3)
        self._write(_INT_ENABLE, _INT_FIFO_OFLOW)
        self._write(_FIFO_EN, _FIFO_ACCEL_GYRO)
        sleep_ms(SETTLE_MS)
        self.flush()

    def _read(self, reg):
        self.i2c.readfrom_mem_into(self.address, reg, self._one)
        return self._one[0]

    def _write(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.address, reg, self._one)

    def flush(self):
        """Drop every queued sample (FIFO reset): the next read_into returns the next sample the
        chip takes."""
        self._write(_USER_CTRL, _USER_FIFO_RESET)
        self._write(_USER_CTRL, _USER_FIFO_EN)
        self._read(_INT_STATUS)  # clear a stale overflow flag
        self._avail = 0

    def _fill(self):
        """Wait until the FIFO holds a whole sample; count and recover from an overflow."""
        start = ticks_us()
        while True:
            if self._read(_INT_STATUS) & _INT_FIFO_OFLOW:
                self.overruns += 1
                self.flush()
            else:
                self.i2c.readfrom_mem_into(self.address, _FIFO_COUNTH, self._two)
                n = ((self._two[0] << 8) | self._two[1]) // _SAMPLE_BYTES
                if n:
                    self._avail = n
                    return
            if ticks_diff(ticks_us(), start) > self._timeout_us:
                raise SensorError("MPU-6050 at 0x%02x sends no samples" % self.address)
            sleep_us(500)

    def read_into(self, frame):
        """The next sample the chip took: ax, ay, az, gx, gy, gz (raw int16) into frame. Waits for
        it; allocates nothing."""
        if self._avail and self._read(_INT_STATUS) & _INT_FIFO_OFLOW:
            # overflowed since FIFO_COUNT was read: what is queued may be torn, start again
            self.overruns += 1
            self.flush()
        if not self._avail:
            self._fill()
        raw = self._raw
        self.i2c.readfrom_mem_into(self.address, _FIFO_R_W, raw)
        self._avail -= 1
        for j in range(6):
            v = (raw[2 * j] << 8) | raw[2 * j + 1]
            frame[j] = v - 65536 if v > 32767 else v
        return frame

    def read_window(self, buf, n):
        return pace_window(self, buf, n)

    def temperature_c(self):
        self.i2c.readfrom_mem_into(self.address, _TEMP_OUT_H, self._two)
        v = (self._two[0] << 8) | self._two[1]
        return (v - 65536 if v > 32767 else v) / 340 + 36.53
