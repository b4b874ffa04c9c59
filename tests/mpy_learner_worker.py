# Runs a Learner in the interpreter it is started with (real micropython or CPython): one JSON
# request per stdin line, one JSON answer per line: {"ok": result} or {"err": name, "msg": text}.
import sys
import gc
import json
import binascii
from tinyenroll import kernels, learner, model

L = None
M = None
ARGS = None


def emb(req):
    return binascii.unhexlify(req["emb"]) if "emb" in req else None


def win(req):
    return binascii.unhexlify(req["win"]) if "win" in req else None


def new_learner(req):
    global L
    L = learner.Learner(M, req["prefix"], dim=req.get("dim"), k=req.get("k", 3),
                        mode=req.get("mode", "knn"), capacity=req.get("capacity", 200),
                        max_classes=req.get("max_classes", 16), max_per_class=req.get("max_per_class", 20),
                        policy=req.get("policy", "replace"), audit_bytes=req.get("audit_bytes", 4096), max_canaries=req.get("max_canaries", 8),
                        auto_per_hour=req.get("auto_per_hour", 10),
                        auto_share=tuple(req["auto_share"]) if req.get("auto_share") else None,
                        auto_drift=tuple(req["auto_drift"]) if req.get("auto_drift") else None,
                        unknown_pct=req.get("unknown_pct", 150))
    return L.problems


def handle(req):
    global L, M, ARGS
    op = req["op"]
    if op == "backend":
        return kernels.select(req["name"])
    if op == "new":
        ARGS = req
        L = M = None
        gc.collect()
        if req.get("model"):
            M = model.load(req["model"])
        return new_learner(req)
    if op == "reopen":
        # a new Learner from what is on flash, over the model already loaded (a board
        # application loads its model first, once: reloading 15 KB into a heap that 200
        # enrollments have fragmented is not what a board does)
        L = None
        gc.collect()
        return new_learner(ARGS)
    if op == "enroll":
        return L.enroll(req["label"], window=win(req), embedding=emb(req))
    if op == "classify":
        return list(L.classify(window=win(req), embedding=emb(req)))
    if op == "forget":
        return L.forget(req["label"])
    if op == "auto_enroll":
        return L.auto_enroll(req["label"], emb(req), req["t"])
    if op == "set_extra":
        return L.set_extra(req["tag"].encode(), binascii.unhexlify(req["data"]), "extra " + req["tag"])
    if op == "protect":
        return L.protect(req.get("label"), window=win(req), embedding=emb(req), factory=req.get("factory", False))
    if op == "unprotect":
        return L.unprotect(req["index"])
    if op == "canaries":
        return [list(c) for c in L.canaries()]
    if op == "learned":
        e = L.knn
        return {"labels": [list(x) for x in L.labels()], "lab": list(e.lab[:e.count]),
                "rows": binascii.hexlify(e.rows[:e.count * e.dim]).decode(), "manual": e.manual,
                "extra": sorted([k.decode() + binascii.hexlify(v).decode() for k, v in L.extra.items()])}
    if op == "guard":
        return {"frozen": L.frozen, "blocked": L.blocked, "generation": L.store.generation}
    if op == "audit":
        return L.audit()
    if op == "labels":
        return [list(x) for x in L.labels()]
    if op == "threshold":
        return list(L.threshold())
    if op == "set_threshold":
        return L.set_threshold(req["value"])
    if op in ("freeze", "unfreeze", "rollback", "reset"):
        return getattr(L, op)()
    if op in ("block", "unblock"):
        return getattr(L, op)(req["label"])
    if op == "audit_len":
        return len(L.audit())
    if op == "heap":
        gc.collect()
        if not hasattr(gc, "mem_alloc"):
            return None  # CPython has no fixed heap to report
        return [gc.mem_alloc(), gc.mem_free()]
    raise ValueError("unknown op " + op)


while True:
    line = sys.stdin.readline()
    if not line:
        break
    req = json.loads(line)
    try:
        out = {"ok": handle(req)}
    except Exception as e:
        out = {"err": type(e).__name__, "msg": str(e)}
    print(json.dumps(out))
