"""Board half of `tinyenroll bench`: what the demo pipeline and a k-NN store hold at a board's heap."""
import gc
import time


def fit(model_path, backend, store_prefix):
    """The demo pipeline all at once (model, 200 enrolled examples, an anomaly detector over
    the model's embeddings with a normal set of 64, as README shows). Prints the heap it holds, the heap one
    classify + score step allocates, and the heap left free."""
    gc.collect()
    base = gc.mem_alloc()
    from .. import kernels, model, learner, anomaly
    kernels.select(backend)
    # big buffers first, as a board application should: later small allocations cannot fragment them
    m = model.load(model_path)
    # the learner and detector README shows (tests/test_readme.py checks they are the same)
    L = learner.Learner(m, store_prefix, k=3, capacity=200)
    d = anomaly.Detector(m.out_dim, capacity=64, k=2, guard=L)
    gc.collect()
    for i in range(200):
        e = bytes([((i * 37 + j * 11) % 200 + i % 10 * 5) & 0xFF for j in range(m.out_dim)])
        L.knn.add("c%d" % (i % 10), e)
    for i in range(160):
        d.learn(bytes(m.embed(bytes([(i * 7 + j * 13) & 0xFF for j in range(m.in_dim)]))))
    d.finish()
    f = bytes(m.embed(bytes(m.in_dim)))
    L.threshold()  # calibrate once, as the first classify after enrolling would
    gc.collect()
    held = gc.mem_alloc() - base
    w = bytes(m.in_dim)
    for _ in range(3):  # the pipeline working at this heap, the GC on as on a board
        L.classify(window=w)
        d.check(f)
    # what one step allocates, counted with the GC off: -1 when that does not fit here (the GC
    # would have run within the step; the bench counts it at a larger heap)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    try:
        L.classify(window=w)
        d.check(f)
        step = gc.mem_alloc() - a
    except MemoryError:
        step = -1
    gc.enable()
    gc.collect()
    print(held, step, gc.mem_free())


def store(backend, n):
    """n enrolled 32-d examples (10 classes) alone: prints the heap they hold, the median
    classify time in microseconds and the heap left free."""
    from .. import kernels, enroll
    kernels.select(backend)
    gc.collect()
    a0 = gc.mem_alloc()
    e = enroll.Enroller(32, k=3, capacity=n, max_classes=10, max_per_class=n)
    v = bytearray(32)
    x = 7
    for i in range(n):
        for j in range(32):
            x = (1103515245 * x + 12345) & 0x7FFFFFFF
            v[j] = ((i % 10) * 23 + j * 5 + x % 41) & 0xFF
        e.add("c%d" % (i % 10), v)
    e.calibration()
    gc.collect()
    held = gc.mem_alloc() - a0
    ts = []
    for r in range(15):
        t = time.ticks_us()
        for _ in range(20):
            e.classify(v)
        ts.append(time.ticks_diff(time.ticks_us(), t) / 20)
    ts.sort()
    print(held, ts[7], gc.mem_free())
