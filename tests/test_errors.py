"""One error vocabulary: whatever the model bytes, store bytes or call arguments, only
tinyenroll.errors classes escape the firmware (host: host_tools.oracle.errors), and the real
micropython raises the same class as CPython for the same damaged bytes."""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from host_tools.board import mpy
from host_tools.learn import quantize
from host_tools.oracle import errors as host_errors, modelfile
from tinyenroll import anomaly, errors, learner, model, store

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def good_model_bytes():
    rng = np.random.default_rng(5)
    W1, W2 = rng.normal(size=(8, 12)), rng.normal(size=(4, 8))
    m = quantize.quantize_mlp([W1, W2], [rng.normal(size=8), rng.normal(size=4)], [True, False],
                              rng.normal(size=(50, 12)), 4 / 127)
    return bytes(modelfile.to_bytes(m))


GOOD_MODEL = good_model_bytes()


def fix_crc(data):
    data = bytearray(data)
    if len(data) >= 4:
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    return bytes(data)


@st.composite
def damaged(draw, good):
    """A good file with flips, cuts, insertions; often with the CRC made right again, so the
    damage reaches the checks behind the CRC."""
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(st.sampled_from([0, 0x7F, 0x80, 0xFF]))
        elif kind == "cut":
            del data[i:]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
    out = bytes(data)
    return fix_crc(out) if draw(st.booleans()) else out


def firmware_model_error(data):
    try:
        model.Model(bytearray(data)).embed(bytes(12))
        return None
    except errors.TinyError as e:
        return type(e).__name__


@FUZZ
@given(damaged(GOOD_MODEL))
def test_model_bytes_raise_only_model_error(data):
    assert firmware_model_error(data) in (None, "ModelError", "InputError")
    try:
        modelfile.from_bytes(data)
    except host_errors.ModelFileError:
        pass


def test_big_bias_is_a_model_error_not_an_overflow():
    data = bytearray(GOOD_MODEL)
    off = 16 + 6 + 8 * 12                # first dense layer's first bias
    data[off:off + 4] = struct.pack("<i", 2 ** 31 - 1)
    data = fix_crc(data)
    with pytest.raises(errors.ModelError, match="bias 2147483647"):
        model.Model(bytearray(data))


def good_store_bytes(tmp_path):
    L = learner.Learner(None, str(tmp_path / "good"), dim=4, max_canaries=2)
    L.enroll("a", embedding=bytes([10, 0, 0, 0]))
    L.enroll("b", embedding=bytes([0, 60, 0, 0]))
    L.block("c")
    L.auto_enroll("a", bytes([12, 0, 0, 0]), 100)
    L.protect("a", embedding=bytes([11, 0, 0, 0]))
    d = anomaly.Detector(4, capacity=8, k=2)
    for i in range(8):
        d.learn(bytes([i, 0, 0, 0]))
    d.finish()
    d.save(L)
    return open(str(tmp_path / "good.cur"), "rb").read()


def store_error(prefix, data):
    with open(prefix + ".cur", "wb") as f:
        f.write(data)
    for ext in (".prev", ".tmp", ".bad", ".log", ".log.1"):
        if os.path.exists(prefix + ext):
            os.remove(prefix + ext)
    try:
        L = learner.Learner(None, prefix, dim=4, max_canaries=2)
        d = anomaly.Detector.load(L)
        return None if d is None else "ok"
    except errors.TinyError as e:
        return type(e).__name__


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    return good_store_bytes(tmp_path_factory.mktemp("goodstore"))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("storefuzz") / "st")


def test_store_bytes_raise_only_store_errors(good_store, fuzz_dir):
    @FUZZ
    @given(damaged(good_store))
    def check(data):
        assert store_error(fuzz_dir, data) in (None, "ok", "StoreError")
    check()


values = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40), st.floats(allow_nan=False),
                   st.text(max_size=20), st.binary(max_size=10), st.lists(st.integers(-300, 300), max_size=6))


@FUZZ
@given(st.sampled_from(["enroll", "classify", "forget", "set_threshold", "block", "unblock", "protect",
                        "unprotect", "auto_enroll", "learn", "check", "from_bytes"]), values, values, values)
def test_bad_arguments_raise_only_tiny_errors(op, a, b, c):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        L = learner.Learner(None, tmp + "/st", dim=4)
        L.enroll("a", embedding=bytes(4))
        d = anomaly.Detector(4, capacity=4, k=1)
        calls = {
            "enroll": lambda: L.enroll(a, embedding=b),
            "classify": lambda: L.classify(embedding=a),
            "forget": lambda: L.forget(a),
            "set_threshold": lambda: L.set_threshold(a),
            "block": lambda: L.block(a),
            "unblock": lambda: L.unblock(a),
            "protect": lambda: L.protect(a, embedding=b),
            "unprotect": lambda: L.unprotect(a),
            "auto_enroll": lambda: L.auto_enroll(a, b, c),
            "learn": lambda: d.learn(a),
            "check": lambda: d.check(a),
            "from_bytes": lambda: anomaly.Detector.from_bytes(a),
        }
        try:
            calls[op]()
        except errors.TinyError:
            pass


SAME_IN_MPY = r"""
import sys, json, binascii
from tinyenroll import model, learner, anomaly, errors
kind, path, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
out = []
with open(path) as f:
    for line in f:
        data = binascii.unhexlify(line.strip())
        try:
            if kind == "model":
                model.Model(bytearray(data)).embed(bytes(12))
            else:
                with open(prefix + ".cur", "wb") as g:
                    g.write(data)
                anomaly.Detector.load(learner.Learner(None, prefix, dim=4, max_canaries=2))
            out.append(None)
        except errors.TinyError as e:
            out.append(type(e).__name__)
        except Exception as e:
            out.append("escaped " + type(e).__name__ + " " + str(e))
        import os
        for ext in (".prev", ".tmp", ".bad", ".log", ".log.1", ".cur"):
            try:
                os.remove(prefix + ext)
            except OSError:
                pass
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["model", "store"])
def test_micropython_raises_the_same_class(tmp_path, kind, good_store):
    good = GOOD_MODEL if kind == "model" else good_store
    # a fixed, seeded set of damaged files, the same kinds of damage as damaged() draws
    rng = np.random.default_rng(7 if kind == "model" else 8)
    blobs = []
    for _ in range(150):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(data)))
            r = rng.random()
            if r < 0.5:
                data[i] ^= 1 << int(rng.integers(0, 8))
            elif r < 0.7:
                data[i] = int(rng.choice([0, 0x7F, 0x80, 0xFF]))
            elif r < 0.8:
                del data[i:]
            else:
                data[i:i] = bytes(rng.integers(0, 256, int(rng.integers(1, 6)), dtype=np.uint8))
        blobs.append(fix_crc(data) if rng.random() < 0.8 else bytes(data))
    path = tmp_path / "blobs.txt"
    path.write_text("\n".join(b.hex() for b in blobs) + "\n")
    script = tmp_path / "same.py"
    script.write_text(SAME_IN_MPY)
    p = mpy.run(str(script), heap="512K", args=[kind, path, tmp_path / "mp"])
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    if kind == "model":
        want = [firmware_model_error(b) for b in blobs]
    else:
        want = []
        for b in blobs:
            r = store_error(str(tmp_path / "cp"), b)
            want.append(None if r == "ok" else r)
    assert got == want
    assert len(set(want)) >= 2      # the damage reached more than one check
