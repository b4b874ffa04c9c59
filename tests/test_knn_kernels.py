"""The k-NN kernels (sumsq, sqdist, class_topk, the fused knn_topk and the scores step, class_best) give the reference's
integers on every backend in every real interpreter: viper and plain in the PyPI unix port, and
ulab, viper and plain in the real ulab 6.12 builds (float32 like a board, and float64) — the
ulab backend's one-dot distances and whole-array top-k included. Also the per-step backend
choice (kernels.select(name, step), the profile's "backends")."""
import json
import os
import random
import subprocess

import numpy as np
import pytest

from host_tools.board import mpy
from tinyenroll import kernels

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _ulab(precision):
    for d in (os.environ.get("TINYENROLL_ULAB_UNIX"), os.path.join(REPO, "..", "shared", "ulab-unix"),
              "/work/shared/ulab-unix"):
        if d:
            p = os.path.join(d, "micropython-ulab-" + precision)
            if os.access(p, os.X_OK):
                return p
    return None


def cases():
    rng = random.Random(14)
    out = []
    for i in range(60):
        dim = rng.choice([1, 3, 4, 7, 8, 32, 45, 64, 255, 256])
        n = rng.choice([0, 1, 2, 5, 17, 60, 200])
        n = min(n, 12000 // dim)  # JSON lines the VM can parse
        ncls = rng.randint(1, 16)
        k = rng.randint(1, 8)
        kind = i % 4
        if kind == 0:    # extremes: the largest distances there are
            rows = [rng.choice([-128, 127]) for _ in range(n * dim)]
            q = [rng.choice([-128, 127]) for _ in range(dim)]
        elif kind == 1:  # clustered, many ties
            rows = [rng.randint(-2, 2) for _ in range(n * dim)]
            q = [rng.randint(-2, 2) for _ in range(dim)]
        else:
            rows = [rng.randint(-128, 127) for _ in range(n * dim)]
            q = [rng.randint(-128, 127) for _ in range(dim)]
        lab = [rng.randrange(ncls) for _ in range(n)]
        skips = sorted({-1, 0, n - 1, rng.randint(-1, n)})
        out.append({"dim": dim, "k": k, "ncls": ncls, "rows": rows, "q": q, "lab": lab, "skips": skips})
    # the bound itself: dim 256, every value -128 against 127 (256 * 255**2 < 2**24)
    out.append({"dim": 256, "k": 2, "ncls": 1, "rows": [-128] * 512 + [127] * 256, "q": [127] * 256,
                "lab": [0, 0, 0], "skips": [-1, 0, 2]})
    return out


def expected(c):
    dim, k, ncls = c["dim"], c["k"], c["ncls"]
    rows = np.array(c["rows"], np.int64).reshape(-1, dim)
    q = np.array(c["q"], np.int64)
    dist = ((rows - q) ** 2).sum(axis=1).tolist()
    out = {"norms": (rows ** 2).sum(axis=1).tolist(), "qn": int((q ** 2).sum()), "dist": dist}
    for skip in c["skips"]:
        top = [sorted(d for i, (d, l) in enumerate(zip(dist, c["lab"])) if l == cl and i != skip)[:k]
               for cl in range(ncls)]
        out["skip%d" % skip] = [top, top]
        if all(top):  # class_best: floor mean of each class's top-k, the first smallest, the runner-up
            sc = [sum(t) // len(t) for t in top]
            best = sc.index(min(sc))
            rest = [v for c, v in enumerate(sc) if c != best]
            out["skip%d" % skip].append([best, sc + [min(rest) if rest else -1]])
    return out


def run(tmp_path, interpreter, backends):
    cs = cases()
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cs))
    argv, env = mpy.command(os.path.join(HERE, "mpy_knn_worker.py"), heap="4096K")
    if interpreter:
        argv[0] = interpreter
    import subprocess
    p = subprocess.run(argv + [str(tmp_path / "cases.jsonl")] + backends, capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-500:] + p.stderr[-2000:]
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(cs)
    for c, line in zip(cs, lines):
        got = json.loads(line)
        want = expected(c)
        for b in backends:
            assert got[b] == want, (b, c["dim"], c["k"], c["ncls"], len(c["lab"]))


