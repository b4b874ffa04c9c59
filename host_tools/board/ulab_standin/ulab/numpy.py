"""Stand-in for ulab.numpy (ulab 6.12, 2-D build with complex support), for running firmware
under CPython where no ulab build exists.

ulab is compiled into MicroPython firmware and cannot be installed from PyPI. This module follows
what the real ulab 6.12 unix builds do (micropython-ulab-single / -double: every rule below is
checked expression by expression by tests/test_ulab_standin_differential.py against answers
recorded from them, and against the builds themselves where they are present), for the part of
the API it models. Anything else raises NotImplementedError instead of computing a numpy-like
answer. The rules it keeps:

- dtypes are ulab's codes: int8 98, uint8 66, int16 104, uint16 72, float 102 (float32 build)
  or 100 (float64 build), bool 63. A bool array is a uint8 array flagged boolean (.dtype is 66).
  No int32, no astype; at most 2 dimensions (3-D: TypeError from zeros, ValueError from
  reshape / nested lists).
- Integer results wrap silently (int8 100 + 100 = -56).
- A Python int operand becomes a one-element array: outside -32768..65535 a float; negative:
  int8 from -128 up, else int16; non-negative: for a signed array on the other side int8 below
  128, else int16; for an unsigned array, or when the scalar is on the left, uint8 below 256,
  else uint16. The value wraps into that dtype (int8 array + 40000 is int16 and wraps;
  int8 + (-128) stays int8). True/False are a boolean uint8. A Python float is float.
- + and *: same dtypes keep it; int8 with uint8, int16 or uint16 gives int16; uint8 with int16
  int16, with uint16 uint16; uint16 with int16 float; float wins; bool counts as uint8.
  - is the same except uint16 - int8, which stays uint16.
- / always gives float, but between two integer operands it divides the integers first,
  truncating toward zero ([7, -7] / 2 is [3.0, -3.0]). Integer division by zero crashes ulab
  6.12 (SIGFPE): here it raises NotImplementedError. //, %, ** are not modelled.
- Comparisons compare the exact values and give boolean uint8 arrays. `x == x` for the very same
  array object is True (MicroPython compares identity first).
- maximum/minimum/clip compute in a dtype from ulab's compare table (like -, but int8 on the
  left of uint16 gives int16); clip(a, lo, hi) is maximum(lo, minimum(a, hi)), so clip on int8
  with int bounds gives int16. where() uses the older table (int8 with uint16 gives uint16).
  Scalars in all three are sized as if on the left.
- float -> integer conversion (array(), item and slice assignment) rounds half away from zero,
  then wraps. A float that does not fit int32 is undefined in C: NotImplementedError. array()
  of a list holding a float with an integer dtype raises TypeError, as ulab does.
- dot() accumulates in float, one product at a time, and returns float: a Python float for two
  vectors, a float array otherwise.
- sum/mean/std without axis go through a float running mean (ulab numerical.c): sum is M * len,
  an int for integer arrays. With an axis, sum of an integer array keeps the dtype and wraps;
  mean/std are float. max/min keep the dtype, argmax/argmin give int16 along an axis.
- sort uses ulab 6.12's heap sort, which compares int8 as uint8 and int16 as uint16 (a bug:
  [3, -1, 2] sorts to [2, 3, -1]). np.sort flattens unless an axis is given; ndarray.sort() sorts
  the last axis in place. argsort needs an axis (NotImplementedError otherwise, as in ulab) and
  reproduces the heap sort's order of ties.
- Slices, reshape and transpose are views. tobytes() returns a bytearray sharing the array's
  memory (a view): here only for an array that owns its whole buffer; a dense view into part
  of a buffer raises NotImplementedError (CPython cannot make such a bytearray); a non-dense
  array raises ValueError, as in ulab. frombuffer() shares the buffer's memory.
- concatenate wants a tuple of arrays of one dtype (mixed: ValueError).
- fft.fft(x) of a float or integer array of power-of-2 length returns one complex array,
  computed as ulab's kernel does (Numerical Recipes four1, in the board's float).
- float is C double on the unix port and single precision on ESP32/RP2040 boards:
  set_float_bits(32) (a stand-in extra, not ulab API) makes every float result float32.
"""
import builtins
import dis
import math
import sys

import numpy as _np

int8, uint8, int16, uint16, bool = 98, 66, 104, 72, 63
float = 100
_FLOAT_BITS = [64]
_NP = {"b": _np.int8, "B": _np.uint8, "h": _np.int16, "H": _np.uint16}
_LIMITS = {"b": (-128, 256), "B": (0, 256), "h": (-32768, 65536), "H": (0, 65536)}
_CODE = {"b": int8, "B": uint8, "h": int16, "H": uint16}
_SIGNED = ("b", "h")


def _nyi(what):
    return NotImplementedError("ulab stand-in does not model " + what)


