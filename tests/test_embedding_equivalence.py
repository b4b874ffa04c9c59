"""Every kernel backend computes exactly the reference's integers, in CPython and in real MicroPython."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from host_tools.oracle import modelfile, reference
from embed_worker import EmbedWorker
from strategies import inputs, models
from tinyenroll import model

CASES = int(os.environ.get("TINYENROLL_CASES", "500"))
HERE = os.path.dirname(__file__)


def firmware_embed(m, x):
    fm = model.Model(bytearray(modelfile.to_bytes(m)))
    return np.frombuffer(bytes(fm.embed(x.tobytes())), dtype=np.int8)


@st.composite
def model_and_input(draw):
    m = draw(models())
    return m, draw(inputs(m["in_dim"]))


@pytest.mark.parametrize("backend", ["plain"], indirect=True)
@settings(max_examples=CASES)
@given(model_and_input())
def test_plain_backend_matches_reference(backend, case):
    m, x = case
    assert np.array_equal(firmware_embed(m, x), reference.forward(m, x))


@settings(max_examples=CASES)
@given(case=model_and_input())
def test_ulab_backend_matches_reference(ulab_standin, case):
    m, x = case
    assert np.array_equal(firmware_embed(m, x), reference.forward(m, x))


@pytest.fixture(scope="module")
def worker():
    w = EmbedWorker()
    yield w
    w.close()


@pytest.mark.parametrize("name", ["viper", "plain"])
def test_micropython_backends_match_reference(worker, name):
    @settings(max_examples=CASES)
    @given(model_and_input())
    def check(case):
        m, x = case
        assert np.array_equal(worker.embed(name, m, x), reference.forward(m, x))
    check()


def test_viper_handles_negative_biases_and_bound_edge(worker):
    # a row sitting exactly at the bound, with a negative bias, on both MicroPython backends
    w = np.full((2, 4), -128, np.int8)
    shift = np.array([24, 0], np.uint8)
    slack = modelfile.ACC_LIMIT - 1 - modelfile.row_bounds(w, np.zeros(2, np.int64), shift)
    m = {"in_dim": 4, "input_scale": 1.0, "layers": [
        {"type": "dense", "w": w, "b": -slack.astype(np.int32), "shift": shift, "out_scale": 1.0}]}
    x = np.full(4, -128, np.int8)
    want = reference.forward(m, x)
    for name in ("viper", "plain"):
        assert np.array_equal(worker.embed(name, m, x), want)