def test_knn_kernels_in_micropython(tmp_path):
    run(tmp_path, None, ["viper", "plain"])


@pytest.mark.parametrize("precision", ["single", "double"])
def test_knn_kernels_on_real_ulab(tmp_path, precision):
    path = _ulab(precision)
    if path is None:
        pytest.skip("no real ulab builds here (../shared/ulab-unix is absent): the ulab backend is "
                    "checked on the stand-in only")
    run(tmp_path, path, ["ulab", "viper", "plain"])


@pytest.mark.parametrize("dim", [1, 4, 45, 256])
def test_knn_topk_on_ulab_standin(ulab_standin, dim):
    import array
    for c in cases():
        if c["dim"] != dim:
            continue
        want = expected(c)
        rows = bytearray(bytes([v & 0xFF for v in c["rows"]]))
        n = len(rows) // dim
        q = bytes([v & 0xFF for v in c["q"]])
        norms = array.array("i", [kernels.sumsq(memoryview(rows)[i * dim:(i + 1) * dim], dim) for i in range(n)])
        qn = kernels.sumsq(q, dim)
        dist = array.array("i", [0] * n)
        kernels.sqdist(q, qn, rows, norms, n, dim, dist)
        assert list(dist) == want["dist"]
        k, ncls = c["k"], c["ncls"]
        for skip in c["skips"]:
            for qnorm in (qn, None):  # None: the backend computes it when it needs it (ulab does)
                top = array.array("i", [-1] * (k * ncls))
                fill = bytearray(ncls)
                kernels.knn_topk(q, qnorm, rows, norms, n, dim, bytes(c["lab"]), k, ncls, top, fill, skip, dist)
                assert [list(top[cl * k:cl * k + fill[cl]]) for cl in range(ncls)] == want["skip%d" % skip][0]


READ_INTS = r"""
import array, sys
from ulab import numpy as np
from tinyenroll import kernels_ulab
vals = [int(v) for v in sys.stdin.readline().split(",")]
f = np.array(vals, dtype=np.float)
out = array.array("i", [-1] * len(vals))
kernels_ulab._read_ints(f, out, len(vals))
print(",".join(str(v) for v in out))
"""