def set_float_bits(bits):
    """Choose the board's float: 32 (ESP32, RP2040) or 64 (unix port). Stand-in only."""
    if bits not in (32, 64):
        raise ValueError("float bits must be 32 or 64")
    global float
    _FLOAT_BITS[0] = bits
    float = 102 if bits == 32 else 100


def _npf():
    return _np.float32 if _FLOAT_BITS[0] == 32 else _np.float64


def _np_type(kind):
    return _npf() if kind == "f" else _NP[kind]


def _kind_of(dtype):
    """(kind, boolean) for a dtype argument."""
    if dtype in (100, 102):
        return "f", False
    if dtype == bool:
        return "B", True
    for k, code in _CODE.items():
        if dtype == code and type(dtype) is int:
            return k, False
    raise TypeError("wrong dtype %r (ulab has int8, uint8, int16, uint16, float, bool)" % (dtype,))


def _wrap(values, kind):
    """Exact integers (numpy int64 or Python ints) wrapped into an integer kind, as C stores them."""
    lo, span = _LIMITS[kind]
    return ((_np.asarray(values, dtype=_np.int64) - lo) % span + lo).astype(_NP[kind])


def _round_to_int(values):
    """C round() (half away from zero) of floats, as int64; outside int32 is undefined in C."""
    v = _np.asarray(values, dtype=_np.float64)
    if not _np.all(_np.isfinite(v)) or _np.any(_np.abs(v) >= 2 ** 31 - 0.5):
        raise _nyi("float to integer conversion outside int32 (undefined in C)")
    t = _np.trunc(v)
    return (t + _np.sign(v) * (_np.abs(v - t) >= 0.5)).astype(_np.int64)


def _new_buffer(shape, kind):
    n = 1
    for s in shape:
        n *= s
    buf = bytearray(n * _np.dtype(_np_type(kind)).itemsize)
    return buf, _np.frombuffer(buf, dtype=_np_type(kind)).reshape(shape)


def _fresh(values, kind, boolean=False):
    """A new array owning a new bytearray, holding numpy values already of the right type."""
    values = _np.asarray(values)
    buf, a = _new_buffer(values.shape, kind)
    a[...] = values
    return ndarray(a, kind, buf, boolean)


def _convert(a, src, dst):
    """numpy values of ulab kind src as ulab kind dst, as ulab's C conversions do."""
    if dst == "f":
        return a.astype(_npf())
    if src == "f":
        return _wrap(_round_to_int(a), dst)
    return _wrap(a.astype(_np.int64), dst)


