"""Stand-in for ulab.numpy (ulab 6.12), built on numpy, for running firmware under CPython.

ulab is compiled into MicroPython firmware and cannot be installed from PyPI. This module
follows ulab 6.12's documented behaviour (its manual and ndarray.c / ndarray_operators.c) for
the part of the API tinyenroll uses, so the firmware's ulab backend can be checked on a host.
It is not ulab and not meant for anything else. The rules it keeps:

- dtypes int8, uint8, int16, uint16, float and bool only: no int32, no astype; at most 2-D.
- Arithmetic between arrays of one integer dtype wraps silently (int8 100 + 100 = -56).
- Mixed integer dtypes: uint8+int8 -> int16, uint8+int16 -> int16, uint8+uint16 -> uint16,
  int8+int16 -> int16, int8+uint16 -> uint16, uint16+int16 -> float; float wins over all.
- A Python int operand becomes a one-element array of the smallest dtype that holds it:
  negative: int8 above -128, else int16; non-negative: int8/int16 when the array is signed
  (below 128 -> int8), uint8/uint16 otherwise (below 256 -> uint8); beyond +-32767: float.
  A Python float is float. Then the mixed rules apply (int8 array + 1000 is int16).
- True division always gives float. Comparisons give bool arrays.
- dot() accumulates in float, one product at a time, and returns float: a Python float for
  two vectors, a float array otherwise.
- sum/mean/std go through a float running mean (ulab numerical.c); whole-array sum of an
  integer array is round(M * len) as a Python int, of a float array M * len; min/max keep the dtype.
- float is C double on the unix port and single precision on ESP32/RP2040 boards:
  set_float_bits(32) (a stand-in extra, not ulab API) makes every float result float32.
- Casting float to an integer dtype (array(x, dtype=int8)) truncates toward zero and wraps,
  as C's conversion does on the boards for in-range values (out of range is undefined in C;
  here it wraps).
- frombuffer() shares memory with the buffer; tobytes() returns a bytearray (ulab gives a view;
  here it is a copy, which only matters if the caller writes through it).
"""
import builtins
import math

import numpy as _np

int8, uint8, int16, uint16, float, bool = "int8", "uint8", "int16", "uint16", "float", "bool"
_INT = (int8, uint8, int16, uint16)
_SIGNED = (int8, int16)
_FLOAT_BITS = [64]


def set_float_bits(bits):
    """Choose the board's float: 32 (ESP32, RP2040) or 64 (unix port). Stand-in only."""
    if bits not in (32, 64):
        raise ValueError("float bits must be 32 or 64")
    _FLOAT_BITS[0] = bits


def _np_float():
    return _np.float32 if _FLOAT_BITS[0] == 32 else _np.float64


def _np_dtype(dtype):
    if dtype == float:
        return _np_float()
    if dtype == bool:
        return _np.uint8
    if dtype in _INT:
        return _np.dtype(dtype).type
    raise TypeError("wrong dtype %r (ulab has int8, uint8, int16, uint16, float, bool)" % (dtype,))


_MIXED = {
    frozenset((uint8, int8)): int16,
    frozenset((uint8, int16)): int16,
    frozenset((uint8, uint16)): uint16,
    frozenset((int8, int16)): int16,
    frozenset((int8, uint16)): uint16,
    frozenset((uint16, int16)): float,
}


def result_dtype(a, b):
    """The dtype ulab gives a + b, a - b or a * b for array dtypes a and b."""
    a = uint8 if a == bool else a
    b = uint8 if b == bool else b
    if a == b:
        return a
    if float in (a, b):
        return float
    return _MIXED[frozenset((a, b))]


def _scalar_dtype(value, other):
    if isinstance(value, builtins.float):
        return float
    if value < -32767 or value > 32767:
        return float
    if value < 0:
        return int8 if value > -128 else int16
    if other in _SIGNED:
        return int8 if value < 128 else int16
    return uint8 if value < 256 else uint16


