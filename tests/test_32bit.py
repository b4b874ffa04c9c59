"""The firmware on a real 32-bit MicroPython (31-bit small ints): integer for integer with the
CPython oracle, and no big-int allocation where a board computes per sample or per window.

The interpreter is MicroPython's webassembly port from npm, run by node (host_tools/board/wasm32.py);
`make test` installs it into build/wasm. Without node/npm this module is skipped with the reason,
except under CI (the CI environment variable set, as .ci/run does), where it fails: CI must run it.
"""
import binascii
import json
import os

import numpy as np
import pytest

from host_tools.board import wasm32
from host_tools.learn import quantize, train
from host_tools.oracle import anomaly_ref, knn_ref, modelfile, reference

HERE = os.path.dirname(os.path.abspath(__file__))
WIIMOTE = os.path.join(os.path.dirname(HERE), "host_tools", "models", "wiimote.tem")


@pytest.fixture(scope="module")
def wasm():
    if wasm32.ensure(log=lambda *a: None) is None:
        reason = "32-bit MicroPython (%s@%s under node) unavailable: %s" % (wasm32.PACKAGE, wasm32.VERSION, wasm32.why)
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must run the 32-bit tests (install node and npm)")
        pytest.skip(reason)
    return wasm32


def edge_model(rng, n_in=500, n_out=6):
    """One dense row set right at the accumulator bound: int8 -128 weights, bias at the slack."""
    w = rng.choice([-128, 127], size=(n_out, n_in)).astype(np.int8)
    shift = np.full(n_out, 20, np.uint8)
    slack = modelfile.ACC_LIMIT - 1 - modelfile.row_bounds(w, np.zeros(n_out, np.int64), shift)
    b = (np.where(np.arange(n_out) % 2, 1, -1) * slack).astype(np.int32)
    return {"in_dim": n_in, "input_scale": 1 / 32,
            "layers": [{"type": "dense", "w": w, "b": b, "shift": shift, "out_scale": 0.05}]}


def conv_model(rng, channels=3, length=40):
    layers = [("conv1d", rng.normal(size=(8, channels, 5)), rng.normal(size=8), 2, True), ("maxpool", 2),
              ("conv1d", rng.normal(size=(6, 8, 3)), rng.normal(size=6), 1, False), ("avgpool", 2),
              ("dense", rng.normal(size=(12, 6 * 3)), rng.normal(size=12), False)]
    calib = rng.normal(size=(60, channels * length)) * 3
    return quantize.quantize_layers(layers, calib, 4 / 127, in_channels=channels)


def mlp_model(rng, n_in=48):
    calib = rng.normal(size=(80, n_in)) * 3
    return quantize.quantize_mlp([rng.normal(size=(32, n_in)), rng.normal(size=(16, 32))],
                                 [rng.normal(size=32), rng.normal(size=16)], [True, False], calib, 4 / 127)


def int8_inputs(rng, n_in, n=12):
    xs = [rng.integers(-128, 128, size=n_in), np.full(n_in, -128), np.full(n_in, 127),
          np.where(np.arange(n_in) % 2, 127, -128)]
    xs += [rng.integers(-128, 128, size=n_in) for _ in range(n - len(xs))]
    return [np.asarray(x, np.int8) for x in xs]


