"""Board half of `tinyenroll demo`: gestures or motions enrolled and classified from a sensor
(the replay sensor, or a simulated MPU-6050 through the real driver), anomaly on a replayed
recording."""
import gc
import time

from . import hexlify, wipe

_m = None     # the model
_L = None     # its learner
_src = None   # the sensor
_buf = None   # raw samples of one window (int16, channel-interleaved)
_x = None     # the model's int8 input
_groups = 1   # front-end channel groups


def gestures(k, speed, longest, length, model_path="/model.tem", store="/learned", rec="/gestures.ter",
             imu_hz=0, groups=1, unknown_dist=None):
    """Set up: model, a fresh learner and the sensor: the replay of rec at `speed`, or with
    imu_hz an MPU-6050 at imu_hz on a simulated bus that plays rec (6 channels, raw LSBs)."""
    global _m, _L, _src, _buf, _x, _groups
    import array
    import gc
    from .. import kernels, learner, model
    wipe(store)
    kernels.ready()  # reads /board.json: before the buffers, and collected below
    # all code first (kernels, the sensor's driver), then the buffers in one run: code loaded
    # between buffers leaves a small heap in holes too small for the next import
    if imu_hz:
        from ..sensors.mpu6050 import MPU6050
        from ..sensors.mpu6050_sim import SimBus
    else:
        from ..sensors.replay import Replay
    gc.collect()
    _m = model.load(model_path)
    _L = learner.Learner(_m, store, k=k, capacity=64, unknown_dist=unknown_dist)
    channels = 6 if imu_hz else 1
    _buf = array.array("h", bytes(2 * longest * channels))
    _x = bytearray(_m.in_dim)
    if imu_hz:
        _src = MPU6050(SimBus(rec), rate_hz=imu_hz, accel_range=4, gyro_range=500)
    else:
        _src = Replay(rec, loop=False, speed=speed)
        if _src.channels != 1:
            _buf = array.array("h", bytes(2 * longest * _src.channels))
    _groups = groups


def gesture(n, label):
    """Read the next n-sample window from the sensor; enroll it as label, or classify it when
    label is None. Prints JSON [embedding hex, decision or None, microseconds, heap in use]."""
    import json
    from .. import frontend
    _src.read_window(_buf, n)
    t = time.ticks_us()
    c = _src.channels
    frontend.prepare(_buf, n, c, len(_x) // c, _x, _groups)
    e = _m.embed(_x)
    h = hexlify(e)
    if label:
        _L.enroll(label, embedding=e, why="demo")
        r = None
    else:
        r = list(_L.classify(embedding=e))
    us = time.ticks_diff(time.ticks_us(), t)
    gc.collect()
    print(json.dumps([h, r, us, gc.mem_alloc()]))


def replay_anomaly(path, speed, size, hop, windows, learn):
    """Learn normal on the first `learn` windows of a replayed recording, then score the rest.

    Prints 'T threshold' once learning ends, 'S score flagged microseconds' per scored window
    and 'P peak-heap' at the end. Windows of `size` samples advance by `hop`.
    """
    import array
    from .. import anomaly, features, kernels
    from ..sensors.replay import Replay
    # the kernels' first use reads /board.json: do it now and collect, so the detector's raw
    # rows (23 KB in one piece) find room
    kernels.ready()
    gc.collect()
    src = Replay(path, loop=False, speed=speed)
    c = src.channels
    buf = array.array("h", bytes(2 * size * c))
    tmp = array.array("h", bytes(2 * hop * c))
    feat = [0] * (5 * c)
    det = anomaly.Detector(5 * c, capacity=128, k=2, raw=True)
    half = hop * c
    src.read_window(buf, size)
    peak = 0
    for i in range(windows):
        if i:
            src.read_window(tmp, hop)
            buf[:half] = buf[half:]
            buf[half:] = tmp
        t = time.ticks_us()
        features.band_features(buf, size, c, feat)
        r = None
        if i < learn:
            det.learn(feat)
        else:
            if i == learn:
                det.finish()
                print("T", det.threshold)
            r = det.check(feat)
        us = time.ticks_diff(time.ticks_us(), t)
        gc.collect()
        peak = max(peak, gc.mem_alloc())
        if r is not None:
            print("S", r[0], 1 if r[1] else 0, us)
    print("P", peak)