class ndarray:
    def __init__(self, a, kind, buf, boolean=False):
        if a.ndim > 2:
            raise ValueError("maximum number of dimensions is 2")
        self._a = a
        self._kind = kind
        self._buf = buf
        self._bool = boolean

    # -- attributes ----------------------------------------------------------------------------
    @property
    def dtype(self):
        return float if self._kind == "f" else _CODE[self._kind]

    @property
    def shape(self):
        return tuple(int(s) for s in self._a.shape)

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
        return int(self._a.shape[0])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def _item(self, v):
        if self._kind == "f":
            return builtins.float(v)
        if self._bool:
            return builtins.bool(v)
        return int(v)

    def __repr__(self):
        name = "bool" if self._bool else {"b": "int8", "B": "uint8", "h": "int16", "H": "uint16",
                                          "f": "float%d" % _FLOAT_BITS[0]}[self._kind]
        return "array(%s, dtype=%s)" % (self.tolist(), name)

    def tolist(self):
        if self.ndim == 1:
            return [self._item(v) for v in self._a]
        return [row.tolist() for row in self]

    def _dense(self):
        return self._a.flags.c_contiguous

    def _owns_whole_buffer(self):
        if not isinstance(self._buf, bytearray) or self._a.nbytes != len(self._buf):
            return False
        if not len(self._buf):
            return True
        start = _np.frombuffer(self._buf, dtype=_np.uint8).__array_interface__["data"][0]
        return self._a.__array_interface__["data"][0] == start

    def tobytes(self):
        """The array's memory as a bytearray (a view, as in ulab: writing to it writes the array)."""
        if not self._dense():
            raise ValueError("tobytes can be invoked for dense arrays only")
        if not self._owns_whole_buffer():
            raise _nyi("tobytes() of a view into part of a buffer (ulab returns a view there)")
        return self._buf

    def reshape(self, shape):
        if not isinstance(shape, tuple):
            raise TypeError("shape must be a tuple")
        if len(shape) > 2:
            raise ValueError("maximum number of dimensions is 2")
        if not self._dense():
            raise _nyi("reshape of a non-dense array")
        return ndarray(self._a.reshape(shape), self._kind, self._buf, self._bool)

    def flatten(self):
        return _fresh(self._a.flatten(), self._kind, self._bool)

    def transpose(self):
        return ndarray(self._a.T, self._kind, self._buf, self._bool)

    @property
    def T(self):
        return self.transpose()

    def copy(self):
        return _fresh(self._a.copy(), self._kind, self._bool)

    def sort(self, axis=-1):
        """In place along an axis (default the last), with ulab 6.12's comparisons."""
        if axis is None:
            raise _nyi("ndarray.sort(axis=None)")
        self._a[...] = _sorted(self, axis)._a

    # -- indexing ------------------------------------------------------------------------------
    def _index(self, index):
        if isinstance(index, ndarray):
            if not index._bool:
                raise _nyi("indexing with an integer array")
            return index._a.astype(builtins.bool)
        parts = index if isinstance(index, tuple) else (index,)
        for p in parts:
            if not isinstance(p, (int, slice)) or isinstance(p, builtins.bool):
                raise _nyi("index %r" % (index,))
        return index

    def __getitem__(self, index):
        idx = self._index(index)
        v = self._a[idx]
        if isinstance(v, _np.ndarray):
            if isinstance(idx, _np.ndarray):
                return _fresh(v, self._kind, self._bool)
            return ndarray(v, self._kind, self._buf, self._bool)
        return self._item(v)

    def __setitem__(self, index, value):
        idx = self._index(index)
        if not self._a.flags.writeable:
            raise _nyi("writing into an array over read-only memory (ulab writes the bytes object)")
        if isinstance(value, ndarray):
            self._a[idx] = _convert(value._a, value._kind, self._kind)
        elif isinstance(value, (list, tuple)):
            self._a[idx] = _np.array([_scalar_into(v, self._kind) for v in value])
        else:
            self._a[idx] = _scalar_into(value, self._kind)

    # -- arithmetic ------------------------------------------------------------------------------
    def _operands(self, other, reverse):
        if isinstance(other, ndarray):
            o = other
        elif isinstance(other, (int, builtins.float)):
            o = _from_scalar(other, None if reverse else self._kind)
        else:
            return None
        return (o, self) if reverse else (self, o)

    def _binary(self, other, op, reverse=False):
        pair = self._operands(other, reverse)
        if pair is None:
            return NotImplemented
        lhs, rhs = pair
        la, ra = _broadcast(lhs, rhs)
        if op == "/":
            if lhs._kind != "f" and rhs._kind != "f":
                num, den = la.astype(_np.int64), ra.astype(_np.int64)
                if _np.any(den == 0):
                    raise _nyi("integer division by zero (ulab 6.12 crashes with SIGFPE)")
                q = _np.abs(num) // _np.abs(den) * _np.sign(num) * _np.sign(den)
                return _fresh(q.astype(_npf()), "f")
            f = _npf()
            with _np.errstate(divide="ignore", invalid="ignore"):
                return _fresh(la.astype(f) / ra.astype(f), "f")
        kind = _TABLE_SUB(lhs._kind, rhs._kind) if op == "-" else _TABLE_ADD(lhs._kind, rhs._kind)
        fn = {"+": _np.add, "-": _np.subtract, "*": _np.multiply}[op]
        if op == "-" and lhs._kind == "h" and rhs._kind == "f":
            la = la.view(_np.uint16)  # ulab 6.12 bug: int16 - float reads the int16 as uint16
        if "f" in (lhs._kind, rhs._kind):
            f = _npf()
            return _fresh(fn(la.astype(f), ra.astype(f)), "f")
        exact = fn(la.astype(_np.int64), ra.astype(_np.int64))  # C int arithmetic, then stored
        if kind == "f":
            return _fresh(exact.astype(_npf()), "f")
        return _fresh(_wrap(exact, kind), kind)

    def __add__(self, o):
        return self._binary(o, "+")

    def __radd__(self, o):
        return self._binary(o, "+", True)

    def __sub__(self, o):
        return self._binary(o, "-")

    def __rsub__(self, o):
        return self._binary(o, "-", True)

    def __mul__(self, o):
        return self._binary(o, "*")

    def __rmul__(self, o):
        return self._binary(o, "*", True)

    def __truediv__(self, o):
        return self._binary(o, "/")

    def __rtruediv__(self, o):
        return self._binary(o, "/", True)

    def _inplace(self, other, op):
        pair = self._operands(other, False)
        if pair is None:
            return NotImplemented
        rhs = pair[1]
        if self._kind != "f" and rhs._kind == "f":
            raise TypeError("cannot cast output with casting rule")
        if rhs._a.shape != self._a.shape and rhs.size != 1:
            raise _nyi("broadcasting in an in-place operator")
        fn = {"+": _np.add, "-": _np.subtract, "*": _np.multiply}[op]
        if self._kind == "f":
            f = _npf()
            self._a[...] = fn(self._a.astype(f), rhs._a.astype(f).reshape(-1)[0] if rhs.size == 1
                              else rhs._a.astype(f))
        else:
            r = rhs._a.astype(_np.int64)
            self._a[...] = _wrap(fn(self._a.astype(_np.int64), r.reshape(-1)[0] if rhs.size == 1 else r),
                                 self._kind)
        return self

    def __iadd__(self, o):
        return self._inplace(o, "+")

    def __isub__(self, o):
        return self._inplace(o, "-")

    def __imul__(self, o):
        return self._inplace(o, "*")

    def __itruediv__(self, o):
        raise _nyi("in-place division")

    def __floordiv__(self, o):
        raise _nyi("// (ulab 6.12 gives inconsistent integer results)")

    __rfloordiv__ = __ifloordiv__ = __floordiv__

    def __mod__(self, o):
        raise _nyi("%")

    __rmod__ = __mod__

    def __pow__(self, o):
        raise _nyi("**")

    __rpow__ = __pow__

    def _compare(self, other, fn):
        pair = self._operands(other, False)
        if pair is None:
            return NotImplemented
        lhs, rhs = pair
        la, ra = _broadcast(lhs, rhs)
        if fn in (_np.greater, _np.greater_equal) and lhs._kind == "h" and rhs._kind == "f":
            la = la.view(_np.uint16)  # ulab 6.12 bug: int16 > float reads the int16 as uint16
        elif fn in (_np.less, _np.less_equal) and rhs._kind == "h" and lhs._kind == "f":
            ra = ra.view(_np.uint16)  # float < int16 is computed as int16 > float: the same bug
        if "f" in (lhs._kind, rhs._kind):
            f = _npf()
            out = fn(la.astype(f), ra.astype(f))
        else:
            out = fn(la.astype(_np.int64), ra.astype(_np.int64))
        return _fresh(out.astype(_np.uint8), "B", True)

    def __lt__(self, o):
        _refuse_reflected(">")
        return self._compare(o, _np.less)

    def __le__(self, o):
        _refuse_reflected(">=")
        return self._compare(o, _np.less_equal)

    def __gt__(self, o):
        _refuse_reflected("<")
        return self._compare(o, _np.greater)

    def __ge__(self, o):
        _refuse_reflected("<=")
        return self._compare(o, _np.greater_equal)

    def __eq__(self, o):
        if o is self:
            return True  # MicroPython compares identity before calling ulab
        return self._compare(o, _np.equal)

    def __ne__(self, o):
        if o is self:
            return False
        return self._compare(o, _np.not_equal)

    def __neg__(self):
        if self._bool:
            raise _nyi("negating a bool array")
        if self._kind == "f":
            return _fresh(-self._a, "f")
        return _fresh(_wrap(-self._a.astype(_np.int64), self._kind), self._kind)

    def __abs__(self):
        if self._bool or self._kind in ("B", "H"):
            raise _nyi("abs() of an unsigned array (ulab 6.12 reads it as float: garbage)")
        if self._kind == "f":
            return _fresh(_np.abs(self._a), "f")
        return _fresh(_wrap(_np.abs(self._a.astype(_np.int64)), self._kind), self._kind)

    def __matmul__(self, o):
        raise TypeError("unsupported types for __matmul__: 'ndarray', 'ndarray'")

    __hash__ = None