def build_cases(rng):
    cases, want = [], []
    models = [modelfile.read(WIIMOTE), edge_model(rng), conv_model(rng), mlp_model(rng)]
    for m in models:
        xs = int8_inputs(rng, m["in_dim"])
        cases.append({"job": "embed", "model": modelfile.to_bytes(m).hex(), "inputs": [x.tobytes().hex() for x in xs]})
        want.append([reference.forward(m, x).tobytes().hex() for x in xs])
    # enroll/classify over the wiimote model's embeddings (knn and prototypes)
    wm = models[0]
    for i, mode in enumerate(("knn", "prototype")):
        labels = ["a", "b", "c"]
        centres = [rng.integers(-128, 128, size=wm["in_dim"]) for _ in labels]
        enr = [(labels[j], np.clip(centres[j] + rng.integers(-30, 31, wm["in_dim"]), -128, 127).astype(np.int8))
               for j in (0, 0, 0, 1, 1, 1, 2, 2, 2)]
        emb = [(lab, reference.forward(wm, x)) for lab, x in enr]
        qs = [reference.forward(wm, np.clip(centres[j % 3] + rng.integers(-60, 61, wm["in_dim"]), -128, 127)
                                .astype(np.int8)) for j in range(8)] + [reference.forward(wm, np.full(wm["in_dim"], 127, np.int8))]
        cases.append({"job": "enroll", "id": i, "dim": len(emb[0][1]), "k": 2, "mode": mode,
                      "enroll": [[lab, e.tobytes().hex()] for lab, e in emb],
                      "queries": [q.tobytes().hex() for q in qs]})
        rows = np.stack([e for _, e in emb])
        lab = np.array([labels.index(l) for l, _ in emb])
        want.append([list(knn_ref.classify(q, rows, lab, labels, 2, mode)) for q in qs])
    # the front end at full int16 amplitude (and the worst case for the spread: two extremes)
    for n, ch, length, groups, kind in ((200, 6, 64, 2, "full"), (100, 6, 32, 2, "extremes"), (361, 3, 64, 1, "full"),
                                        (50, 1, 64, 1, "extremes"), (128, 12, 16, 1, "full")):
        if kind == "full":
            x = rng.integers(-32768, 32768, size=(n, ch))
        else:
            x = np.where(rng.integers(0, 2, size=(n, ch)) == 1, 32767, -32768)
        cases.append({"job": "frontend", "x": x.ravel().tolist(), "n": n, "channels": ch, "length": length,
                      "groups": groups})
        want.append(train.frontend(x, length, groups).tobytes().hex())
    # the anomaly detector: raw features near the +-2**29 limit and int8 embeddings
    for i, (raw, dim, adapt) in enumerate(((True, 45, 0), (True, 10, 2), (False, 64, 0), (False, 16, 1))):
        if raw:
            scale = rng.choice([1, 300, 1 << 14, 1 << 26], size=dim)
            learn = np.clip(rng.normal(0, 1, size=(90, dim)) * scale, -(1 << 29) + 1, (1 << 29) - 1).astype(np.int64)
            test = np.clip(rng.normal(0, 3, size=(15, dim)) * scale, -(1 << 29) + 1, (1 << 29) - 1).astype(np.int64)
        else:
            learn = rng.integers(-128, 128, size=(90, dim))
            test = rng.integers(-128, 128, size=(15, dim))
            test[0] = np.where(np.arange(dim) % 2, 127, -128)    # the largest distances there are
        cfg = dict(dim=dim, capacity=64, k=3, seed=int(rng.integers(1, 2 ** 31)), raw=raw, adapt_every=adapt)
        cases.append(dict(cfg, job="anomaly", id=i, learn=learn.tolist(), test=test.tolist()))
        r = anomaly_ref.Detector(dim, capacity=64, k=3, seed=cfg["seed"], raw=raw, adapt_every=adapt)
        for v in learn:
            r.learn(v if raw else v.astype(np.int8))
        r.finish()
        want.append((r.threshold, [list(r.check(v if raw else v.astype(np.int8))) for v in test]))
    x = int(rng.integers(1, anomaly_ref.PRNG_M))
    cases.append({"job": "prng", "x": x, "n": 500})
    vals = []
    for _ in range(500):
        x = anomaly_ref.prng_next(x)
        vals.append(x)
    want.append(vals)
    return cases, want


def test_firmware_on_32_bit_micropython_equals_the_oracle(wasm, tmp_path):
    cases, want = build_cases(np.random.default_rng(32))
    path = tmp_path / "cases.json"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    p = wasm.run(os.path.join(HERE, "wasm32_checks.py"), files={"/data/cases.json": str(path)})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    lines = p.stdout.strip().splitlines()
    assert lines[-1].startswith("32-bit OK") and lines[-1].endswith("2147483647"), lines[-1]
    got = [json.loads(line) for line in lines[:-1]]
    assert len(got) == len(cases)
    for c, g, w in zip(cases, got, want):
        assert "error" not in g, g
        job = c["job"]
        if job == "embed":
            assert g["embeddings"] == w
        elif job == "enroll":
            assert [tuple(a) for a in g["answers"]] == [tuple(a) for a in w], c["mode"]
            assert g["reloaded_same"]
        elif job == "frontend":
            assert g["out"] == w, (c["n"], c["channels"])
            assert g["alloc"] == 0, "frontend.prepare allocated %d bytes (big ints) at full amplitude" % g["alloc"]
        elif job == "anomaly":
            assert g["threshold"] == w[0]
            assert [tuple(a) for a in g["checks"]] == [(s, bool(f)) for s, f in w[1]]
            assert g["roundtrip"] and g["store_roundtrip"]
            assert g["score_alloc"] == 0, "Detector scoring allocated %d bytes on 32 bits (raw=%s)" % (g["score_alloc"], c["raw"])
        else:
            assert g["values"] == w and g["alloc"] == 0
