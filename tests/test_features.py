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
       st.integers(0, 2 ** 32 - 1), st.sampled_from([64, 50, 100, 25, 200]))
def test_firmware_features_equal_numpy(n, channels, points, amp, seed, rate):
    rng = np.random.default_rng(seed)
    n = max(n, features.band_lengths(rate)[1])
    w = rng.integers(-amp, amp + 1, size=(n, channels)) + rng.integers(-2000, 2000, size=channels)
    out = [0] * (5 * channels)
    features.band_features(w.reshape(-1).tolist(), n, channels, out, rate)
    assert out == anomaly_eval.band_features(w, rate).tolist()
    points = min(points, n)
    out = [0] * (points + 2)
    features.shape_features(w[:, 0].tolist(), n, points, out)
    assert out == anomaly_eval.shape_features(w[:, :1], points).tolist()
    # level=False: the mean's slot holds 0, every other feature is the same
    free = [0] * (points + 2)
    features.shape_features(w[:, 0].tolist(), n, points, free, False)
    assert free == anomaly_eval.shape_features(w[:, :1], points, level=False).tolist()
    assert free[points] == 0 and free[:points] + free[points + 1:] == out[:points] + out[points + 1:]
    band = [0] * (5 * channels)
    features.band_features(w.reshape(-1).tolist(), n, channels, band, rate, False)
    assert band == anomaly_eval.band_features(w, rate, level=False).tolist()


@settings(max_examples=60)
@given(st.integers(21, 160), st.integers(1, 6), st.integers(1, 20), st.integers(-10 ** 6, 10 ** 6),
       st.integers(0, 2 ** 32 - 1))
def test_level_free_features_ignore_an_added_level(n, channels, points, shift, seed):
    """The independent expectation: adding a constant to every sample moves no level-free feature."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-3000, 3001, size=(max(n, 21), channels))
    n = len(w)
    points = min(points, n)
    a, b = [0] * (5 * channels), [0] * (5 * channels)
    features.band_features(w.reshape(-1).tolist(), n, channels, a, 64, False)
    features.band_features((w + shift).reshape(-1).tolist(), n, channels, b, 64, False)
    assert a == b
    a, b = [0] * (points + 2), [0] * (points + 2)
    features.shape_features(w[:, 0].tolist(), n, points, a, False)
    features.shape_features((w[:, 0] + shift).tolist(), n, points, b, False)
    assert a == b


def test_the_bands_follow_the_sample_rate():
    """A 5 or 6 Hz tremor has the same 3-8 Hz power at 50 Hz as at 64 Hz (within 25 %); the 64 Hz
    filter lengths on 50 Hz samples put a null near 6 Hz and lose most of it."""
    assert features.band_lengths(64) == (8, 21) and features.band_lengths(50) == (6, 16)

    def fog(rate, f, lengths_at):
        t = np.arange(2 * rate) / rate
        w = np.round(3000 * np.sin(2 * np.pi * f * t)).astype(np.int64)
        out = [0] * 5
        features.band_features(w.tolist(), len(w), 1, out, lengths_at)
        return out[2]
    for f in (5.0, 6.0):
        at64 = fog(64, f, 64)
        assert abs(fog(50, f, 50) - at64) < at64 // 4, (f, fog(50, f, 50), at64)
        assert fog(50, f, 64) < at64 // 2


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
    features.band_features(c["x"], c["n"], c["channels"], out, c["rate"], c["level"])
    sh = [0] * (c["points"] + 2)
    features.shape_features(c["x"], c["n"], c["points"], sh, c["level"])
    print(json.dumps([out, sh]))
"""


def test_micropython_features_equal_numpy(tmp_path):
    rng = np.random.default_rng(4)
    cases = []
    for i in range(20):
        n, ch = int(rng.integers(34, 140)), int(rng.integers(1, 10))  # 34: the long average at 100 Hz
        w = rng.integers(-5000, 5000, size=(n, ch))
        cases.append({"n": n, "channels": ch, "points": int(rng.integers(1, 21)), "x": w.reshape(-1).tolist(),
                      "rate": (64, 50, 100)[i % 3], "level": i % 2 == 0})
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
        assert band == anomaly_eval.band_features(w, c["rate"], level=c["level"]).tolist()
        # shape features of the interleaved buffer's first n values, as the board was given them
        assert shape == anomaly_eval.shape_features(np.array(c["x"][:c["n"]])[:, None], c["points"],
                                                    level=c["level"]).tolist()
