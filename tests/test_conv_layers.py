"""conv1d / maxpool / avgpool layers (model file version 2): every backend computes exactly the
oracle's integers, the loader refuses what it cannot compute exactly, version-1 files are
unchanged, and the quantiser turns a float conv net into a model that tracks it."""
import binascii
import hashlib
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from host_tools.learn import quantize
from host_tools.oracle import modelfile, reference
from embed_worker import EmbedWorker
from strategies import inputs, models
from tinyenroll import errors, kernels, model

CASES = int(os.environ.get("TINYENROLL_CASES", "500"))
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WIIMOTE = os.path.join(REPO, "host_tools", "models", "wiimote.tem")


def _ulab_unix():
    for d in (os.environ.get("TINYENROLL_ULAB_UNIX"), os.path.join(REPO, "..", "shared", "ulab-unix"),
              "/work/shared/ulab-unix"):
        if d and os.path.isdir(d):
            return os.path.abspath(d)
    return None


ULAB_UNIX = _ulab_unix()


def firmware_embed(m, x):
    fm = model.Model(bytearray(modelfile.to_bytes(m)))
    return np.frombuffer(bytes(fm.embed(x.tobytes())), dtype=np.int8)


@st.composite
def conv_case(draw):
    """A model with a conv/pool front (whole model, or the front alone) and an input."""
    m = draw(models(conv="always", max_layers=draw(st.sampled_from([0, 2]))))
    return m, draw(inputs(m["in_dim"]))


@st.composite
def any_case(draw):
    """Any model of the shared strategy (conv or not, leading/repeated ReLU / L2 norm)."""
    m = draw(models())
    return m, draw(inputs(m["in_dim"]))


def with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def header(version, n_layers, in_dim):
    return struct.pack("<4sBBHHHf", b"TNYE", version, 0, n_layers, in_dim, 0, 1.0)


def conv_record(n_in, n_out, c, o, k, stride, w=None, b=None, shift=None):
    w = np.zeros((o, c, k), np.int8) if w is None else w
    b = np.zeros(o, np.int32) if b is None else b
    shift = np.zeros(o, np.uint8) if shift is None else shift
    return (struct.pack("<BBHH", 4, 0, n_in, n_out) + struct.pack("<HHHH", c, o, k, stride)
            + w.astype("<i1").tobytes() + b.astype("<i4").tobytes() + shift.astype("u1").tobytes()
            + struct.pack("<f", 1.0))


def pool_record(kind, n_in, n_out, c, p):
    return struct.pack("<BBHH", kind, 0, n_in, n_out) + struct.pack("<HH", c, p)


# -- the oracle itself, against the rule written as loops -----------------------------------

