"""The raw feature vectors (band_features, shape_features) equal their numpy twins in
host_tools/evaluate/anomaly_eval.py, under CPython and in real MicroPython at 96K."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from host_tools.evaluate import anomaly_eval
from tinyenroll import features


@settings(max_examples=150)
@given(st.integers(21, 160), st.integers(1, 9), st.integers(1, 40), st.sampled_from([1, 3, 300, 4000]),
       st.integers(0, 2 ** 32 - 1))
def test_firmware_features_equal_numpy(n, channels, points, amp, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-amp, amp + 1, size=(n, channels)) + rng.integers(-2000, 2000, size=channels)
    out = [0] * (5 * channels)
    features.band_features(w.reshape(-1).tolist(), n, channels, out)
    assert out == anomaly_eval.band_features(w).tolist()
    points = min(points, n)
    out = [0] * (points + 2)
    features.shape_features(w[:, 0].tolist(), n, points, out)
    assert out == anomaly_eval.shape_features(w[:, :1], points).tolist()


def test_feature_input_checked():
    with pytest.raises(ValueError, match="21"):
        features.band_features([0] * 40, 20, 2, [0] * 10)
    with pytest.raises(ValueError, match="out"):
        features.band_features([0] * 60, 30, 2, [0] * 9)
    with pytest.raises(ValueError, match="blocks"):
        features.shape_features([0] * 5, 5, 6, [0] * 8)


MPY_FEATURES = r"""
import sys, json
from tinyenroll import features
for line in open(sys.argv[1]):
    c = json.loads(line)
    out = [0] * (5 * c["channels"])
    features.band_features(c["x"], c["n"], c["channels"], out)
    sh = [0] * (c["points"] + 2)
    features.shape_features(c["x"], c["n"], c["points"], sh)
    print(json.dumps([out, sh]))
"""


def test_micropython_features_equal_numpy(tmp_path):
    rng = np.random.default_rng(4)
    cases = []
    for i in range(20):
        n, ch = int(rng.integers(21, 140)), int(rng.integers(1, 10))
        w = rng.integers(-5000, 5000, size=(n, ch))
        cases.append({"n": n, "channels": ch, "points": int(rng.integers(1, 21)), "x": w.reshape(-1).tolist()})
    (tmp_path / "f.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    script = tmp_path / "features_mpy.py"
    script.write_text(MPY_FEATURES)
    p = mpy.run(str(script), timeout=600, args=[tmp_path / "f.jsonl"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(cases)
    for c, line in zip(cases, lines):
        band, shape = json.loads(line)
        w = np.array(c["x"]).reshape(c["n"], c["channels"])
        assert band == anomaly_eval.band_features(w).tolist()
        # shape features of the interleaved buffer's first n values, as the board was given them
        assert shape == anomaly_eval.shape_features(np.array(c["x"][:c["n"]])[:, None], c["points"]).tolist()
