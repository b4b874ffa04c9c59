"""A 12k-weight model (192 -> 64 -> 32) loads and runs in real MicroPython at a plain ESP32's heap."""
import os

import numpy as np

from host_tools.board import mpy
from host_tools.learn import quantize
from host_tools.oracle import modelfile, reference

SCRIPT = """
import gc, sys
gc.collect()
gc.disable()
base = gc.mem_alloc()
from tinyenroll import kernels, model
kernels.select(sys.argv[2])
m = model.load(sys.argv[1])
x = open(sys.argv[1] + '.in', 'rb').read()
emb = m.embed(x)
peak = gc.mem_alloc() - base
gc.enable()
gc.collect()
held = gc.mem_alloc() - base
print('EMB', bytes(emb).hex())
print('HEAP', peak, held, gc.mem_free())
"""


def build(tmp_path):
    rng = np.random.default_rng(7)
    W1, W2 = rng.normal(size=(64, 192)), rng.normal(size=(32, 64))
    calib = rng.normal(size=(200, 192))
    m = quantize.quantize_mlp([W1, W2], [rng.normal(size=64), rng.normal(size=32)], [True, False], calib, 4 / 127)
    path = str(tmp_path / "big.tem")
    modelfile.write(path, m)
    x = quantize.quantize_input(calib[3], 4 / 127)
    with open(path + ".in", "wb") as f:
        f.write(x.tobytes())
    return m, path, x


def test_big_model_runs_at_96k(tmp_path):
    m, path, x = build(tmp_path)
    n_weights = sum(l["w"].size for l in m["layers"] if l["type"] == "dense")
    assert n_weights >= 12000
    script = tmp_path / "big.py"
    script.write_text(SCRIPT)
    want = reference.forward(m, x).tobytes().hex()
    for backend in ("viper", "plain"):
        argv, env = mpy.command(str(script), heap="96K")
        import subprocess
        out = subprocess.run(argv + [path, backend], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
        assert lines["EMB"] == want
        peak, held, free = (int(v) for v in lines["HEAP"].split())
        print("\n%s: model file %d bytes, %d weights; peak heap (GC off, upper bound) %d bytes, "
              "held after load %d bytes, free %d of 96K" % (backend, os.path.getsize(path), n_weights, peak, held, free))
        # against what the loader is meant to keep (independent of the VM's size): the file in one
        # buffer plus the code and per-row arrays, and a margin left for enrollment beside it
        size = os.path.getsize(path)
        assert size <= held <= size + 40 * 1024, (held, size)
        assert peak >= held and free >= 24 * 1024, (peak, free)
