# Run on a board (mpremote run) after an install route: the heap held by importing
# tinyenroll.learner + tinyenroll.model, then with the demo model and 200 enrolled examples.
# Needs /model.tem. Prints "HEAP import=.. total=.. free=.." (bytes) or "HEAP MemoryError ...".
import gc
gc.collect()
base = gc.mem_alloc()
try:
    import tinyenroll.learner, tinyenroll.model
    gc.collect()
    imp = gc.mem_alloc() - base
    m = tinyenroll.model.load("/model.tem")
    L = tinyenroll.learner.Learner(m, "/heapcheck", k=3, capacity=200, max_classes=10, max_per_class=20)
    w = bytearray(m.in_dim)
    for i in range(200):
        for j in range(len(w)):
            w[j] = (i * 7 + j * 13) & 0xFF
        L.enroll("c%d" % (i % 10), w)
    gc.collect()
    import sys
    print("HEAP import=%d total=%d free=%d" % (imp, gc.mem_alloc() - base, gc.mem_free()))
    print("MODULES", " ".join(sorted(k for k in sys.modules if k.startswith("tinyenroll"))))
except MemoryError as e:
    gc.collect()
    print("HEAP MemoryError after %d bytes: %s" % (gc.mem_alloc() - base, e))