_WRITTEN_OP = {}


def _refuse_reflected(mirror):
    """`2.5 < a` raises TypeError in MicroPython (a scalar does not compare with an ndarray and
    MicroPython does not reflect the comparison); CPython calls a.__gt__(2.5) instead. Tell the
    two apart by the operator written at the caller's COMPARE_OP, and refuse as ulab does."""
    frame = sys._getframe(2)
    key = (frame.f_code, frame.f_lasti)
    op = _WRITTEN_OP.get(key, 0)
    if op == 0:
        op = None
        for ins in dis.get_instructions(frame.f_code):
            if ins.offset == frame.f_lasti:
                if ins.opname == "COMPARE_OP":
                    op = str(ins.argval).replace("bool(", "").rstrip(")")
                break
        _WRITTEN_OP[key] = op
    if op == mirror:
        raise TypeError("unsupported types for %s: 'scalar', 'ndarray'" % mirror)


def _add_table():
    t = {}
    for a, b, r in (("b", "B", "h"), ("b", "h", "h"), ("b", "H", "h"), ("B", "h", "h"),
                    ("B", "H", "H"), ("h", "H", "f")):
        t[(a, b)] = t[(b, a)] = r
    return t


_ADD = _add_table()
_SUB = dict(_ADD)
_SUB[("H", "b")] = "H"      # uint16 - int8 stays uint16 (ndarray_operators.c, checked on 6.12)
_COMPARE = dict(_SUB)       # maximum/minimum/clip: the same asymmetric table (compare.c)
_WHERE = dict(_ADD)
_WHERE[("b", "H")] = _WHERE[("H", "b")] = "H"   # where(): the older table, int8 with uint16 is uint16


