# Runs inside a micropython interpreter (the PyPI unix port or a real ulab build): for every JSON
# case on stdin-file argv[1], every backend in argv[2:] computes sqdist, class_topk and knn_topk
# and the scores step, enroll.class_best or viper's own (and the per-step selection is used as a board would); one JSON answer line per case.
import sys
import json
import array
import gc
from tinyenroll import kernels, enroll

backends = sys.argv[2:]
for line in open(sys.argv[1]):
    c = json.loads(line)
    dim, k, ncls = c["dim"], c["k"], c["ncls"]
    rows = bytearray(bytes([v & 0xFF for v in c["rows"]]))
    n = len(rows) // dim
    q = bytes([v & 0xFF for v in c["q"]])
    lab = bytes(c["lab"])
    res = {}
    for b in backends:
        kernels.select(b, "classify")
        norms = array.array("i", [kernels.sumsq(memoryview(rows)[i * dim:(i + 1) * dim], dim) for i in range(n)])
        qn = kernels.sumsq(q, dim)
        dist = array.array("i", [-1] * n)
        kernels.sqdist(q, qn, rows, norms, n, dim, dist)
        out = {"norms": list(norms), "qn": qn, "dist": list(dist)}
        for skip in c["skips"]:
            top = array.array("i", [-1] * (k * ncls))
            fill = bytearray(b"\x07" * ncls)
            kernels.class_topk(dist, lab, n, k, ncls, top, fill, skip)
            a = [list(top[cl * k:cl * k + fill[cl]]) for cl in range(ncls)]
            top = array.array("i", [-1] * (k * ncls))
            fill = bytearray(b"\x07" * ncls)
            scratch = array.array("i", [0] * max(n, 1))
            gc.collect()
            # qnorm None on every other skip: a backend that needs it computes it
            kernels.knn_topk(q, qn if skip % 2 else None, rows, norms, n, dim, lab, k, ncls, top, fill, skip, scratch)
            out["skip%d" % skip] = [a, [list(top[cl * k:cl * k + fill[cl]]) for cl in range(ncls)]]
            if min(fill[:ncls]) > 0:  # the scores step: every class holds a row (as in the Enroller)
                sc = array.array("i", [-7] * (ncls + 1))
                best = getattr(kernels.CLASSIFY, "_class_best", enroll.class_best)(top, fill, k, ncls, sc)
                out["skip%d" % skip].append([best, list(sc)])
        res[b] = out
    print(json.dumps(res))