class ndarray:
    def __init__(self, data, dtype):
        if data.ndim > 2:
            raise ValueError("maximum number of dimensions is 2")
        self._a = data
        self._dtype = dtype

    # -- basic attributes --------------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return tuple(self._a.shape)

    @property
    def size(self):
        return int(self._a.size)

    @property
    def itemsize(self):
        return int(self._a.itemsize)

    @property
    def ndim(self):
        return self._a.ndim

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        return "array(%s, dtype=%s)" % (self._a.tolist(), self._dtype)

    def tolist(self):
        return [_py(v, self._dtype) for v in self._a.ravel()] if self.ndim == 1 else \
            [row.tolist() for row in self]

    def tobytes(self):
        return bytearray(self._a.tobytes())

    def reshape(self, shape):
        if not isinstance(shape, tuple):
            raise TypeError("shape must be a tuple")
        return ndarray(self._a.reshape(shape), self._dtype)

    def flatten(self):
        return ndarray(self._a.flatten(), self._dtype)

    def transpose(self):
        return ndarray(self._a.T, self._dtype)

    @property
    def T(self):
        return self.transpose()

    def copy(self):
        return ndarray(self._a.copy(), self._dtype)

    # -- indexing ------------------------------------------------------------------------------
    def __getitem__(self, index):
        index = index._a.astype(builtins.bool) if isinstance(index, ndarray) else index
        v = self._a[index]
        if isinstance(v, _np.ndarray):
            return ndarray(v, self._dtype)
        return _py(v, self._dtype)

    def __setitem__(self, index, value):
        index = index._a.astype(builtins.bool) if isinstance(index, ndarray) else index
        if isinstance(value, ndarray):
            value = _cast(value._a, value._dtype, self._dtype)
        elif isinstance(value, (list, tuple)):
            value = _cast(_np.array(value, dtype=_np.float64), float, self._dtype)
        else:
            value = _cast(_np.array([value], dtype=_np.float64), float, self._dtype)[0]
        self._a[index] = value

    # -- arithmetic ------------------------------------------------------------------------------
    def _binary(self, other, op, reverse=False):
        if isinstance(other, ndarray):
            rhs = other
        elif isinstance(other, (int, builtins.float)) and not isinstance(other, builtins.bool):
            rhs = array([other], dtype=_scalar_dtype(other, self._dtype if not reverse else 0))
        else:
            return NotImplemented
        lhs = self
        if reverse:
            lhs, rhs = rhs, lhs
        if op == "truediv":
            dtype = float
        elif op == "cmp":
            dtype = float if float in (lhs._dtype, rhs._dtype) else None
        else:
            dtype = result_dtype(lhs._dtype, rhs._dtype)
        return lhs, rhs, dtype

    def _arith(self, other, fn, reverse=False):
        got = self._binary(other, "arith", reverse)
        if got is NotImplemented:
            return got
        lhs, rhs, dtype = got
        if dtype == float:
            f = _np_float()
            out = fn(lhs._a.astype(f), rhs._a.astype(f)).astype(f)
        else:
            wide = fn(lhs._a.astype(_np.int64), rhs._a.astype(_np.int64))
            out = wide.astype(_np_dtype(dtype))  # wraps like C
        return ndarray(out, dtype)

    def __add__(self, o):
        return self._arith(o, _np.add)

    def __radd__(self, o):
        return self._arith(o, _np.add, True)

    def __sub__(self, o):
        return self._arith(o, _np.subtract)

    def __rsub__(self, o):
        return self._arith(o, _np.subtract, True)

    def __mul__(self, o):
        return self._arith(o, _np.multiply)

    def __rmul__(self, o):
        return self._arith(o, _np.multiply, True)

    def _divide(self, o, reverse=False):
        got = self._binary(o, "truediv", reverse)
        if got is NotImplemented:
            return got
        lhs, rhs, _ = got
        f = _np_float()
        with _np.errstate(divide="ignore", invalid="ignore"):
            return ndarray((lhs._a.astype(f) / rhs._a.astype(f)).astype(f), float)

    def __truediv__(self, o):
        return self._divide(o)

    def __rtruediv__(self, o):
        return self._divide(o, True)

    def _compare(self, o, fn):
        got = self._binary(o, "cmp")
        if got is NotImplemented:
            return got
        lhs, rhs, _ = got
        return ndarray(fn(lhs._a.astype(_np.float64), rhs._a.astype(_np.float64)).astype(_np.uint8), bool)

    def __lt__(self, o):
        return self._compare(o, _np.less)

    def __le__(self, o):
        return self._compare(o, _np.less_equal)

    def __gt__(self, o):
        return self._compare(o, _np.greater)

    def __ge__(self, o):
        return self._compare(o, _np.greater_equal)

    def __eq__(self, o):
        return self._compare(o, _np.equal)

    def __ne__(self, o):
        return self._compare(o, _np.not_equal)

    def __neg__(self):
        return ndarray((-self._a).astype(self._a.dtype), self._dtype)

    def __abs__(self):
        return ndarray(_np.abs(self._a).astype(self._a.dtype), self._dtype)

    __hash__ = None


