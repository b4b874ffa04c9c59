"""The model file: round trip, and every kind of damage gives a clear ModelError."""
import os
import struct
import subprocess
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from host_tools.learn import quantize
from host_tools.oracle import modelfile, reference
from strategies import models
from tinyenroll import model, errors


def small_model():
    rng = np.random.default_rng(1)
    W1, W2 = rng.normal(size=(12, 20)), rng.normal(size=(8, 12))
    return quantize.quantize_mlp([W1, W2], [rng.normal(size=12), rng.normal(size=8)],
                                 [True, False], rng.normal(size=(50, 20)), 4 / 127)


def small_conv_model():
    """A version-2 file: conv1d + ReLU, max pool, conv1d, avg pool, dense, L2 norm."""
    rng = np.random.default_rng(2)
    layers = [("conv1d", rng.normal(size=(4, 2, 3)), rng.normal(size=4), 1, True), ("maxpool", 2),
              ("conv1d", rng.normal(size=(3, 4, 2)), rng.normal(size=3), 2, False), ("avgpool", 2),
              ("dense", rng.normal(size=(5, 9)), rng.normal(size=5), False)]
    return quantize.quantize_layers(layers, rng.normal(size=(40, 2 * 28)), 4 / 127, in_channels=2)


SMALL_MODELS = {"v1": small_model, "v2": small_conv_model}


def with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


@settings(max_examples=100)
@given(models())
def test_round_trip_host_reader_and_firmware(m):
    data = modelfile.to_bytes(m)
    back = modelfile.from_bytes(data)
    fm = model.Model(bytearray(data))
    assert fm.in_dim == m["in_dim"] and fm.crc == back["crc"]
    assert len(fm.layers) == len(m["layers"])
    for a, b in zip(m["layers"], back["layers"]):
        assert a["type"] == b["type"]
        if a["type"] == "dense":
            assert np.array_equal(a["w"], b["w"]) and np.array_equal(a["b"], b["b"])


@pytest.mark.parametrize("make", ["v1", "v2"])
def test_every_truncation_is_a_clear_error(make):
    data = modelfile.to_bytes(SMALL_MODELS[make]())
    assert data[4] == int(make[1])
    for n in range(len(data)):
        with pytest.raises(errors.ModelError) as e:
            model.Model(bytearray(data[:n]))
        assert "truncated" in str(e.value) or "CRC" in str(e.value), (n, str(e.value))


@pytest.mark.parametrize("make", ["v1", "v2"])
def test_every_single_bit_flip_is_detected(make):
    data = modelfile.to_bytes(SMALL_MODELS[make]())
    for byte in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[byte] ^= 1 << bit
            with pytest.raises(errors.ModelError):
                model.Model(bad)


@settings(max_examples=200)
@given(st.data())
def test_random_damage_never_crashes(data):
    good = modelfile.to_bytes(SMALL_MODELS[data.draw(st.sampled_from(["v1", "v2"]))]())
    bad = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        bad[data.draw(st.integers(0, len(bad) - 1))] = data.draw(st.integers(0, 255))
    if bytes(bad) == good:
        return
    with pytest.raises(errors.ModelError):
        model.Model(bad)


def test_named_errors():
    data = modelfile.to_bytes(small_model())
    with pytest.raises(errors.ModelError, match="bad magic"):
        model.Model(bytearray(b"XXXX" + data[4:]))
    with pytest.raises(errors.ModelError, match="unknown format version 3"):
        model.Model(bytearray(with_crc(data[:4] + b"\x03" + data[5:-4])))
    with pytest.raises(errors.ModelError, match="unexpected bytes"):
        model.Model(bytearray(with_crc(data[:-4] + b"\x00\x00")))
    # shapes that do not chain: the ReLU after the first dense layer (12 wide) claims 11
    body = bytearray(data[:-4])
    off = 16 + 6 + 12 * 20 + 5 * 12 + 4  # the ReLU's layer header
    struct.pack_into("<HH", body, off + 2, 11, 11)
    with pytest.raises(errors.ModelError, match="layer 1 .relu. takes 11 inputs but gets 12"):
        model.Model(bytearray(with_crc(bytes(body))))