def _lookup(table, a, b):
    if a == b:
        return a
    if "f" in (a, b):
        return "f"
    return table[(a, b)]


def _TABLE_ADD(a, b):
    return _lookup(_ADD, a, b)


def _TABLE_SUB(a, b):
    return _lookup(_SUB, a, b)


def _from_scalar(value, other):
    """A Python scalar as the one-element array ulab 6.12 makes of it (ndarray_from_mp_obj)."""
    if isinstance(value, builtins.bool):
        return _fresh(_np.array([int(value)], dtype=_np.uint8), "B", True)
    if isinstance(value, int):
        if value < -32768 or value > 65535:
            if abs(value) >= 2 ** 31:
                raise _nyi("Python ints beyond 32 bits")
            return _fresh(_np.array([value], dtype=_npf()), "f")
        if value < 0:
            kind = "b" if value >= -128 else "h"
        elif other in _SIGNED:
            kind = "b" if value < 128 else "h"
        else:
            kind = "B" if value < 256 else "H"
        return _fresh(_wrap([value], kind), kind)
    if isinstance(value, builtins.float):
        return _fresh(_np.array([value], dtype=_npf()), "f")
    if isinstance(value, ndarray):
        return value
    raise _nyi("operand of type %s" % type(value).__name__)


def _scalar_into(value, kind):
    """One Python number stored into an array of `kind` (item or slice assignment)."""
    if isinstance(value, (int, builtins.float)) and not isinstance(value, builtins.bool):
        if kind == "f":
            return _npf()(value)
        if isinstance(value, builtins.float):
            return _wrap(_round_to_int([value]), kind)[0]
        if abs(value) >= 2 ** 31:
            raise _nyi("Python ints beyond 32 bits")
        return _wrap([value], kind)[0]
    raise _nyi("assigning %s" % type(value).__name__)


def _broadcast(lhs, rhs):
    try:
        shape = _np.broadcast_shapes(lhs._a.shape, rhs._a.shape)
    except ValueError:
        raise ValueError("operands could not be broadcast together") from None
    return _np.broadcast_to(lhs._a, shape), _np.broadcast_to(rhs._a, shape)


def _nested(obj):
    """(values as a nested list of Python numbers, any float in it)."""
    if isinstance(obj, (list, tuple)):
        rows = [_nested(o) for o in obj]
        return [r[0] for r in rows], any(r[1] for r in rows)
    if isinstance(obj, range):
        return list(obj), False
    if isinstance(obj, (bytes, bytearray)):
        return list(obj), False
    if isinstance(obj, ndarray):
        return obj.tolist(), obj._kind == "f"
    if isinstance(obj, (int, builtins.float)):
        return obj, isinstance(obj, builtins.float)
    raise TypeError("object is not iterable")


def array(obj, dtype=None):
    """A new array from a list/tuple/range/bytearray or an ndarray, converted to dtype (default float)."""
    kind, boolean = _kind_of(float if dtype is None else dtype)
    if isinstance(obj, ndarray):
        if boolean and not obj._bool:
            raise _nyi("array(ndarray, dtype=bool) (ulab 6.12 gives all False)")
        return _fresh(_convert(obj._a, obj._kind, kind), kind, boolean)
    if not isinstance(obj, (list, tuple, range, bytes, bytearray)):
        raise TypeError("object is not iterable")
    values, has_float = _nested(obj)
    shape = _np.shape(values)
    if len(shape) > 2:
        raise ValueError("maximum number of dimensions is 2")
    if kind == "f":
        return _fresh(_np.array(values, dtype=_np.float64).astype(_npf()), "f")
    if has_float:
        raise TypeError("can't convert float to int")
    flat = _np.array(values, dtype=object).reshape(-1)
    if any(abs(int(v)) >= 2 ** 31 for v in flat):
        raise _nyi("Python ints beyond 32 bits")
    ints = _np.array([int(v) for v in flat], dtype=_np.int64).reshape(shape)
    if boolean:
        return _fresh((ints != 0).astype(_np.uint8), "B", True)
    return _fresh(_wrap(ints, kind), kind)


def _shape(shape):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(shape) > 2:
        raise TypeError("too many dimensions")
    return shape


def zeros(shape, dtype=None):
    kind, boolean = _kind_of(float if dtype is None else dtype)
    buf, a = _new_buffer(_shape(shape), kind)
    return ndarray(a, kind, buf, boolean)


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def ones(shape, dtype=None):
    a = zeros(shape, dtype)
    a._a[...] = 1
    return a


def full(shape, value, dtype=None):
    a = zeros(shape, dtype)
    if a._kind != "f" and isinstance(value, builtins.float):
        raise TypeError("can't convert float to int")
    a._a[...] = _scalar_into(value, a._kind)
    return a