def _py(v, dtype):
    if dtype == float:
        return builtins.float(v)
    if dtype == bool:
        return builtins.bool(v)
    return int(v)


def _cast(values, src, dst):
    """Convert numpy values of ulab dtype src to ulab dtype dst, as ulab's C casts do."""
    if dst == float:
        return values.astype(_np_float())
    if src == float:
        values = _np.trunc(values.astype(_np.float64))
        values = _np.nan_to_num(values).astype(_np.int64)
    else:
        values = values.astype(_np.int64)
    if dst == bool:
        return (values != 0).astype(_np.uint8)
    return values.astype(_np_dtype(dst))


def _flatten(obj):
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, (list, tuple)):
        return _np.array([_flatten(o) if isinstance(o, (list, tuple, ndarray)) else o for o in obj],
                         dtype=_np.float64)
    if isinstance(obj, range):
        return _np.array(list(obj), dtype=_np.float64)
    raise TypeError("object is not iterable")


def array(obj, dtype=float):
    """A new array from an iterable or an ndarray, converted to dtype (default float)."""
    _np_dtype(dtype)
    if isinstance(obj, ndarray):
        return ndarray(_cast(obj._a, obj._dtype, dtype), dtype)
    values = _flatten(obj)
    src = float if values.dtype.kind == "f" else int8
    return ndarray(_cast(values, src, dtype), dtype)


def zeros(shape, dtype=float):
    return ndarray(_np.zeros(shape, dtype=_np_dtype(dtype)), dtype)


def ones(shape, dtype=float):
    return ndarray(_np.ones(shape, dtype=_np_dtype(dtype)), dtype)


def full(shape, value, dtype=float):
    return ndarray(_cast(_np.full(shape, value, dtype=_np.float64), float, dtype), dtype)


def empty(shape, dtype=float):
    return zeros(shape, dtype)


def arange(*args, dtype=None):
    values = _np.arange(*args)
    if dtype is None:
        dtype = float if values.dtype.kind == "f" else int16
    return ndarray(_cast(values.astype(_np.float64), float, dtype), dtype)


def linspace(start, stop, num=50, endpoint=True, dtype=float):
    return ndarray(_cast(_np.linspace(start, stop, num, endpoint=endpoint), float, dtype), dtype)


def frombuffer(buffer, dtype=float, count=-1, offset=0):
    """An array over the buffer's memory (no copy), as ulab does."""
    return ndarray(_np.frombuffer(buffer, dtype=_np_dtype(dtype), count=count, offset=offset), dtype)


def concatenate(arrays, axis=0):
    dtype = arrays[0].dtype
    for a in arrays:
        if a.dtype != dtype:
            raise TypeError("arrays must be of the same dtype")
    return ndarray(_np.concatenate([a._a for a in arrays], axis=axis), dtype)


def _floats(a):
    return a._a.astype(_np_float())


def dot(m1, m2):
    """Matrix/vector product accumulated in float, one product at a time; float result."""
    f = _np_float()
    a = _floats(m1)
    b = _floats(m2)
    if a.ndim == 1 and b.ndim == 1:
        if len(a) != len(b):
            raise ValueError("dimensions do not match")
        return builtins.float(_np.cumsum((a * b).astype(f), dtype=f)[-1]) if len(a) else 0.0
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[1] != b2.shape[0]:
        raise ValueError("dimensions do not match")
    prods = (a2[:, :, None] * b2[None, :, :]).astype(f)
    out = _np.cumsum(prods, axis=1, dtype=f)[:, -1, :]
    if b.ndim == 1:
        out = out[:, 0]
    if a.ndim == 1:
        out = out[0]
    return ndarray(_np.ascontiguousarray(out), float)


def _reduce(a, axis, fn):
    f = _np_float()
    v = fn(_floats(a), axis=axis)
    if axis is None:
        return builtins.float(f(v))
    return ndarray(_np.asarray(v).astype(f), float)


