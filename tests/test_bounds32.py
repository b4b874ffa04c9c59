"""host_tools/oracle/bounds32: the proof standing in for a 32-bit viper run. Every model the
exporter writes, and the enroller/detector at the firmware's largest settings, stay inside a
board's words; the checker's worst cases are reached (so they are not loose guesses) and a
model that would leave them is refused."""
import os

import numpy as np
import pytest
from hypothesis import given, settings

from host_tools.oracle import anomaly_ref, bounds32, modelfile
from strategies import models
from tinyenroll import anomaly, enroll, kernels

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_shipped_models_are_within_32_bits():
    folder = os.path.join(REPO, "host_tools", "models")
    names = [n for n in os.listdir(folder) if n.endswith(".tem")]
    assert names
    for n in names:
        rows = bounds32.check_model(modelfile.read(os.path.join(folder, n)))
        assert any(r["what"] == "dense accumulator" for r in rows)


@settings(max_examples=200)
@given(models())
def test_every_exportable_model_is_within_32_bits(m):
    modelfile.to_bytes(m)          # the exporter runs the check
    for r in bounds32.check_model(m):
        assert r["worst"] < r["limit"]


def test_a_model_over_a_bound_is_named():
    m = {"in_dim": 4, "input_scale": 1.0, "layers": [
        {"type": "dense", "w": np.full((2, 4), 127, np.int8), "b": np.array([-(1 << 25), 0], np.int32),
         "shift": np.zeros(2, np.uint8), "out_scale": 1.0}]}
    with pytest.raises(bounds32.Bound32Error, match="bias"):
        bounds32.check_model(m)


def test_largest_enroller_and_detector_settings_fit():
    D = kernels.MAX_DIST_DIM
    bounds32.check(bounds32.enroll_bounds(D, k=32, max_per_class=4096, mode="knn"))
    bounds32.check(bounds32.enroll_bounds(D, k=32, max_per_class=4096, mode="prototype"))
    bounds32.check(bounds32.anomaly_bounds(D, k=16, margin=(64, 1), raw=True))
    with pytest.raises(ValueError):
        enroll.Enroller(D, k=33)          # the limits the proof assumes are the firmware's
    with pytest.raises(ValueError):
        anomaly.Detector(D + 1)
    with pytest.raises(ValueError):
        anomaly.Detector(D, k=17)
    assert anomaly.BIG == bounds32.BIG == anomaly_ref.BIG < bounds32.SMALL


def test_worst_cases_are_reached():
    D = kernels.MAX_DIST_DIM
    lo, hi = bytes([0x80] * D), bytes([0x7F] * D)
    out = __import__("array").array("i", [0])
    for backend in ("plain",):
        kernels.select(backend)
        kernels.sqdist(lo, kernels.sumsq(lo, D), hi, __import__("array").array("i", [kernels.sumsq(hi, D)]), 1, D, out)
        assert out[0] == bounds32.enroll_bounds(D)[1]["worst"] == D * 255 * 255
        assert kernels.sumsq(lo, D) == bounds32.enroll_bounds(D)[0]["worst"]


def test_large_margin_threshold_is_clamped_and_saves():
    """Bug found by the checker: margin (64, 1) with k=16, D=256 made a threshold of ~2**34,
    which Detector.to_bytes could not pack as int32 (struct.error) on any port."""
    D = kernels.MAX_DIST_DIM
    d = anomaly.Detector(D, capacity=40, k=16, margin=(64, 1))
    r = anomaly_ref.Detector(D, capacity=40, k=16, margin=(64, 1))
    for i in range(17):
        v = bytes([0x80 if i == 0 else 0x7F] * D)
        d.learn(v)
        r.learn(np.frombuffer(v, np.int8))
    d.finish()
    r.finish()
    assert d.threshold == r.threshold == anomaly.BIG
    e = anomaly.Detector.from_bytes(d.to_bytes())
    assert e.threshold == anomaly.BIG
    far = bytes([0x80] * D)
    assert d.check(far) == (r.check(np.frombuffer(far, np.int8))[0], False)