def arange(*args, dtype=None):
    if dtype is None:
        if any(isinstance(x, builtins.float) for x in args):
            raise _nyi("arange with float arguments")
        dtype = int16
    if any(isinstance(x, builtins.float) for x in args):
        raise _nyi("arange with float arguments")
    kind, boolean = _kind_of(dtype)
    values = list(range(*args))
    if kind == "f":
        return _fresh(_np.array(values, dtype=_npf()), "f")
    return _fresh(_wrap(values, kind), kind, boolean)


def frombuffer(buffer, dtype=None, count=-1, offset=0):
    """An array over the buffer's memory (no copy), as ulab does."""
    kind, boolean = _kind_of(float if dtype is None else dtype)
    a = _np.frombuffer(buffer, dtype=_np_type(kind), count=count, offset=offset)
    return ndarray(a, kind, buffer, boolean)


def concatenate(arrays, axis=0):
    if not isinstance(arrays, tuple):
        raise TypeError("first argument must be a tuple of ndarrays")
    kind = arrays[0]._kind
    for a in arrays:
        if a._kind != kind or a._bool != arrays[0]._bool:
            raise ValueError("input arrays are not compatible")
    return _fresh(_np.concatenate([a._a for a in arrays], axis=axis), kind, arrays[0]._bool)


def _floats(a):
    return a._a.astype(_npf())


def dot(m1, m2):
    """Matrix/vector product accumulated in float, one product at a time; float result."""
    f = _npf()
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
    return _fresh(out, "f")


def _lanes(a, axis):
    """The array as rows to reduce (axis=None: one row of all elements), and the result shape."""
    if a._bool:
        raise _nyi("reductions of bool arrays")
    if axis is None:
        return a._a.reshape(1, -1), None
    if a.ndim != 2 or axis not in (0, 1, -1, -2):
        raise _nyi("axis %r on a %d-D array" % (axis, a.ndim))
    x = a._a if axis in (1, -1) else a._a.T
    return x, x.shape[0]


def _running_mean(row, f):
    m = f(0)
    for i, x in enumerate(row):
        m = f(m + f(f(f(x) - m) / f(i + 1)))
    return m


def _welford(row, f, ddof):
    m = s = f(0)
    for i, x in enumerate(row):
        v = f(x)
        new = f(m + f(f(v - m) / f(i + 1)))
        s = f(s + f(f(v - m) * f(v - new)))
        m = new
    return f(_np.sqrt(f(s / f(len(row) - ddof))))


def sum(a, axis=None):
    """Without axis: ulab 6.12's running float mean M, then M * len (an int for integer
    arrays); along an axis: integers add in their own dtype (wrapping), floats in order."""
    rows, n = _lanes(a, axis)
    f = _npf()
    if axis is None:
        total = f(_running_mean(rows[0], f) * f(a.size))
        return builtins.float(total) if a._kind == "f" else int(round(builtins.float(total)))
    if a._kind == "f":
        return _fresh(_np.cumsum(rows, axis=1, dtype=f)[:, -1], "f")
    return _fresh(_wrap(rows.astype(_np.int64).sum(axis=1), a._kind), a._kind)


def mean(a, axis=None):
    rows, n = _lanes(a, axis)
    f = _npf()
    out = [_running_mean(r, f) for r in rows]
    return builtins.float(out[0]) if axis is None else _fresh(_np.array(out, dtype=f), "f")


def std(a, axis=None, ddof=0):
    rows, n = _lanes(a, axis)
    f = _npf()
    out = [_welford(r, f, ddof) for r in rows]
    return builtins.float(out[0]) if axis is None else _fresh(_np.array(out, dtype=f), "f")


def _best(a, axis, pick_max, want_index):
    rows, n = _lanes(a, axis)
    if rows.shape[1] == 0:
        raise ValueError("attempt to get (arg)min/(arg)max of empty sequence")
    idx = _np.argmax(rows, axis=1) if pick_max else _np.argmin(rows, axis=1)  # first occurrence
    if axis is None:
        i = int(idx[0])
        return i if want_index else a._item(rows[0][i])
    if want_index:
        return _fresh(idx.astype(_np.int16), "h")
    return _fresh(rows[_np.arange(len(rows)), idx], a._kind)


def max(a, axis=None):
    return _best(a, axis, True, False)


def min(a, axis=None):
    return _best(a, axis, False, False)


def argmax(a, axis=None):
    return _best(a, axis, True, True)


def argmin(a, axis=None):
    return _best(a, axis, False, True)


def _keys(a):
    """Sort keys as ulab 6.12's heap sort compares them: int8 as uint8, int16 as uint16."""
    if a._bool:
        raise _nyi("sorting bool arrays")
    if a._kind == "b":
        return a._a.view(_np.uint8)
    if a._kind == "h":
        return a._a.view(_np.uint16)
    return a._a


