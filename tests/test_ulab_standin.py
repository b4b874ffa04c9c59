"""The ulab stand-in keeps each ulab 6.12 rule, one test per rule.

Every expected value here was read off the real ulab 6.12 builds (micropython-ulab-single and
-double); tests/test_ulab_standin_differential.py checks the same rules, and many more
expressions, against recorded and live answers of those builds.
"""
import array

import pytest
from hypothesis import given, strategies as st

from host_tools.board import ulab_env


@pytest.fixture(params=[32, 64], ids=["float32", "float64"])
def np(request):
    with ulab_env.use_standin(request.param) as mod:
        yield mod


def test_dtype_codes_are_ulabs(np):
    assert (np.int8, np.uint8, np.int16, np.uint16, np.bool) == (98, 66, 104, 72, 63)
    assert np.float == (102 if np.zeros(1).itemsize == 4 else 100)
    assert (np.array([1, 2]) > 1).dtype == np.uint8  # a bool array is a flagged uint8 array


def test_only_ulab_dtypes(np):
    assert not hasattr(np, "int32") and not hasattr(np, "uint32")
    assert not hasattr(np.zeros(3), "astype")
    with pytest.raises(TypeError):
        np.zeros(3, dtype=32)


def test_3d_arrays_raise(np):
    with pytest.raises(TypeError):
        np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match="dimensions"):
        np.zeros(8).reshape((2, 2, 2))
    with pytest.raises(ValueError):
        np.array([[[1, 2]], [[3, 4]]])


def test_same_dtype_integer_arithmetic_wraps(np):
    a = np.array([100, -100, 127], dtype=np.int8)
    assert (a + a).tolist() == [-56, 56, -2] and (a + a).dtype == np.int8
    assert (np.array([250], dtype=np.uint8) * 2).tolist() == [244]
    assert (np.array([30000], dtype=np.int16) * np.array([2], dtype=np.int16)).tolist() == [-5536]


def test_int8_with_uint16_gives_int16(np):
    i8 = np.array([-7, 7], dtype=np.int8)
    u16 = np.array([7, 40000], dtype=np.uint16)
    for r in (i8 + u16, u16 + i8, i8 * u16, i8 - u16):
        assert r.dtype == np.int16
    assert (i8 + u16).tolist() == [0, -25529]


def test_uint16_minus_int8_stays_uint16(np):
    r = np.array([0, 7], dtype=np.uint16) - np.array([-128, 7], dtype=np.int8)
    assert r.dtype == np.uint16 and r.tolist() == [128, 0]


@pytest.mark.parametrize("a,b,want", [
    ("int8", "uint8", "int16"), ("uint8", "int16", "int16"), ("uint8", "uint16", "uint16"),
    ("int8", "int16", "int16"), ("int8", "uint16", "int16"), ("uint16", "int16", "float"),
    ("int8", "float", "float"), ("uint16", "float", "float"), ("int16", "int16", "int16"),
])
def test_mixed_dtype_table(np, a, b, want):
    x = np.array([3], dtype=getattr(np, a))
    y = np.array([2], dtype=getattr(np, b))
    for r in (x + y, y + x, x * y):
        assert r.dtype == getattr(np, want)


def test_integer_operands_with_a_float_result_compute_exactly_first(np):
    r = np.array([0, 32767], dtype=np.int16) * np.array([-7, 65535], dtype=np.uint16)
    assert r.dtype == np.float
    assert str(r.tolist()[0]) == "0.0"  # not -0.0: the int product is converted
    assert r.tolist()[1] == (2147385344.0 if np.float == 102 else 2147385345.0)


def test_scalar_on_the_left_is_sized_as_unsigned(np):
    i8 = np.array([1, -100], dtype=np.int8)
    assert (1000 + i8).dtype == np.int16 and (1000 + i8).tolist() == [1001, 900]
    assert (3 + i8).dtype == np.int16   # 3 is uint8 on the left: uint8 + int8
    assert (i8 + 3).dtype == np.int8    # and int8 on the right of a signed array
    assert (1000 - i8).dtype == np.uint16


