"""Integer helpers shared by the kernels and the modules above them (imports only errors).

    isqrt(s)                         floor square root, in integers only
    scale_unit(y, n, s)              the l2norm rule given s = sum of y's squares (kernels.l2norm)
    s8(v)                            a byte 0..255 read as int8 (-128..127)
    check_int8(v, n, what, where)    refuse anything but n int8 values (bytes, bytearray,
                                     memoryview or array('b'))
    err(kind, msg)                   an errors.<kind> to raise, the module imported on demand
    unload(name)                     forget a submodule used rarely, so its RAM is free again
    topk_insert(top, base, fill, k, v)  the bounded top-k step: the reference rule of
                                     kernels.class_topk (kernels_viper has its machine-code twin)
"""
import array


def err(kind, msg):
    """errors.<kind>(msg), to raise: the error module is imported only when an error happens, so
    a board whose code never errs keeps no RAM for it (ints, frontend, features, anomaly use it)."""
    from . import errors
    return getattr(errors, kind)(msg)


def unload(name):
    """Forget submodule `name` of the package (sys.modules and the package's attribute): the RAM
    of code used rarely (start-up, save and load) is free again once nothing refers to it."""
    import sys
    top = __name__.rsplit(".", 1)[0]
    sys.modules.pop(top + "." + name, None)
    pkg = sys.modules.get(top)
    if pkg is not None and name in pkg.__dict__:
        delattr(pkg, name)


def isqrt(s):
    """Floor square root of a non-negative int, in integers only."""
    if s < 2:
        return s
    x = s
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + s // x) >> 1
    return x


def scale_unit(y, n, s):
    """y (n int8 bytes, sum of squares s) scaled in place to norm 127 by kernels' l2norm rule.
    Here, not in kernels_plain, so a backend that computes s in machine code shares it without
    loading the plain backend."""
    if s == 0:
        return
    r = isqrt(s)
    den = 2 * r
    for i in range(n):
        v = y[i]
        z = (254 * (v - 256 if v > 127 else v) + r) // den
        y[i] = z & 0xFF


def s8(v):
    """The byte v (0..255, as bytearray and memoryview items read) as a signed int8."""
    return v - 256 if v > 127 else v


def topk_insert(top, base, fill, k, v):
    """top[base:base+fill] holds the smallest values seen so far, ascending, at most k of them;
    v joins them if it is among the k smallest. Returns the new fill."""
    if fill < k:
        j = fill
        fill += 1
    elif v < top[base + k - 1]:
        j = k - 1
    else:
        return fill
    while j > 0 and top[base + j - 1] > v:
        top[base + j] = top[base + j - 1]
        j -= 1
    top[base + j] = v
    return fill


_BUFFERS = (bytes, bytearray, memoryview)  # built once: a tuple in the call would be allocated at every call


def check_int8(v, n, what, where):
    """Raise unless v holds n int8 values: bytes, bytearray, memoryview or array('b').

    Both a wrong type ("<what> must be int8 (...), got <type>") and a wrong length ("<what> has
    <len(v)> values, <where> <n>") raise errors.InputError.
    """
    if not isinstance(v, _BUFFERS):
        # MicroPython's array has no .typecode; its repr (and CPython's) starts with array('b'
        if not (isinstance(v, array.array) and repr(v)[7] == "b"):
            raise err("InputError", "%s must be int8 (bytes, bytearray, memoryview or array('b')), got %s"
                        % (what, type(v).__name__))
    if len(v) != n:
        raise err("InputError", "%s has %d values, %s %d" % (what, len(v), where, n))
