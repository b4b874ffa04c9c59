"""Make the ulab stand-in importable as `ulab`, with a board's float precision.

    with ulab_env.use_standin(32) as np:   # float32, as on ESP32 / RP2040
        kernels.select("ulab")

The precision also sets np.float to the build's dtype code (102 float32, 100 float64), as real
ulab reports it. The stand-in is checked against real ulab 6.12 builds by
tests/test_ulab_standin_differential.py; what it does not model raises NotImplementedError.
"""
import contextlib
import os
import sys

STANDIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ulab_standin")


@contextlib.contextmanager
def use_standin(float_bits=64):
    added = STANDIN_PATH not in sys.path
    if added:
        sys.path.insert(0, STANDIN_PATH)
    from ulab import numpy as np
    np.set_float_bits(float_bits)
    try:
        yield np
    finally:
        # the module stays imported: firmware modules keep a reference to it
        np.set_float_bits(64)
        if added:
            sys.path.remove(STANDIN_PATH)