def test_int8_plus_minus_128_stays_int8_and_wraps(np):
    r = np.array([-100], dtype=np.int8) + (-128)
    assert r.dtype == np.int8 and r.tolist() == [28]
    assert (np.array([1], dtype=np.int8) + (-129)).dtype == np.int16


def test_scalars_32768_to_65535_and_minus_32768_become_int16_and_wrap(np):
    i8 = np.array([1], dtype=np.int8)
    assert (i8 + 40000).dtype == np.int16 and (i8 + 40000).tolist() == [-25535]
    assert (i8 + 65535).tolist() == [0]
    assert (i8 + (-32768)).dtype == np.int16 and (i8 + (-32768)).tolist() == [-32767]
    i16 = np.array([300], dtype=np.int16)
    assert (i16 + 40000).dtype == np.int16 and (i16 + 40000).tolist() == [-25236]
    assert (i8 + 65536).dtype == np.float and (i8 + (-32769)).dtype == np.float
    u8 = np.array([1], dtype=np.uint8)
    assert (u8 + 40000).dtype == np.uint16 and (u8 + 40000).tolist() == [40001]


def test_python_bool_scalar_is_a_uint8(np):
    assert (np.array([1, 2], dtype=np.int8) * True).dtype == np.int16


def test_int_true_division_truncates_before_float(np):
    a = np.array([7, -7], dtype=np.int8)
    assert (a / 2).dtype == np.float and (a / 2).tolist() == [3.0, -3.0]
    assert (a / np.array([2, 2], dtype=np.int16)).tolist() == [3.0, -3.0]
    assert (2 / np.array([7, -7, 5], dtype=np.int8)).tolist() == [0.0, 0.0, 0.0]
    assert (a / 2.0).tolist() == [3.5, -3.5]
    with pytest.raises(NotImplementedError):  # ulab 6.12 crashes the interpreter (SIGFPE)
        a / np.array([1, 0], dtype=np.int8)


def test_comparisons_return_uint8_bool_arrays_of_exact_values(np):
    a = np.array([3, 4], dtype=np.int8)
    r = a > 3
    assert r.dtype == np.uint8 and r.tolist() == [False, True] and repr(r).endswith("dtype=bool)")
    # exact, whatever the dtypes: int8 -128 is below uint16 0
    i8 = np.array([-128, 127], dtype=np.int8)
    assert (i8 > np.array([0, 65535], dtype=np.uint16)).tolist() == [False, False]
    assert (a == a) is True  # MicroPython compares identity first


def test_int16_against_float_reads_int16_as_uint16_in_6_12(np):
    i16 = np.array([-32768, -7, 0], dtype=np.int16)
    f = np.array([-2.5, -7.0, 0.0])
    assert (i16 > f).tolist() == [True, True, False]
    assert (f < i16).tolist() == [True, True, False]
    assert (f > i16).tolist() == [True, False, False]  # float on the left is right
    assert (i16 - f).tolist() == [32770.5, 65536.0, 0.0]
    assert (f - i16).tolist() == [32765.5, 0.0, 0.0]
    assert (i16 + f).tolist() == [-32770.5, -14.0, 0.0]


def test_scalar_on_the_left_of_a_comparison_raises(np):
    a = np.array([1, 2], dtype=np.int8)
    with pytest.raises(TypeError):
        assert 2 < a
    with pytest.raises(TypeError):
        assert 2.5 >= a


def test_sum_along_an_axis_keeps_the_integer_dtype_and_wraps(np):
    m = np.array([[100, 100], [100, 100]], dtype=np.int8)
    r = np.sum(m, axis=0)
    assert r.dtype == np.int8 and r.tolist() == [-56, -56]
    u = np.sum(np.array([[1, 200, 3], [100, 100, 255]], dtype=np.uint8), axis=0)
    assert u.dtype == np.uint8 and u.tolist() == [101, 44, 2]