# every value a distance or the left-out mark can take: 0, the edges of each exponent, the largest
# distance (2**24 - 1), 2**24 and the mark 2**25
EDGES = [0, 1, 2, 3, 127, 128, 255, 256, 65535, 65536, 2 ** 23 - 1, 2 ** 23, 2 ** 23 + 1, 2 ** 24 - 1,
         2 ** 24, 2 ** 25] + random.Random(7).sample(range(2 ** 24), 40)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_ulab_answers_decoded_from_float_bytes(tmp_path, precision):
    """_read_ints (the ulab top-k's answers read from the float bytes, no ulab call) gives every
    integer exactly, in both float widths of the real builds."""
    path = _ulab(precision)
    if path is None:
        pytest.skip("no real ulab builds here (../shared/ulab-unix)")
    script = tmp_path / "read_ints.py"
    script.write_text(READ_INTS)
    argv, env = mpy.command(str(script))
    argv[0] = path
    # over stdin: these builds stop ("FATAL: uncaught NLR") on an argument of more than ~256 bytes
    p = subprocess.run(argv, input=",".join(map(str, EDGES)) + "\n", capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert [int(v) for v in p.stdout.split(",")] == EDGES


def test_ulab_answers_decoded_on_the_standin(ulab_standin):
    import array
    from ulab import numpy as unp
    from tinyenroll import kernels_ulab
    out = array.array("i", [-1] * len(EDGES))
    kernels_ulab._read_ints(unp.array(EDGES, dtype=unp.float), out, len(EDGES))
    assert list(out) == EDGES
    out = array.array("i", [-1] * 4)  # only the first n are written
    kernels_ulab._read_ints(unp.array([5, 6, 7, 8], dtype=unp.float), out, 2)
    assert list(out) == [5, 6, -1, -1]


def test_distance_bound_is_refused():
    from tinyenroll import anomaly, enroll
    assert kernels.check_dist_dim(256) == 256
    for bad in (0, 257, 512):
        with pytest.raises(ValueError):
            kernels.check_dist_dim(bad)
        with pytest.raises(ValueError):
            enroll.Enroller(bad)
        with pytest.raises(ValueError):
            anomaly.Detector(bad)


def test_per_step_selection(tmp_path):
    try:
        assert kernels.select("plain", "classify") == "plain"
        assert kernels.names["classify"] == "plain" and kernels.CLASSIFY.__name__.endswith("kernels_plain")
        with pytest.raises(ValueError):
            kernels.select("plain", "train")
        with pytest.raises(ValueError):
            kernels.select("viper", "embed")  # no viper in CPython
        # a profile naming backends this interpreter lacks (viper, in CPython) falls back to the
        # best available (plain, or ulab once a test has put the stand-in on the path)
        best = kernels.available()[0]
        prof = tmp_path / "board.json"
        prof.write_text(json.dumps({"backends": {"embed": "plain", "classify": "viper"}}))
        assert kernels.from_profile(str(prof)) == {"embed": "plain", "classify": best, "anomaly": best}
        assert kernels.from_profile(str(tmp_path / "absent.json"))["embed"] == best
    finally:
        kernels.select("plain")


MPY_LOADED = r"""
import sys
from tinyenroll import kernels
def loaded():
    return sorted(m.split("_")[-1] for m in sys.modules if m.startswith("tinyenroll.kernels_"))
kernels.select(sys.argv[1])
print(loaded())
print(kernels.available(), loaded())
"""


@pytest.mark.parametrize("vm", ["micropython", "ulab-single"])
def test_selecting_a_backend_loads_no_other_backend(tmp_path, vm):
    """select() loads its backend alone, and available()'s probe of viper keeps it only where viper
    is the first choice: a ulab board must not hold viper's machine code beside ulab's (~3.5 KB,
    what kept the ulab demo pipeline from 96K)."""
    script = tmp_path / "loaded.py"
    script.write_text(MPY_LOADED)
    backends = ("plain",)
    if vm == "ulab-single":
        interp = _ulab("single")
        if interp is None:
            pytest.skip("no real ulab build here (../shared/ulab-unix)")
        backends = ("plain", "ulab")
    for backend in backends:
        alone = [backend]
        argv, env = mpy.command(str(script))
        if vm != "micropython":
            argv[0] = interp
        p = subprocess.run(argv + [backend], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        after_select, after_probe = p.stdout.splitlines()
        assert after_select == repr(alone)
        if vm == "micropython":  # viper is the first choice here: the probe keeps it
            assert after_probe == "['viper', 'plain'] %r" % sorted(alone + ["viper"])
        else:
            assert after_probe == "['ulab', 'viper', 'plain'] %r" % sorted(set(alone + ["ulab"]))


MPY_STEPS = r"""
import sys, json
from tinyenroll import kernels
print(json.dumps(kernels.from_profile(sys.argv[1])))
print(json.dumps([kernels.EMBED.__name__, kernels.CLASSIFY.__name__, kernels.ANOMALY.__name__]))
"""


def test_per_step_selection_in_micropython(tmp_path):
    prof = tmp_path / "board.json"
    prof.write_text(json.dumps({"backends": {"embed": "plain", "classify": "viper", "anomaly": "ulab"}}))
    script = tmp_path / "steps.py"
    script.write_text(MPY_STEPS)
    p = mpy.run(str(script), args=[prof])
    assert p.returncode == 0, p.stderr
    names, mods = [json.loads(x) for x in p.stdout.split("\n")[:2]]
    # no ulab in the PyPI unix port: anomaly gets the best available, viper
    assert names == {"embed": "plain", "classify": "viper", "anomaly": "viper"}
    assert [m.split("_")[-1] for m in mods] == ["plain", "viper", "viper"]