def test_loader_refuses_rows_over_the_bound():
    # a hand-made file the exporter would refuse: 128*sum|W| reaches 2**24
    w = np.full((1, 1025), -128, np.int8)
    m = {"in_dim": 1025, "layers": [{"type": "dense", "w": w, "b": np.zeros(1, np.int32),
                                      "shift": np.zeros(1, np.uint8)}]}
    with pytest.raises(modelfile.ExportError, match="not below 2\\*\\*24"):
        modelfile.to_bytes(m)
    body = bytearray(struct.pack("<4sBBHHHf", b"TNYE", 1, 0, 1, 1025, 0, 1.0))
    body += struct.pack("<BBHH", 1, 0, 1025, 1) + w.tobytes() + struct.pack("<iBf", 0, 0, 1.0)
    with pytest.raises(errors.ModelError, match="accumulator bound"):
        model.Model(bytearray(with_crc(bytes(body))))


def test_exporter_refuses_malformed_layers():
    m = small_model()
    m["layers"][0]["shift"] = m["layers"][0]["shift"].copy()
    m["layers"][0]["shift"][0] = 25
    with pytest.raises(modelfile.ExportError, match="shifts"):
        modelfile.to_bytes(m)
    m = small_model()
    m["layers"][2]["w"] = m["layers"][2]["w"][:, :5]
    with pytest.raises(modelfile.ExportError, match="do not take 12 inputs"):
        modelfile.to_bytes(m)


def test_wrong_window_is_refused_and_model_still_works():
    m = small_model()
    fm = model.Model(bytearray(modelfile.to_bytes(m)))
    x = np.arange(20, dtype=np.int8)
    with pytest.raises(ValueError, match="19 values, the model takes 20"):
        fm.embed(bytes(19))
    import array
    with pytest.raises(errors.InputError, match="int8"):
        fm.embed(array.array("h", range(20)))
    with pytest.raises(errors.InputError, match="int8"):
        fm.embed(list(range(20)))
    got = np.frombuffer(bytes(fm.embed(array.array("b", x.tolist()))), np.int8)
    assert np.array_equal(got, reference.forward(m, x))


def test_a_window_built_in_the_models_input_buffer():
    m = small_model()
    fm = model.Model(bytearray(modelfile.to_bytes(m)))
    rng = np.random.default_rng(3)
    for _ in range(3):  # each embed() overwrites the buffer; the next window is built anew
        x = rng.integers(-128, 128, 20).astype(np.int8)
        w = fm.input()
        assert len(w) == 20
        w[:] = x.tobytes()
        got = np.frombuffer(bytes(fm.embed(w)), np.int8)
        assert np.array_equal(got, reference.forward(m, x))
        assert np.array_equal(np.frombuffer(bytes(fm.embed(x.tobytes())), np.int8), got)


def test_load_from_file_and_missing_file(tmp_path):
    path = tmp_path / "m.tem"
    modelfile.write(str(path), small_model())
    assert model.load(str(path)).out_dim == 8
    with pytest.raises(errors.ModelError, match="no such model file"):
        model.load(str(tmp_path / "missing.tem"))


MPY_DAMAGE = """
import sys
from tinyenroll import model, errors
data = open(sys.argv[1], 'rb').read()
ok = 0
for n in range(len(data)):
    try:
        model.Model(bytearray(data[:n]))
        print('ACCEPTED truncation', n)
    except errors.ModelError:
        ok += 1
for byte in range(len(data)):
    for bit in range(8):
        bad = bytearray(data)
        bad[byte] ^= 1 << bit
        try:
            model.Model(bad)
            print('ACCEPTED flip', byte, bit)
        except errors.ModelError:
            ok += 1
print('REJECTED', ok)
"""


@pytest.mark.parametrize("make", ["v1", "v2"])
def test_damage_in_real_micropython(tmp_path, make):
    data = modelfile.to_bytes(SMALL_MODELS[make]())
    (tmp_path / "m.tem").write_bytes(data)
    script = tmp_path / "damage.py"
    script.write_text(MPY_DAMAGE)
    argv, env = mpy.command(str(script))
    out = subprocess.run(argv + [str(tmp_path / "m.tem")], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "ACCEPTED" not in out.stdout
    assert out.stdout.split()[-1] == str(len(data) * 9)