def sum(a, axis=None):
    """Whole-array sum as ulab 6.12 numerical.c does it: a running mean M in float, then
    M * len (a float for float arrays, round()-ed to a Python int for integer arrays)."""
    if axis is None:
        f = _np_float()
        m = f(0)
        for i, x in enumerate(_floats(a).ravel()):
            m = f(m + f(f(x - m) / f(i + 1)))
        total = f(m * f(a.size))
        return builtins.float(total) if a.dtype == float else int(round(builtins.float(total)))
    return _reduce(a, axis, lambda x, axis: _np.sum(x, axis=axis, dtype=x.dtype))


def mean(a, axis=None):
    return _reduce(a, axis, lambda x, axis: _np.mean(x, axis=axis, dtype=x.dtype))


def std(a, axis=None, ddof=0):
    return _reduce(a, axis, lambda x, axis: _np.std(x, axis=axis, ddof=ddof, dtype=x.dtype))


def _keep(a, axis, fn):
    v = fn(a._a, axis=axis)
    if axis is None:
        return _py(v, a.dtype)
    return ndarray(_np.asarray(v), a.dtype)


def max(a, axis=None):
    return _keep(a, axis, _np.max)


def min(a, axis=None):
    return _keep(a, axis, _np.min)


def argmax(a, axis=None):
    v = _np.argmax(a._a, axis=axis)
    return int(v) if axis is None else ndarray(v.astype(_np.uint16), uint16)


def argmin(a, axis=None):
    v = _np.argmin(a._a, axis=axis)
    return int(v) if axis is None else ndarray(v.astype(_np.uint16), uint16)


def argsort(a, axis=-1):
    return ndarray(_np.argsort(a._a, axis=axis, kind="stable").astype(_np.uint16), uint16)


def sort(a, axis=-1):
    return ndarray(_np.sort(a._a, axis=axis, kind="stable"), a.dtype)


def _ufunc(fn):
    def apply(a):
        if isinstance(a, ndarray):
            return ndarray(fn(_floats(a)).astype(_np_float()), float)
        return builtins.float(_np_float()(fn(_np_float()(a))))
    apply.__name__ = fn.__name__
    return apply


floor = _ufunc(_np.floor)
ceil = _ufunc(_np.ceil)
sqrt = _ufunc(_np.sqrt)
exp = _ufunc(_np.exp)
log = _ufunc(_np.log)
sin = _ufunc(_np.sin)
cos = _ufunc(_np.cos)


def _as_array(x, other_dtype):
    if isinstance(x, ndarray):
        return x
    return array([x], dtype=_scalar_dtype(x, other_dtype))


def _pairwise(fn, a, b):
    a = _as_array(a, b.dtype if isinstance(b, ndarray) else 0)
    b = _as_array(b, a.dtype)
    dtype = result_dtype(a.dtype, b.dtype)
    return ndarray(fn(_cast(a._a, a.dtype, dtype), _cast(b._a, b.dtype, dtype)), dtype)


def maximum(a, b):
    return _pairwise(_np.maximum, a, b)


def minimum(a, b):
    return _pairwise(_np.minimum, a, b)


def clip(a, a_min, a_max):
    """minimum(maximum(a, a_min), a_max), with ulab's dtype rules for the scalars."""
    return minimum(maximum(a, a_min), a_max)


def where(condition, x, y):
    x = _as_array(x, 0)
    y = _as_array(y, x.dtype)
    dtype = result_dtype(x.dtype, y.dtype)
    return ndarray(_np.where(condition._a.astype(builtins.bool), _cast(x._a, x.dtype, dtype),
                             _cast(y._a, y.dtype, dtype)), dtype)


def absolute(a):
    return abs(a)


def diff(a, n=1, axis=-1):
    dtype = a.dtype
    wide = _np.diff(a._a.astype(_np.int64 if dtype != float else _np_float()), n=n, axis=axis)
    return ndarray(wide.astype(_np_dtype(dtype)), dtype)


class _FFT:
    """numpy.fft as in a ulab 6 build without complex support: fft(x) of a real float
    array whose length is a power of 2 returns (real, imag), two float arrays."""

    @staticmethod
    def fft(re, im=None):
        n = len(re)
        if n == 0 or n & (n - 1):
            raise ValueError("input array length must be power of 2")
        x = _floats(re).astype(_np.complex64 if _FLOAT_BITS[0] == 32 else _np.complex128)
        if im is not None:
            x = x + 1j * _floats(im)
        y = _np.fft.fft(x)
        return (ndarray(y.real.astype(_np_float()), float),
                ndarray(y.imag.astype(_np_float()), float))


fft = _FFT()
