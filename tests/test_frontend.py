"""The board's front end equals its numpy twin bit for bit, in CPython and in real MicroPython."""
import array
import json

import numpy as np
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from host_tools.learn import train
from tinyenroll import frontend


@st.composite
def windows(draw):
    n = draw(st.integers(2, 120))
    c = draw(st.integers(1, 6))
    groups = draw(st.sampled_from([g for g in (1, 2, 3, 6) if c % g == 0]))
    length = draw(st.integers(2, 64))
    amp = draw(st.sampled_from([0, 1, 300, 32767]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    x = np.random.default_rng(seed).integers(-amp, amp + 1, size=(n, c))
    return x, length, groups


def board(x, length, groups=1):
    out = bytearray(length * x.shape[1])
    frontend.prepare(array.array("h", x.ravel().tolist()), x.shape[0], x.shape[1], length, out, groups)
    return np.frombuffer(bytes(out), np.int8)


@settings(max_examples=300)
@given(windows())
def test_frontend_matches_numpy(case):
    x, length, groups = case
    assert np.array_equal(board(x, length, groups), train.frontend(x, length, groups))


def test_groups_normalise_separately():
    # a gyroscope group 100x louder than the accelerometer: with one group it drowns the
    # accelerometer's shape; with two, each group spans the int8 range on its own
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(-50, 50, (80, 3)), rng.integers(-5000, 5000, (80, 3))], 1)
    one, two = board(x, 32, 1), board(x, 32, 2)
    assert int(one[:96].max()) - int(one[:96].min()) <= 3
    assert np.abs(two[:96]).max() > 40 and np.abs(two[96:]).max() > 40
    assert np.array_equal(two[96:], board(x[:, 3:], 32, 1))


def test_frontend_refuses_bad_windows():
    import pytest
    with pytest.raises(ValueError, match="at least 2 samples"):
        frontend.prepare(array.array("h", [1]), 1, 1, 8, bytearray(8))
    with pytest.raises(ValueError, match="need 20"):
        frontend.prepare(array.array("h", range(10)), 10, 2, 8, bytearray(16))
    with pytest.raises(ValueError, match="out holds 4"):
        frontend.prepare(array.array("h", range(10)), 10, 1, 8, bytearray(4))
    with pytest.raises(ValueError, match="3 channels cannot be cut into 2 equal groups"):
        frontend.prepare(array.array("h", range(30)), 10, 3, 8, bytearray(24), 2)


def test_frontend_in_micropython(tmp_path):
    rng = np.random.default_rng(5)
    # window sizes as the boards see them: gestures (1-3 axes, up to 361 samples), vowels (12 x 7..29)
    # and the 6-axis IMU (2 groups, up to 4 s at 50 Hz at full int16 range)
    cases = [(rng.integers(-3000, 3000, size=(int(rng.integers(2, 361 if c < 12 else 30)), c)),
              int(rng.integers(2, 64 if c < 12 else 17)), 1) for c in (1, 1, 3, 12) for _ in range(10)]
    cases += [(rng.integers(-32768, 32768, size=(int(rng.integers(2, 200)), 6)), 64, 2) for _ in range(10)]
    (tmp_path / "cases.json").write_text("".join(json.dumps([x.tolist(), L, g]) + "\n" for x, L, g in cases))
    script = tmp_path / "fe.py"
    script.write_text(
        "import json, array, binascii\nfrom tinyenroll import frontend\n"
        "for line in open(%r):\n"
        "    x, L, g = json.loads(line)\n"
        "    c = len(x[0])\n    out = bytearray(L * c)\n"
        "    frontend.prepare(array.array('h', [v for row in x for v in row]), len(x), c, L, out, g)\n"
        "    print(binascii.hexlify(out).decode())\n" % str(tmp_path / "cases.json"))
    got = mpy.run(str(script), heap="96K")
    assert got.returncode == 0, got.stderr
    lines = got.stdout.split()
    assert len(lines) == len(cases)
    for (x, L, g), line in zip(cases, lines):
        assert np.frombuffer(bytes.fromhex(line), np.int8).tolist() == train.frontend(x, L, g).tolist()
