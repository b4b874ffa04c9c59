# Runs in the 32-bit MicroPython (host_tools/board/wasm32.py), plain kernel backend: reads
# /data/cases.json (one JSON object a line, written by tests/test_32bit.py) and prints one JSON
# answer a line, which the test compares with the CPython oracle integer for integer.
import array
import binascii
import gc
import json
import sys

from tinyenroll import anomaly, frontend, kernels, learner, model

kernels.select("plain")
SMALL = (1 << 30) - 1
assert sys.maxsize == 2147483647, "not a 32-bit build"
assert isinstance(SMALL, int) and SMALL + 1 > SMALL   # sanity: big ints exist


def allocated(fn, *args):
    """Bytes the heap grew by while fn(*args) ran (0: no big int, no object made)."""
    gc.collect()
    a = gc.mem_alloc()
    fn(*args)
    return gc.mem_alloc() - a


def s8(b):
    return b if isinstance(b, (bytes, bytearray)) else bytes([v & 255 for v in b])


def do_embed(c):
    m = model.Model(bytearray(binascii.unhexlify(c["model"])))
    out = []
    for x in c["inputs"]:
        out.append(binascii.hexlify(bytes(m.embed(binascii.unhexlify(x)))).decode())
    return {"embeddings": out, "out_dim": m.out_dim}


def do_enroll(c):
    fs = "/learn%d" % c["id"]
    L = learner.Learner(None, fs, dim=c["dim"], k=c["k"], mode=c["mode"], capacity=200)
    for label, e in c["enroll"]:
        L.enroll(label, embedding=binascii.unhexlify(e))
    res = [list(L.classify(embedding=binascii.unhexlify(q))) for q in c["queries"]]
    L2 = learner.Learner(None, fs, dim=c["dim"], k=c["k"], mode=c["mode"], capacity=200)   # reload from flash
    res2 = [list(L2.classify(embedding=binascii.unhexlify(q))) for q in c["queries"]]
    return {"answers": res, "reloaded_same": res == res2, "threshold": list(L.threshold())}


def do_frontend(c):
    x = array.array("h", c["x"])
    out = bytearray(c["length"] * c["channels"])
    frontend.prepare(x, c["n"], c["channels"], c["length"], out, c["groups"])
    grew = allocated(frontend.prepare, x, c["n"], c["channels"], c["length"], out, c["groups"])
    return {"out": binascii.hexlify(out).decode(), "alloc": grew}


def do_anomaly(c):
    raw = c["raw"]
    d = anomaly.Detector(c["dim"], capacity=c["capacity"], k=c["k"], seed=c["seed"], raw=raw,
                         adapt_every=c["adapt_every"])
    for v in c["learn"]:
        d.learn(v if raw else s8(v))
    d.finish()
    checks = []
    for v in c["test"]:
        s, f = d.check(v if raw else s8(v))
        checks.append([s, f])
    q = c["test"][0] if raw else s8(c["test"][0])
    d.score(q)
    # the parts of score() that handle large ints: ranking the k nearest (BIG) and the raw
    # quantiser (|x| < 2**29). (to_int8 of an embedding copies it with a slice: one small
    # object a call on any port, not an integer matter.)
    grew = allocated(d._ksum, d.count, -1)
    if raw:
        grew += allocated(d.to_int8, q)
    state = d.to_bytes()
    e = anomaly.Detector.from_bytes(state)
    same = e.to_bytes() == state
    if not c["adapt_every"]:   # without drift adaptation the loaded copy scores as the original did
        same = same and [list(e.check(v if raw else s8(v))) for v in c["test"]] == checks
    # through a learner's power-loss-safe store
    L = learner.Learner(None, "/anom%d" % c["id"], dim=8)
    d.save(L)
    L2 = learner.Learner(None, "/anom%d" % c["id"], dim=8)
    loaded = anomaly.Detector.load(L2)
    return {"threshold": d.threshold, "checks": checks, "state": binascii.hexlify(state).decode(),
            "roundtrip": same, "store_roundtrip": loaded.to_bytes() == state, "score_alloc": grew}


def do_prng(c):
    x = c["x"]
    out = []
    for _ in range(c["n"]):
        x = anomaly.prng_next(x)
        out.append(x)
    grew = allocated(anomaly.prng_next, c["x"])
    return {"values": out, "alloc": grew}


JOBS = {"embed": do_embed, "enroll": do_enroll, "frontend": do_frontend, "anomaly": do_anomaly,
        "prng": do_prng}
for line in open("/data/cases.json"):
    c = json.loads(line)
    try:
        r = JOBS[c["job"]](c)
    except Exception as e:
        sys.print_exception(e)
        r = {"error": "%s: %s" % (type(e).__name__, e)}
    r["job"] = c["job"]
    print(json.dumps(r))
    gc.collect()
print("32-bit OK", sys.implementation._machine, sys.maxsize)
