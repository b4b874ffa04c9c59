"""The ulab stand-in keeps each documented ulab 6.12 rule (DESIGN.md, ulab's ndarray.c)."""
import array

import numpy
import pytest
from hypothesis import given, strategies as st

from host_tools.board import ulab_env


@pytest.fixture(params=[32, 64])
def np(request):
    with ulab_env.use_standin(request.param) as mod:
        yield mod


def test_only_ulab_dtypes(np):
    assert not hasattr(np, "int32") and not hasattr(np, "uint32")
    assert not hasattr(np.zeros(3), "astype")
    with pytest.raises(TypeError):
        np.zeros(3, dtype="int32")
    with pytest.raises(ValueError, match="dimensions"):
        np.zeros(8).reshape((2, 2, 2))


def test_same_dtype_integer_arithmetic_wraps(np):
    a = np.array([100, -100, 127], dtype=np.int8)
    assert (a + a).tolist() == [-56, 56, -2]
    assert (a + a).dtype == np.int8
    b = np.array([250], dtype=np.uint8)
    assert (b + b).tolist() == [244]
    c = np.array([30000], dtype=np.int16)
    assert (c * np.array([2], dtype=np.int16)).tolist() == [-5536]


def test_python_scalars_take_the_smallest_dtype(np):
    i8 = np.array([1, 2], dtype=np.int8)
    u8 = np.array([1, 2], dtype=np.uint8)
    assert (i8 + 1000).dtype == np.int16 and (i8 + 1000).tolist() == [1001, 1002]
    assert (i8 + 100).dtype == np.int8
    assert (i8 + 127).tolist() == [-128, -127]  # 127 is int8 for a signed array: wraps
    assert (u8 + 200).dtype == np.uint8
    assert (u8 + 1000).dtype == np.uint16
    assert (u8 + -1).dtype == np.int16  # uint8 with int8
    assert (i8 + -200).dtype == np.int16
    assert (i8 + 40000).dtype == np.float
    assert (i8 + 0.5).dtype == np.float
    # a scalar on the left is sized without looking at the array (ulab's reverse operators)
    assert (1000 + i8).dtype == np.uint16


@pytest.mark.parametrize("a,b,want", [
    ("int8", "uint8", "int16"), ("uint8", "int16", "int16"), ("uint8", "uint16", "uint16"),
    ("int8", "int16", "int16"), ("int8", "uint16", "uint16"), ("uint16", "int16", "float"),
    ("int8", "float", "float"), ("uint16", "float", "float"), ("int16", "int16", "int16"),
])
def test_mixed_dtype_table(np, a, b, want):
    x = np.array([3], dtype=a)
    y = np.array([2], dtype=b)
    for r in (x + y, y + x, x * y, x - y):
        assert r.dtype == want


def test_division_is_float_and_comparisons_are_bool(np):
    a = np.array([3, 4], dtype=np.int8)
    assert (a / 2).dtype == np.float and (a / 2).tolist() == [1.5, 2.0]
    assert (a > 3).dtype == np.bool and (a > 3).tolist() == [False, True]


def test_dot_accumulates_in_float_and_returns_float(np):
    a = np.array([1, 2, 3], dtype=np.int8)
    v = np.dot(a, a)
    assert isinstance(v, float) and v == 14.0
    m = np.array([[1, 2, 3], [-4, 5, -6]], dtype=np.int8)
    r = np.dot(m, a)
    assert r.dtype == np.float and r.tolist() == [14.0, -12.0]
    assert np.dot(m, m.T).shape == (2, 2)


def test_float_precision_follows_the_board():
    big = 2 ** 24 + 1
    with ulab_env.use_standin(32) as np:
        assert np.array([big]).tolist() == [float(2 ** 24)]
        ones = np.ones(3)
        assert (ones / 3).tolist()[0] == float(numpy.float32(1) / numpy.float32(3))
    with ulab_env.use_standin(64) as np:
        assert np.array([big]).tolist() == [float(big)]
        assert np.sum(np.array([2 ** 24, 1, 1])) == 2 ** 24 + 2


def test_float32_dot_rounds_past_2_24_in_order():
    with ulab_env.use_standin(32) as np:
        a = np.array([2 ** 24, 1, 1])
        assert np.dot(a, np.ones(3)) == 2 ** 24  # each +1 is rounded away, one at a time
    with ulab_env.use_standin(64) as np:
        assert np.dot(np.array([2 ** 24, 1, 1]), np.ones(3)) == 2 ** 24 + 2


def test_frombuffer_shares_memory(np):
    buf = bytearray([1, 2, 255])
    a = np.frombuffer(buf, dtype=np.int8)
    assert a.tolist() == [1, 2, -1]
    buf[0] = 7
    assert a[0] == 7
    a[1] = -3
    assert buf[1] == 253
    b = np.frombuffer(array.array("b", [5, 6, 7, 8]), dtype=np.int8, count=2, offset=1)
    assert b.tolist() == [6, 7]


def test_casts_truncate_toward_zero(np):
    f = np.array([1.9, -1.9, 127.0, -128.0])
    assert np.array(f, dtype=np.int8).tolist() == [1, -1, 127, -128]
    assert np.array(np.floor(f), dtype=np.int8).tolist() == [1, -2, 127, -128]
    assert np.floor(f).dtype == np.float


def test_clip_and_sum_rules(np):
    a = np.array([-5, 0, 300], dtype=np.int16)
    c = np.clip(a, -1, 200)
    assert c.tolist() == [-1, 0, 200] and c.dtype == np.int16
    assert type(np.sum(np.array([1, 2], dtype=np.int8))) is int  # ulab numerical.c rounds M * len
    assert np.max(np.array([1, 9], dtype=np.uint8)) == 9


@given(st.lists(st.integers(-128, 127), min_size=1, max_size=20),
       st.lists(st.integers(-128, 127), min_size=1, max_size=20))
def test_int8_arithmetic_wraps_like_c(xs, ys):
    n = min(len(xs), len(ys))
    with ulab_env.use_standin(32) as np:
        a = np.array(xs[:n], dtype=np.int8)
        b = np.array(ys[:n], dtype=np.int8)
        want_add = [((x + y + 128) % 256) - 128 for x, y in zip(xs, ys)]
        want_mul = [((x * y + 128) % 256) - 128 for x, y in zip(xs, ys)]
        assert (a + b).tolist() == want_add
        assert (a * b).tolist() == want_mul


def test_fft_real_input_gives_real_and_imag_float_arrays():
    with ulab_env.use_standin(64) as np:
        re, im = np.fft.fft(np.array([1, 0, 0, 0, 1, 0, 0, 0]))
        assert re.dtype == np.float and im.dtype == np.float
        assert re.tolist() == [2.0, 0.0, 2.0, 0.0, 2.0, 0.0, 2.0, 0.0]
        assert im.tolist() == [0.0] * 8
        with pytest.raises(ValueError):
            np.fft.fft(np.array([1, 2, 3]))


def test_sum_of_integers_is_a_python_int_from_the_float_mean():
    with ulab_env.use_standin(64) as np:
        s = np.sum(np.array([100, 100, -56], dtype=np.int8))
        assert type(s) is int and s == 144  # no wrapping: computed through float
        assert type(np.sum(np.array([1.5, 2.0]))) is float