def _sorted(a, axis):
    if axis is None:
        flat = a.flatten()
        order = _np.argsort(_keys(flat), kind="stable")
        return _fresh(flat._a[order], a._kind)
    if axis not in (0, 1, -1, -2) or (a.ndim == 1 and axis not in (0, -1)):
        raise _nyi("axis %r" % (axis,))
    ax = axis % a.ndim
    order = _np.argsort(_keys(a), axis=ax, kind="stable")
    return _fresh(_np.take_along_axis(a._a, order, axis=ax), a._kind)


def sort(a, axis=None):
    """A sorted copy; flattened unless an axis is given (as ulab 6.12 does)."""
    return _sorted(a, axis)


def _heap_argsort(keys):
    """ulab 6.12 HEAP_ARGSORT1 on one lane: the same index order, ties included."""
    n = len(keys)
    idx = list(range(n))
    q, r = n, n >> 1
    while True:
        if r > 0:
            r -= 1
            itmp = idx[r]
        else:
            q -= 1
            if q == 0:
                break
            itmp = idx[q]
            idx[q] = idx[0]
        tmp = keys[itmp]
        p, c = r, r + r + 1
        while c < q:
            if c + 1 < q and keys[idx[c + 1]] > keys[idx[c]]:
                c += 1
            if keys[idx[c]] > tmp:
                idx[p] = idx[c]
                p, c = c, c + c + 1
            else:
                break
        idx[p] = itmp
    return idx


def argsort(a, axis=None):
    if axis is None:
        raise NotImplementedError("argsort is not implemented for flattened arrays")
    if axis not in (0, 1, -1, -2) or (a.ndim == 1 and axis not in (0, -1)):
        raise _nyi("axis %r" % (axis,))
    keys = _keys(a)
    ax = axis % a.ndim
    lanes = keys if ax == a.ndim - 1 else keys.T
    lanes = lanes.reshape(-1, lanes.shape[-1])
    out = _np.array([_heap_argsort(list(lane)) for lane in lanes], dtype=_np.uint16)
    if a.ndim == 1:
        out = out[0]
    elif ax == 0:
        out = out.T
    return _fresh(out, "H")


def take(a, indices, axis=None):
    """The elements of a at the indices (an unsigned integer array), a's dtype; flattened, as
    ulab 6.12 does without an axis."""
    if axis is not None:
        raise _nyi("take with an axis")
    if not isinstance(indices, ndarray) or indices._kind not in ("B", "H"):
        raise _nyi("take with indices other than a uint8/uint16 array")
    flat = a._a.reshape(-1)
    idx = indices._a.reshape(-1).astype(_np.int64)
    if idx.size and idx.max() >= flat.size:
        raise ValueError("index out of range")
    return _fresh(flat[idx].copy(), a._kind, a._bool)


def bincount(x, minlength=None):
    """Counts of each value of an unsigned integer array, uint16 (no weights), as ulab 6.12."""
    if not isinstance(x, ndarray) or x._kind not in ("B", "H") or x._bool:
        raise _nyi("bincount of anything but a uint8/uint16 array")
    v = x._a.reshape(-1).astype(_np.int64)
    n = builtins.max(int(v.max()) + 1 if v.size else 0, minlength or 0)
    return _fresh(_wrap(list(_np.bincount(v, minlength=n)), "H"), "H")


def _ufunc(fn):
    def apply(a):
        if isinstance(a, ndarray):
            return _fresh(fn(_floats(a)).astype(_npf()), "f")
        return builtins.float(_npf()(fn(_npf()(a))))
    apply.__name__ = fn.__name__
    return apply


floor = _ufunc(_np.floor)
ceil = _ufunc(_np.ceil)
sqrt = _ufunc(_np.sqrt)


def _compare_fn(x1, x2, pick_max, table=_COMPARE):
    lhs = _from_scalar(x1, None)
    rhs = _from_scalar(x2, None)
    la, ra = _broadcast(lhs, rhs)
    kind = _lookup(table, lhs._kind, rhs._kind)
    if "f" in (lhs._kind, rhs._kind):
        f = _npf()
        la, ra = la.astype(f), ra.astype(f)
    else:
        la, ra = la.astype(_np.int64), ra.astype(_np.int64)
    out = _np.where(la > ra, la, ra) if pick_max else _np.where(la < ra, la, ra)
    return _fresh(out.astype(_npf()) if kind == "f" else _wrap(out, kind), kind)


def maximum(a, b):
    return _compare_fn(a, b, True)


def minimum(a, b):
    return _compare_fn(a, b, False)


def clip(a, a_min, a_max):
    """maximum(a_min, minimum(a, a_max)), as ulab's compare.c computes it."""
    if isinstance(a, (int, builtins.float)):
        if a < a_min:
            return a_min
        return a_max if a > a_max else a
    return _compare_fn(a_min, _compare_fn(a, a_max, False), True)


