# Runs inside MicroPython (host_tools/evaluate/bench.py starts it): times the on-device pipeline with the
# selected kernel backend and a naive plain-Python baseline of the same computation, printing one
# JSON object per line. Argument: a JSON config file.
import sys
import gc
import json
import time

from tinyenroll import kernels, model, enroll, anomaly

cfg = json.load(open(sys.argv[1]))
kernels.select(cfg["backend"])
REPS = cfg["reps"]


def emit(**kw):
    print(json.dumps(kw))


def timed(fn, reps):
    # (per-call times in us, bytes allocated by one call with the GC off: the step's transient
    # peak). ticks_us counts whole microseconds, so each repetition times `inner` calls, enough
    # for about 2 ms, and reports the mean per call: a 5 us step is then measured to ~0.1%.
    gc.collect()
    inner = 1
    while inner < 4096:
        t = time.ticks_us()
        for _ in range(inner):
            fn()
        if time.ticks_diff(time.ticks_us(), t) >= 2000:
            break
        inner *= 4
    out = []
    for _ in range(reps):
        gc.collect()
        t = time.ticks_us()
        for _ in range(inner):
            fn()
        out.append(time.ticks_diff(time.ticks_us(), t) / inner)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    try:
        fn()
        peak = gc.mem_alloc() - a
    except MemoryError:
        peak = None  # the call allocates more than the heap holds without collecting
    gc.enable()
    # the same with the GC off (collected before each repetition, so a call that allocates
    # pays for the allocation but not for collections): the difference to `out` is the GC's share
    off = []
    room = gc.mem_free() // 2
    n_off = inner if peak is None or peak * inner < room else max(1, room // max(peak, 1))
    for _ in range(reps):
        gc.collect()
        gc.disable()
        try:
            t = time.ticks_us()
            for _ in range(n_off):
                fn()
            off.append(time.ticks_diff(time.ticks_us(), t) / n_off)
        except MemoryError:
            pass
        gc.enable()
    gc.collect()
    TIMED_OFF[0] = off
    return out, peak


TIMED_OFF = [None]  # the GC-off times of the last timed() call


def lcg(seed):
    # small deterministic PRNG so the board and the baseline see the same data
    x = seed
    while True:
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        yield x


def s8(v):
    return v - 256 if v > 127 else v


# ---------------------------------------------------------------- naive baselines

def naive_layers(m):
    # the model as lists of Python ints: what one writes without buffers or kernels
    out = []
    for kind, layer, n in m.layers:
        if kind == model.DENSE:
            w = [[s8(layer.w[i * layer.n_in + j]) for j in range(layer.n_in)] for i in range(layer.n_out)]
            out.append(("dense", w, list(layer.bias), list(layer.shift), layer.lo))
        elif kind == model.CONV1D:
            # w[o][c] is the list of K taps
            kk = layer.kernel
            w = [[[s8(layer.w[(o * layer.in_ch + c) * kk + j]) for j in range(kk)] for c in range(layer.in_ch)]
                 for o in range(layer.out_ch)]
            out.append(("conv1d", w, list(layer.bias), list(layer.shift),
                        (layer.lo, layer.stride, layer.in_len, layer.out_len)))
        elif kind == model.MAXPOOL or kind == model.AVGPOOL:
            out.append(("maxpool" if kind == model.MAXPOOL else "avgpool", None, None, None,
                        (layer.channels, layer.size, layer.in_len, layer.out_len)))
        else:
            out.append((kind, None, None, None, None))
    return out


def naive_embed(layers, x):
    v = [s8(b) for b in x]
    for kind, w, bias, shift, lo in layers:
        if kind == "dense":
            y = []
            for i in range(len(w)):
                acc = bias[i]
                for j in range(len(v)):
                    acc += w[i][j] * v[j]
                k = shift[i]
                if k:
                    acc = (acc + (1 << (k - 1))) >> k
                y.append(min(127, max(lo, acc)))
            v = y
        elif kind == "conv1d":
            lo_, stride, l_in, l_out = lo
            y = []
            for o in range(len(w)):
                k = shift[o]
                for t in range(l_out):
                    acc = bias[o]
                    for c in range(len(w[o])):
                        taps = w[o][c]
                        base = c * l_in + t * stride
                        for j in range(len(taps)):
                            acc += taps[j] * v[base + j]
                    if k:
                        acc = (acc + (1 << (k - 1))) >> k
                    y.append(min(127, max(lo_, acc)))
            v = y
        elif kind == "maxpool" or kind == "avgpool":
            ch, p, l_in, l_out = lo
            y = []
            for c in range(ch):
                for t in range(l_out):
                    win = v[c * l_in + t * p:c * l_in + t * p + p]
                    y.append(max(win) if kind == "maxpool" else (2 * sum(win) + p) // (2 * p))
            v = y
        elif kind == model.RELU:
            # a ReLU anywhere, a leading one included (after dense/conv it changes nothing)
            v = [a if a > 0 else 0 for a in v]
        elif kind == model.L2NORM:
            s = sum([a * a for a in v])
            if s:
                n = kernels.isqrt(s)
                v = [(254 * a + n) // (2 * n) for a in v]
    return v


def naive_classify(rows, labels, q, k, ncls):
    per = [[] for _ in range(ncls)]
    for i in range(len(rows)):
        r = rows[i]
        d = 0
        for j in range(len(q)):
            d += (r[j] - q[j]) * (r[j] - q[j])
        per[labels[i]].append(d)
    scores = []
    for p in per:
        p.sort()
        top = p[:k]
        scores.append(sum(top) // len(top))
    best = min(range(ncls), key=lambda c: scores[c])
    return best, scores[best]


def naive_prototypes(rows, labels, ncls):
    # element-wise round-half-up mean of each class's rows (the rule in enroll.py)
    out = []
    for c in range(ncls):
        members = [rows[i] for i in range(len(rows)) if labels[i] == c]
        n = len(members)
        out.append([(2 * sum([r[j] for r in members]) + n) // (2 * n) for j in range(len(rows[0]))])
    return out


def naive_nearest_proto(protos, q):
    best, bd = 0, None
    for c in range(len(protos)):
        p = protos[c]
        d = 0
        for j in range(len(q)):
            d += (p[j] - q[j]) * (p[j] - q[j])
        if bd is None or d < bd:
            best, bd = c, d
    return best, bd


# ---------------------------------------------------------------- steps

for path in cfg["models"]:
    gc.collect()
    a0 = gc.mem_alloc()
    times = []
    for _ in range(REPS):
        gc.collect()
        t = time.ticks_us()
        m = model.load(path)
        times.append(time.ticks_diff(time.ticks_us(), t))
        m = None
    gc.collect()
    a0 = gc.mem_alloc()
    m = model.load(path)
    gc.collect()
    held = gc.mem_alloc() - a0
    macs = 0
    shapes = []  # [name, n_in, n_out, MACs, ulab dot calls]
    width = m.in_dim
    for kind, layer, n in m.layers:
        lm, calls = 0, 0
        if kind == model.DENSE:
            lm, calls = layer.n_in * layer.n_out, 1
        elif kind == model.CONV1D:
            lm, calls = layer.out_ch * layer.out_len * layer.in_ch * layer.kernel, layer.kernel
        elif kind == model.MAXPOOL or kind == model.AVGPOOL:
            calls = layer.size
        macs += lm
        shapes.append([model.LAYER_NAMES[kind], width, n, lm, calls])
        width = n
    emit(step="load", model=path, us=times, held=held, size=m.size, macs=macs, in_dim=m.in_dim,
         out_dim=m.out_dim, layers=shapes)
    g = lcg(7)
    x = bytes([next(g) & 0xFF for _ in range(m.in_dim)])
    us, peak = timed(lambda: m.embed(x), REPS)
    off = TIMED_OFF[0]
    got = list(bytes(m.embed(x)))
    gc.collect()
    a1 = gc.mem_alloc()
    base_layers = naive_layers(m)
    gc.collect()
    base_held = gc.mem_alloc() - a1  # the model as lists of ints
    if cfg["baseline"]:
        bus, bpeak = timed(lambda: naive_embed(base_layers, x), max(1, REPS // 2))
        same = [v & 0xFF for v in naive_embed(base_layers, x)] == got
    else:
        bus, bpeak, same = None, None, None
    emit(step="embed", model=path, us=us, us_gc_off=off, peak=peak, baseline_us=bus, baseline_peak=bpeak, same=same,
         baseline_held=base_held)
    m = base_layers = None
    gc.collect()

DIM = 32
NCLS = 10
NAMES = ["c%d" % c for c in range(NCLS)]
for n in cfg["sizes"]:
    for mode in ("knn", "prototype"):
        gc.collect()
        a0 = gc.mem_alloc()
        stage = "construct"
        try:
            e = enroll.Enroller(DIM, k=3, mode=mode, capacity=n, max_classes=NCLS, max_per_class=n)
            g = lcg(n)
            # the baseline's lists only when there is a baseline: alone, the backend runs at 96K
            rows, labs = ([None] * n, [0] * n) if cfg["baseline"] else (None, None)
            centres = [[(next(g) % 161) - 80 for _ in range(DIM)] for _ in range(NCLS)]
            v = bytearray(DIM)  # one buffer for every example, as a board application would
            stage = "enroll"
            for i in range(n):
                c = i % NCLS
                cc = centres[c]
                for j in range(DIM):
                    v[j] = (cc[j] + (next(g) % 41) - 20) & 0xFF
                e.add(NAMES[c], v)
                if cfg["baseline"]:
                    rows[i] = [s8(b) for b in v]
                    labs[i] = c
                if i % 64 == 63:
                    gc.collect()
            q = bytes([(centres[3][j] + 5) & 0xFF for j in range(DIM)])
            centres = None
            stage = "calibrate"
            e.calibration()
            stage = "classify"
            gc.collect()
            held = gc.mem_alloc() - a0
            us, peak = timed(lambda: e.classify(q), REPS)
            off = TIMED_OFF[0]
        except MemoryError:
            e = rows = labs = centres = None
            gc.collect()
            emit(step="classify", n=n, mode=mode, error="MemoryError in " + stage, free=gc.mem_free())
            continue
        label, score, _ = e.classify(q)
        # the search kernel alone (distances + per-class top-k): the bytes one call allocates
        gc.collect()
        qn = kernels.sumsq(q, DIM)
        gc.disable()
        a1 = gc.mem_alloc()
        kernels.knn_topk(q, qn, e.rows, e.norms, e.count, DIM, e.lab, 3, NCLS, e._topk, e._fill, -1, e.dist)
        kpeak = gc.mem_alloc() - a1
        gc.enable()
        rec = dict(kernel_peak=kpeak if mode == "knn" else None, step="classify", n=n, mode=mode, us=us, us_gc_off=off, peak=peak, label=label, score=score, held=held)
        if mode == "knn":
            # the search alone, answering the best class as an int (like the C natmod's predict):
            # classify without its answer tuple, whose allocation scans a fragmented heap
            srch = kernels.CLASSIFY.knn_best or enroll.knn_best
            rec["search_us"] = timed(lambda: srch(e, q, None, -1), REPS)[0]
        if cfg["baseline"] and mode == "knn":
            qq = [s8(b) for b in q]
            bus, bpeak = timed(lambda: naive_classify(rows, labs, qq, 3, NCLS), max(1, REPS // 2))
            best, bscore = naive_classify(rows, labs, qq, 3, NCLS)
            rec.update(baseline_us=bus, baseline_peak=bpeak, same=("c%d" % best, bscore) == (e.nearest, score))
        elif cfg["baseline"]:
            # the naive prototypes are computed once (as Enroller.recalibrate does), not timed
            qq = [s8(b) for b in q]
            protos = naive_prototypes(rows, labs, NCLS)
            bus, bpeak = timed(lambda: naive_nearest_proto(protos, qq), max(1, REPS // 2))
            best, bscore = naive_nearest_proto(protos, qq)
            same_p = protos == [[s8(e.protos[c * DIM + j]) for j in range(DIM)] for c in range(NCLS)]
            rec.update(baseline_us=bus, baseline_peak=bpeak,
                       same=same_p and ("c%d" % best, bscore) == (e.nearest, score))
            protos = None
        emit(**rec)
        e = rows = labs = None
        gc.collect()

# bytes per enrolled example: what a bigger capacity holds
gc.collect()
a0 = gc.mem_alloc()
e1 = enroll.Enroller(DIM, capacity=1)
gc.collect()
a1 = gc.mem_alloc()
e2 = enroll.Enroller(DIM, capacity=201)
gc.collect()
a2 = gc.mem_alloc()
emit(step="bytes_per_example", dim=DIM, bytes=(a2 - a1 - (a1 - a0)) / 200.0)
e1 = e2 = None

# anomaly: the normal set at its cap (45 raw band features, capacity 128)
gc.collect()
cap = cfg["anomaly_capacity"]
det = anomaly.Detector(45, capacity=cap, k=2, raw=True)
g = lcg(3)
feat = [0] * 45
for i in range(cap + 20):
    for j in range(45):
        feat[j] = 1000 + (next(g) % 200)
    det.learn(feat)
det.finish()
for j in range(45):
    feat[j] = 1000 + (next(g) % 300)
us, peak = timed(lambda: det.check(feat), REPS)
off = TIMED_OFF[0]
score = det.check(feat)[0]
rec = dict(step="anomaly", capacity=cap, us=us, us_gc_off=off, peak=peak, score=score)
if cfg["baseline"]:
    rows = [[s8(det.rows[i * 45 + j]) for j in range(45)] for i in range(det.count)]
    centre = list(det.center)
    shifts = [s8(b) for b in det.shift]

    def naive_anomaly():
        # quantise the raw features (the rule in anomaly.py), then the k=2 nearest distances
        q8 = []
        for j in range(45):
            d = feat[j] - centre[j]
            e = shifts[j]
            if e >= 0:
                d >>= e
            else:
                d = min(127, max(-127, d)) << -e
            q8.append(min(127, max(-127, d)))
        ds = []
        for r in rows:
            d = 0
            for j in range(45):
                d += (r[j] - q8[j]) * (r[j] - q8[j])
            ds.append(d)
        ds.sort()
        return ds[0] + ds[1]
    bus, bpeak = timed(naive_anomaly, max(1, REPS // 2))
    rec.update(baseline_us=bus, baseline_peak=bpeak, same=naive_anomaly() == score)
emit(**rec)
gc.collect()
emit(step="done", free=gc.mem_free(), alloc=gc.mem_alloc())