def test_whole_array_sum_goes_through_the_float_mean(np):
    s = np.sum(np.array([100, 100, -56], dtype=np.int8))
    assert type(s) is int and s == 144
    big = np.sum(np.array([32767] * 600 + [1], dtype=np.int16))
    assert big == (19660200 if np.float == 102 else 19660201)
    assert type(np.sum(np.array([1.5, 2.0]))) is float


def test_argmax_along_an_axis_is_int16(np):
    r = np.argmax(np.array([[1, 5], [7, 2]]), axis=0)
    assert r.dtype == np.int16 and r.tolist() == [1, 0]
    assert np.argmax(np.array([3, 9, 9, 1], dtype=np.int8)) == 1


def test_float_to_int_rounds_to_nearest_then_wraps(np):
    f = np.array([1.7, -1.7, 0.5, 2.5, -0.5, -2.5, 300.0])
    assert np.array(f, dtype=np.int8).tolist() == [2, -2, 1, 3, -1, -3, 44]
    assert np.array(f, dtype=np.uint8).tolist() == [2, 254, 1, 3, 255, 253, 44]
    a = np.zeros(4, dtype=np.int8)
    a[1:3] = np.array([1.7, -1.7])
    a[0] = -2.5
    a[3] = 300
    assert a.tolist() == [-3, 2, -2, 44]
    with pytest.raises(TypeError):  # a float in a list for an integer dtype
        np.array([1.7, 2.0], dtype=np.int8)
    assert np.array([1, 200, 70000], dtype=np.int16).tolist() == [1, 200, 4464]
    with pytest.raises(NotImplementedError):  # outside int32: undefined in C
        np.array(np.array([1e10]), dtype=np.int16)


def test_in_place_operators_keep_the_dtype(np):
    a = np.array([1, 2, 3], dtype=np.int8)
    a += 1000
    assert a.dtype == np.int8 and a.tolist() == [-23, -22, -21]
    with pytest.raises(TypeError):
        a *= 2.5


def test_clip_on_int8_gives_int16(np):
    r = np.clip(np.array([-128, 7, 127], dtype=np.int8), -1, 100)
    assert r.dtype == np.int16 and r.tolist() == [-1, 7, 100]
    assert np.clip(np.array([0, 200], dtype=np.uint8), 0, 100).dtype == np.uint8
    assert np.clip(np.array([0, 40000], dtype=np.uint16), -1, 100).dtype == np.int16
    assert np.clip(np.array([-5.0, 300.0]), -1, 200).tolist() == [-1.0, 200.0]
    assert np.clip(5, 0, 3) == 3


def test_maximum_minimum_where_tables(np):
    i8 = np.array([-128, 7], dtype=np.int8)
    u16 = np.array([0, 40000], dtype=np.uint16)
    assert np.maximum(i8, u16).dtype == np.int16
    assert np.minimum(u16, i8).dtype == np.uint16 and np.minimum(u16, i8).tolist() == [65408, 7]
    cond = np.array([1, 0], dtype=np.int8) > 0
    assert np.where(cond, i8, 0).dtype == np.int16       # 0 is uint8: int8 with uint8
    assert np.where(cond, i8, -1).dtype == np.int8
    assert np.where(cond, i8, u16).dtype == np.uint16    # where keeps the older table
    assert np.where(cond, 1, 0).dtype == np.uint8
    assert np.where(cond, u16, -1).tolist() == [0, 65535]


def test_tobytes_is_a_view(np):
    a = np.array([1, 2, 3, 4], dtype=np.int8)
    t = a.tobytes()
    assert type(t) is bytearray
    t[0] = 9
    assert a[0] == 9
    a[1] = -1
    assert t[1] == 255
    with pytest.raises(ValueError):  # ulab: dense arrays only
        a[::2].tobytes()
    with pytest.raises(NotImplementedError):  # ulab gives a view into the middle of a buffer
        a[1:3].tobytes()