@settings(max_examples=200)
@given(st.data())
def test_oracle_matches_the_rule_written_out(data):
    c = data.draw(st.integers(1, 3))
    o = data.draw(st.integers(1, 3))
    k = data.draw(st.integers(1, 4))
    s = data.draw(st.integers(1, 3))
    length = data.draw(st.integers(k, 12))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, c * length)
    w = rng.integers(-128, 128, (o, c, k))
    b = rng.integers(-3000, 3000, o)
    sh = rng.integers(0, 12, o)
    l_out = (length - k) // s + 1
    want = []
    for oo in range(o):
        for t in range(l_out):
            acc = int(b[oo]) + sum(int(w[oo, cc, kk]) * int(x[cc * length + t * s + kk])
                                   for cc in range(c) for kk in range(k))
            r = (1 << (int(sh[oo]) - 1)) if sh[oo] else 0
            want.append(min(127, max(-128, (acc + r) >> int(sh[oo]))))
    assert reference.conv1d(w, b, sh, s, x).tolist() == want
    p = data.draw(st.integers(1, length))
    win = [x[cc * length + t * p: cc * length + t * p + p] for cc in range(c) for t in range(length // p)]
    assert reference.maxpool(x, c, p).tolist() == [int(max(v)) for v in win]
    assert reference.avgpool(x, c, p).tolist() == [(2 * int(sum(v)) + p) // (2 * p) for v in win]


# -- equivalence: CPython plain, ulab stand-in at float32 and float64 -----------------------

@pytest.mark.parametrize("backend", ["plain"], indirect=True)
@settings(max_examples=CASES)
@given(conv_case())
def test_plain_backend_matches_reference(backend, case):
    m, x = case
    assert np.array_equal(firmware_embed(m, x), reference.forward(m, x))


@settings(max_examples=CASES)
@given(case=conv_case())
def test_ulab_standin_matches_reference(ulab_standin, case):
    m, x = case
    assert np.array_equal(firmware_embed(m, x), reference.forward(m, x))


ISSUE14_HEX = "544e594501000200010000000000803f0200010001000100010001000100000000000000803f01992414"


@pytest.mark.parametrize("backend", ["plain"], indirect=True)
def test_leading_relu_is_applied_issue14(backend):
    fm = model.Model(bytearray(binascii.unhexlify(ISSUE14_HEX)))
    assert list(fm.embed(bytes([256 - 5]))) == [0]
    m = modelfile.from_bytes(binascii.unhexlify(ISSUE14_HEX))
    assert reference.forward(m, np.array([-5], np.int8)).tolist() == [0]


def test_leading_relu_on_ulab_standin(ulab_standin):
    fm = model.Model(bytearray(binascii.unhexlify(ISSUE14_HEX)))
    assert list(fm.embed(bytes([256 - 5]))) == [0]


# -- equivalence in real MicroPython (96K heap): viper and plain; real ulab builds ----------

@pytest.fixture(scope="module")
def worker():
    w = EmbedWorker()
    yield w
    w.close()


def _check_many(worker, backend, strategy):
    @settings(max_examples=CASES)
    @given(strategy)
    def check(case):
        m, x = case
        assert np.array_equal(worker.embed(backend, m, x), reference.forward(m, x))
    check()


@pytest.mark.parametrize("name", ["viper", "plain"])
def test_micropython_backends_match_reference(worker, name):
    _check_many(worker, name, conv_case())


@pytest.mark.parametrize("name", ["viper", "plain"])
def test_micropython_leading_relu_issue14(worker, name):
    m = modelfile.from_bytes(binascii.unhexlify(ISSUE14_HEX))
    assert worker.embed(name, m, np.array([-5], np.int8)).tolist() == [0]


@pytest.fixture(scope="module", params=["single", "double"])
def ulab_worker(request):
    if ULAB_UNIX is None:
        pytest.skip("no real ulab builds here (../shared/ulab-unix is absent): the ulab backend is "
                    "checked on the stand-in only")
    path = os.path.join(ULAB_UNIX, "micropython-ulab-" + request.param)
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not an executable here" % path)
    w = EmbedWorker(path)
    yield w
    w.close()


def test_real_ulab_matches_reference(ulab_worker):
    # conv/pool models, then the shared strategy (dense, leading ReLU / L2 norm) on real ulab
    _check_many(ulab_worker, "ulab", conv_case())
    _check_many(ulab_worker, "ulab", any_case())
    m = modelfile.from_bytes(binascii.unhexlify(ISSUE14_HEX))
    assert ulab_worker.embed("ulab", m, np.array([-5], np.int8)).tolist() == [0]


# -- hand-picked edges, every backend here --------------------------------------------------

def _edge_models():
    # a conv row sitting exactly at the bound with all inputs -128; a long average pool whose
    # windows sum to exact halves; kernel = whole length; stride beyond the length
    w = np.full((2, 3, 4), -128, np.int8)
    shift = np.array([24, 0], np.uint8)
    slack = modelfile.ACC_LIMIT - 1 - modelfile.row_bounds(w.reshape(2, 12), np.zeros(2, np.int64), shift)
    yield ({"in_dim": 12, "layers": [{"type": "conv1d", "w": w, "b": -slack.astype(np.int32),
                                      "shift": shift, "stride": 1}]}, np.full(12, -128, np.int8))
    yield ({"in_dim": 12, "layers": [{"type": "conv1d", "w": w, "b": slack.astype(np.int32),
                                      "shift": shift, "stride": 5}]}, np.full(12, -128, np.int8))
    x = np.array([1, 0, -1, -2, 127, -128, -128, -128, 5, -5, 3, -3], np.int8)
    for p in (1, 2, 3, 4, 5, 12):
        yield ({"in_dim": 12, "layers": [{"type": "avgpool", "channels": 1, "size": p}]}, x)
        yield ({"in_dim": 12, "layers": [{"type": "maxpool", "channels": 2, "size": min(p, 6)}]}, x)
    x = np.full(4000, -128, np.int8)
    x[::3] = 127
    yield ({"in_dim": 4000, "layers": [{"type": "avgpool", "channels": 1, "size": 4000}]}, x)
    yield ({"in_dim": 4000, "layers": [{"type": "avgpool", "channels": 2, "size": 1999}]}, x)


@pytest.mark.parametrize("backend", ["plain"], indirect=True)
def test_edges_plain(backend):
    for m, x in _edge_models():
        assert np.array_equal(firmware_embed(m, x), reference.forward(m, x)), m["layers"]


def test_edges_ulab_standin(ulab_standin):
    for m, x in _edge_models():
        assert np.array_equal(firmware_embed(m, x), reference.forward(m, x)), m["layers"]


def test_edges_micropython(worker):
    for m, x in _edge_models():
        want = reference.forward(m, x)
        for name in ("viper", "plain"):
            assert np.array_equal(worker.embed(name, m, x), want), (name, m["layers"])


def test_edges_real_ulab(ulab_worker):
    for m, x in _edge_models():
        assert np.array_equal(ulab_worker.embed("ulab", m, x), reference.forward(m, x)), m["layers"]


# -- the loader and the exporter refuse what cannot be computed exactly ---------------------

def test_conv_over_the_bound_is_refused():
    w = np.full((2, 3, 11), 127, np.int8)
    w[1, 0, 0] = -128
    # 128 * 127 * 33 + 128 * 1 extra > 2**19: fine; make channel 1 break 2**24 with its bias
    b = np.array([0, (1 << 24) - 128 * int(np.abs(w[1].astype(np.int64)).sum())], np.int32)
    m = {"in_dim": 33, "layers": [{"type": "conv1d", "w": w, "b": b, "shift": np.zeros(2, np.uint8),
                                   "stride": 1}]}
    with pytest.raises(modelfile.ExportError, match="out channel 1: accumulator could reach 16777216"):
        modelfile.to_bytes(m)
    body = header(2, 1, 33) + conv_record(33, 2, 3, 2, 11, 1, w, b)
    with pytest.raises(errors.ModelError, match="layer 0 row 1: accumulator bound 16777216"):
        model.Model(bytearray(with_crc(body)))
    b[1] -= 1
    assert model.Model(bytearray(modelfile.to_bytes(m))).out_dim == 2


def test_shift_over_24_is_refused_in_conv():
    body = header(2, 1, 4) + conv_record(4, 3, 1, 1, 2, 1, shift=np.array([25], np.uint8))
    with pytest.raises(errors.ModelError, match="shift 25 is over 24"):
        model.Model(bytearray(with_crc(body)))


@pytest.mark.parametrize("record, message", [
    (conv_record(10, 8, 3, 1, 2, 1), "layer 0 .conv1d.: 10 inputs do not divide into 3 channels"),
    (conv_record(10, 1, 2, 1, 6, 1), "layer 0 .conv1d.: input length 5 is shorter than its window 6"),
    (conv_record(10, 5, 2, 1, 2, 1), "layer 0 .conv1d.: output size 5, its geometry gives 4"),
    (conv_record(10, 4, 0, 1, 2, 1), "conv1d.: channels 0 -> 1, kernel 2, stride 1 must all be at least 1"),
    (conv_record(10, 4, 1, 1, 2, 0), "must all be at least 1"),
    (pool_record(5, 10, 3, 3, 1), "layer 0 .maxpool.: 10 inputs do not divide into 3 channels"),
    (pool_record(6, 10, 1, 2, 6), "layer 0 .avgpool.: input length 5 is shorter than its window 6"),
    (pool_record(6, 10, 5, 2, 2), "layer 0 .avgpool.: output size 5, its geometry gives 4"),
    (pool_record(5, 10, 10, 2, 0), "channels 2 and size 0 must be at least 1"),
], ids=["conv-divide", "conv-short", "conv-size", "conv-zero-ch", "conv-zero-stride", "max-divide",
        "avg-short", "avg-size", "max-zero-size"])
def test_loader_refuses_bad_geometry(record, message):
    with pytest.raises(errors.ModelError, match=message):
        model.Model(bytearray(with_crc(header(2, 1, 10) + record)))


def test_loader_refuses_shapes_that_do_not_chain():
    body = header(2, 2, 10) + pool_record(5, 10, 5, 1, 2) + pool_record(6, 4, 2, 1, 2)
    with pytest.raises(errors.ModelError, match="layer 1 .avgpool. takes 4 inputs but gets 5"):
        model.Model(bytearray(with_crc(body)))


def test_version_1_file_with_a_conv_layer_is_refused():
    body = header(1, 1, 10) + pool_record(5, 10, 5, 1, 2)
    with pytest.raises(errors.ModelError, match="layer 0: layer type maxpool needs format version 2"):
        model.Model(bytearray(with_crc(body)))
    with pytest.raises(ValueError, match="needs format version 2"):
        modelfile.from_bytes(with_crc(body))


def test_truncated_conv_header_is_named():
    data = with_crc(header(2, 1, 10) + conv_record(10, 4, 2, 1, 2, 1))
    for n in range(16, 16 + 6 + 8 + 4):
        with pytest.raises(errors.ModelError, match="truncated|CRC"):
            model.Model(bytearray(data[:n]))


@pytest.mark.parametrize("layer, message", [
    ({"type": "conv1d", "w": np.ones((1, 3, 2), np.int8), "b": np.zeros(1, np.int32),
      "shift": np.zeros(1, np.uint8), "stride": 1}, "10 inputs do not divide into 3 channels"),
    ({"type": "conv1d", "w": np.ones((1, 2, 6), np.int8), "b": np.zeros(1, np.int32),
      "shift": np.zeros(1, np.uint8), "stride": 1}, "input length 5 is shorter than the kernel 6"),
    ({"type": "conv1d", "w": np.ones((1, 10), np.int8), "b": np.zeros(1, np.int32),
      "shift": np.zeros(1, np.uint8), "stride": 1}, "weights must be .out_ch, in_ch, kernel."),
    ({"type": "conv1d", "w": np.ones((1, 2, 2), np.int8), "b": np.zeros(1, np.int32),
      "shift": np.zeros(1, np.uint8), "stride": 0}, "must be in 1..65535"),
    ({"type": "conv1d", "w": np.ones((1, 2, 2), np.int8), "b": np.zeros(1, np.int32),
      "shift": np.full(1, 25, np.uint8), "stride": 1}, "shifts must be in 0..24"),
    ({"type": "maxpool", "channels": 4, "size": 2}, "10 inputs do not divide into 4 channels"),
    ({"type": "avgpool", "channels": 2, "size": 6}, "input length 5 is shorter than the pool size 6"),
])
def test_exporter_refuses_bad_layers(layer, message):
    with pytest.raises(modelfile.ExportError, match=message):
        modelfile.to_bytes({"in_dim": 10, "layers": [layer]})


@settings(max_examples=200)
@given(models(conv="always"))
def test_v2_round_trip(m):
    data = modelfile.to_bytes(m)
    assert data[4] == 2
    back = modelfile.from_bytes(data)
    assert modelfile.to_bytes(back) == data
    fm = model.Model(bytearray(data))
    assert fm.out_dim == len(reference.forward(m, np.zeros(m["in_dim"], np.int8)))


# -- version 1 is unchanged -----------------------------------------------------------------

# computed with the firmware and writer of commit ba911bb (before version 2 existed)
WIIMOTE_EMBEDDINGS_SHA256 = "00f25372c7ba26b86f5c2f30bbcf6852454a7874313a161fbd59bb147d03469e"
SMALL_V1_BYTES_SHA256 = "dc05306d16246387cf64e00072fd75cbfbc8620997a7f1e677a2989826ecc01e"


def small_v1_model():
    rng = np.random.default_rng(1)
    W1, W2 = rng.integers(-128, 128, (12, 20)), rng.integers(-128, 128, (8, 12))
    return {"in_dim": 20, "input_scale": 0.5, "layers": [
        {"type": "dense", "w": W1.astype(np.int8), "b": rng.integers(-999, 999, 12).astype(np.int32),
         "shift": np.full(12, 9, np.uint8), "out_scale": 0.1},
        {"type": "relu", "n": 12},
        {"type": "dense", "w": W2.astype(np.int8), "b": rng.integers(-999, 999, 8).astype(np.int32),
         "shift": np.full(8, 10, np.uint8), "out_scale": 0.1},
        {"type": "l2norm", "n": 8}]}


@pytest.mark.parametrize("backend", ["plain"], indirect=True)
def test_version_1_files_load_and_embed_as_before(backend):
    data = open(WIIMOTE, "rb").read()
    assert data[4] == 1
    assert modelfile.to_bytes(modelfile.from_bytes(data)) == data
    m = model.load(WIIMOTE)
    rng = np.random.default_rng(11)
    h = hashlib.sha256()
    ref = modelfile.from_bytes(data)
    for _ in range(64):
        x = rng.integers(-128, 128, m.in_dim).astype(np.int8)
        got = bytes(m.embed(x.tobytes()))
        assert got == reference.forward(ref, x).tobytes()
        h.update(got)
    assert h.hexdigest() == WIIMOTE_EMBEDDINGS_SHA256
    small = modelfile.to_bytes(small_v1_model())
    assert small[4] == 1 and hashlib.sha256(small).hexdigest() == SMALL_V1_BYTES_SHA256


@settings(max_examples=100)
@given(models(conv=False, oddities=False))
def test_dense_only_models_are_written_as_version_1(m):
    assert modelfile.to_bytes(m)[4] == 1


# -- the quantiser ----------------------------------------------------------------------------

def _float_forward(layers, x):
    a = x
    for spec in layers:
        if spec[0] == "conv1d":
            _, W, b, s, relu = spec
            k = W.shape[2]
            l_out = (a.shape[2] - k) // s + 1
            z = np.zeros((a.shape[0], W.shape[0], l_out))
            for t in range(l_out):
                z[:, :, t] = np.einsum("ock,nck->no", W, a[:, :, t * s:t * s + k]) + b
            a = np.maximum(z, 0) if relu else z
        elif spec[0] in ("maxpool", "avgpool"):
            p = spec[1]
            n, c, length = a.shape
            win = a[:, :, :length // p * p].reshape(n, c, length // p, p)
            a = win.max(axis=3) if spec[0] == "maxpool" else win.mean(axis=3)
        else:
            _, W, b, relu = spec
            z = a.reshape(a.shape[0], -1) @ W.T + b
            a = np.maximum(z, 0) if relu else z
    return a.reshape(a.shape[0], -1)


def test_quantized_conv_net_tracks_the_float_net():
    rng = np.random.default_rng(3)
    n, c, length = 200, 3, 48
    t = np.arange(length)
    x = (np.sin(t[None, None, :] * rng.uniform(0.1, 0.6, (n, c, 1)) + rng.uniform(0, 6, (n, c, 1)))
         * rng.uniform(0.5, 2, (n, c, 1)) + 0.1 * rng.normal(size=(n, c, length)))
    layers = [
        ("conv1d", rng.normal(size=(8, 3, 5)) / 4, rng.normal(size=8) * 0.1, 1, True),
        ("maxpool", 2),
        ("conv1d", rng.normal(size=(8, 8, 3)) / 5, rng.normal(size=8) * 0.1, 2, True),
        ("avgpool", 2),
        ("dense", rng.normal(size=(16, 8 * 5)) / 6, rng.normal(size=16) * 0.1, True),
        ("dense", rng.normal(size=(8, 16)) / 4, rng.normal(size=8) * 0.1, False),
    ]
    scale = float(np.abs(x).max()) / 127
    m = quantize.quantize_layers(layers, x[:100], scale, in_channels=3)
    data = modelfile.to_bytes(m)          # exportable: every bound holds
    assert data[4] == 2
    assert [l["type"] for l in m["layers"]] == ["conv1d", "relu", "maxpool", "conv1d", "relu", "avgpool",
                                               "dense", "relu", "dense", "l2norm"]
    xq = quantize.quantize_input(x[100:].reshape(100, -1), scale)
    emb = reference.forward_batch(modelfile.from_bytes(data), xq).astype(np.float64)
    flo = _float_forward(layers, x[100:])
    cos = (emb * flo).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(flo, axis=1) + 1e-12)
    assert np.median(cos) > 0.99 and cos.min() > 0.95, (np.median(cos), cos.min())
    # distances between embeddings follow the float ones (what k-NN relies on)
    fl = flo / np.linalg.norm(flo, axis=1, keepdims=True)
    d_int = ((emb[:, None] - emb[None]) ** 2).sum(-1).ravel()
    d_flo = ((fl[:, None] - fl[None]) ** 2).sum(-1).ravel()
    assert np.corrcoef(d_int, d_flo)[0, 1] > 0.98
    # and the firmware computes exactly the same integers
    fm = model.Model(bytearray(data))
    for i in range(10):
        assert bytes(fm.embed(xq[i].tobytes())) == emb[i].astype(np.int8).tobytes()


def test_quantiser_refuses_conv_after_dense():
    with pytest.raises(ValueError, match="after a dense layer"):
        quantize.quantize_layers([("dense", np.ones((4, 8)), np.zeros(4), False), ("maxpool", 2)],
                                 np.ones((3, 8)), 0.1)