def where(condition, x, y):
    if not isinstance(condition, ndarray):
        raise _nyi("where with a scalar condition")
    xa = _from_scalar(x, None)
    ya = _from_scalar(y, None)
    kind = _lookup(_WHERE, xa._kind, ya._kind)
    shape = _np.broadcast_shapes(condition._a.shape, xa._a.shape, ya._a.shape)
    c = _np.broadcast_to(condition._a != 0, shape)
    xv = _convert(_np.broadcast_to(xa._a, shape), xa._kind, kind)
    yv = _convert(_np.broadcast_to(ya._a, shape), ya._kind, kind)
    return _fresh(_np.where(c, xv, yv), kind)


class _FFT:
    """numpy.fft of a ulab build with complex support: fft(x) of a real array whose length is a
    power of 2 returns one complex array, computed with ulab's kernel (NR four1) in the board's
    float."""

    @staticmethod
    def fft(x, *more):
        if more:
            raise TypeError("function takes 1 positional arguments but %d were given" % (1 + len(more)))
        if not isinstance(x, ndarray):
            raise _nyi("fft of a non-ndarray")
        if x.ndim != 1:
            raise TypeError("FFT is implemented for linear arrays only")
        n = len(x)
        if n & (n - 1):
            raise ValueError("input array length must be power of 2")
        f = _npf()
        re = [f(v) for v in _floats(x)]
        im = [f(0)] * n
        j = 0
        for i in range(n):
            if j > i:
                re[i], re[j] = re[j], re[i]
                im[i], im[j] = im[j], im[i]
            m = n >> 1
            while j >= m and m > 0:
                j -= m
                m >>= 1
            j += m
        mmax = 1
        with _np.errstate(over="ignore"):
            while n > mmax:
                istep = mmax << 1
                theta = f(f(f(-2.0) * f(1)) * f(math.pi)) / f(istep)
                wtemp = f(_np.sin(f(f(0.5) * theta)))
                wpr = f(f(f(-2.0) * wtemp) * wtemp)
                wpi = f(_np.sin(theta))
                wr, wi = f(1.0), f(0.0)
                for m in range(mmax):
                    for i in range(m, n, istep):
                        j = i + mmax
                        tempr = f(f(wr * re[j]) - f(wi * im[j]))
                        tempi = f(f(wr * im[j]) + f(wi * re[j]))
                        re[j] = f(re[i] - tempr)
                        im[j] = f(im[i] - tempi)
                        re[i] = f(re[i] + tempr)
                        im[i] = f(im[i] + tempi)
                    wtemp = wr
                    wr = f(f(f(wr * wpr) - f(wi * wpi)) + wr)
                    wi = f(f(f(wi * wpr) + f(wtemp * wpi)) + wi)
                mmax = istep
        return _Complex(re, im)


class _Complex(ndarray):
    """A complex ulab array, only as fft returns it: shape, len, tolist, indexing, repr."""

    def __init__(self, re, im):  # noqa: super().__init__ is not wanted: no numpy storage
        self._re = [builtins.float(v) for v in re]
        self._im = [builtins.float(v) for v in im]

    dtype = 99
    ndim = 1

    @property
    def shape(self):
        return (len(self._re),)

    def __len__(self):
        return len(self._re)

    def __getitem__(self, i):
        if not isinstance(i, int):
            raise _nyi("slicing a complex array")
        return complex(self._re[i], self._im[i])

    def tolist(self):
        return [complex(r, i) for r, i in zip(self._re, self._im)]

    def __repr__(self):
        return "array(%s, dtype=complex)" % self.tolist()

    def _unsupported(self, *args, **kwargs):
        raise _nyi("complex arrays beyond fft's result")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unsupported
    __truediv__ = __rtruediv__ = __lt__ = __le__ = __gt__ = __ge__ = _unsupported
    __neg__ = __abs__ = __setitem__ = __iter__ = tobytes = reshape = _unsupported
    flatten = transpose = copy = sort = _unsupported
    size = itemsize = T = property(_unsupported)

    def __eq__(self, o):
        return o is self or self._unsupported()

    __hash__ = None


fft = _FFT()


# ulab 6.12's other numpy names: present in ulab, not modelled here
_UNMODELLED = (
    "acos acosh all any arctan2 around asarray asin asinh atan atanh bincount bitwise_and "
    "bitwise_or bitwise_xor compress conjugate convolve cos cosh cross degrees delete diag diff "
    "e equal exp expm1 eye flip get_printoptions imag inf interp isfinite isinf left_shift "
    "linalg linspace load loadtxt log log10 log2 logspace median meshgrid nan ndinfo nonzero "
    "not_equal pi polyfit polyval radians random real right_shift roll save savetxt "
    "set_printoptions sin sinc sinh size sort_complex take tan tanh trace trapz vectorize complex"
).split()


def __getattr__(name):
    if name in _UNMODELLED:
        raise _nyi("numpy.%s (ulab 6.12 has it)" % name)
    raise AttributeError("module 'ulab.numpy' has no attribute %r" % name)