def test_slices_reshape_transpose_are_views(np):
    a = np.array([1, 2, 3, 4], dtype=np.int8)
    a[1:3][0] = 9
    a.reshape((2, 2))[1, 1] = 8
    assert a.tolist() == [1, 9, 3, 8]
    m = a.reshape((2, 2))
    m.T[0, 1] = 7
    assert a.tolist() == [1, 9, 7, 8]
    c = np.array(a, dtype=np.int8)
    c[0] = 5
    assert a[0] == 1


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


def test_signed_sort_is_wrong_as_in_6_12(np):
    assert np.sort(np.array([3, -1, 2], dtype=np.int8)).tolist() == [2, 3, -1]
    assert np.sort(np.array([-32768, -7, 0, 300], dtype=np.int16)).tolist() == [0, 300, -32768, -7]
    assert np.sort(np.array([3.0, -1.0, 2.5])).tolist() == [-1.0, 2.5, 3.0]
    assert np.sort(np.array([[3, 1], [2, 5]], dtype=np.int8)).tolist() == [1, 2, 3, 5]  # flattens
    m = np.array([[3, 1], [2, 5]], dtype=np.int8)
    m.sort()
    assert m.tolist() == [[1, 3], [2, 5]]


def test_argsort_needs_an_axis_and_keeps_the_heap_sorts_tie_order(np):
    with pytest.raises(NotImplementedError):
        np.argsort(np.array([3, 1, 2]))
    r = np.argsort(np.array([2, 1, 2, 1, 2, 1, 0, 2]), axis=0)
    assert r.dtype == np.uint16 and r.tolist() == [6, 5, 1, 3, 2, 4, 7, 0]
    assert np.argsort(np.array([3, -1, 2], dtype=np.int8), axis=0).tolist() == [2, 0, 1]


def test_concatenate_of_mixed_dtypes_raises(np):
    i8 = np.array([1], dtype=np.int8)
    with pytest.raises(ValueError):
        np.concatenate((i8, np.array([1], dtype=np.uint8)))
    with pytest.raises(TypeError):  # a list, not a tuple
        np.concatenate([i8, i8])
    assert np.concatenate((i8, i8)).tolist() == [1, 1]


def test_fft_returns_one_complex_array(np):
    r = np.fft.fft(np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))
    assert r.dtype == 99 and r.tolist() == [2, 0, 2, 0, 2, 0, 2, 0]
    assert isinstance(r[0], complex)
    with pytest.raises(ValueError):
        np.fft.fft(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError):  # a complex build takes one argument
        np.fft.fft(np.array([1.0, 0.0]), np.array([0.0, 1.0]))


def test_unmodelled_parts_raise_not_implemented(np):
    a = np.array([7, -7], dtype=np.int8)
    for bad in (lambda: a // 2, lambda: a % 2, lambda: a ** 2, lambda: np.exp(a),
                lambda: np.linspace(0, 1, 5), lambda: abs(np.array([1], dtype=np.uint8))):
        with pytest.raises(NotImplementedError):
            bad()


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
        assert np.dot(np.array([2 ** 24, 1, 1]), np.ones(3)) == 2 ** 24  # each +1 rounded away
    with ulab_env.use_standin(64) as np:
        assert np.array([big]).tolist() == [float(big)]
        assert np.dot(np.array([2 ** 24, 1, 1]), np.ones(3)) == 2 ** 24 + 2


@given(st.lists(st.tuples(st.integers(-128, 127), st.integers(-128, 127)), min_size=1, max_size=20))
def test_int8_arithmetic_wraps_like_c(pairs):
    with ulab_env.use_standin(32) as np:
        a = np.array([x for x, _ in pairs], dtype=np.int8)
        b = np.array([y for _, y in pairs], dtype=np.int8)
        assert (a + b).tolist() == [((x + y + 128) % 256) - 128 for x, y in pairs]
        assert (a * b).tolist() == [((x * y + 128) % 256) - 128 for x, y in pairs]
