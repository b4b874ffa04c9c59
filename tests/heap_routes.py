# Run on a board (mpremote run) after an install route: the heap held by importing
# tinyenroll.learner + tinyenroll.model, then with the demo model and 200 enrolled examples.
# Needs /model.tem. Prints "HEAP import=.. total=.. free=.." (bytes) or "HEAP MemoryError ...".
# `micropython heap_routes.py IMAGE MODEL`: the ROMFS route instead, the package imported from a
# ROMFS image mounted at /rom (the image's bytes, read first, stand in for the board's flash).
import gc
import sys
model_path = "/model.tem"
store = "/heapcheck"
if len(getattr(sys, "argv", ())) > 2:
    import vfs
    f = open(sys.argv[1], "rb")
    image = f.read()
    f.close()
    vfs.mount(vfs.VfsRom(image), "/rom")
    sys.path.insert(0, "/rom/lib")
    model_path = sys.argv[2]
    store = "heapcheck"  # in the current folder
gc.collect()
base = gc.mem_alloc()
try:
    import tinyenroll.learner, tinyenroll.model
    gc.collect()
    imp = gc.mem_alloc() - base
    m = tinyenroll.model.load(model_path)
    L = tinyenroll.learner.Learner(m, store, k=3, capacity=200, max_classes=10, max_per_class=20)
    w = bytearray(m.in_dim)
    for i in range(200):
        for j in range(len(w)):
            w[j] = (i * 7 + j * 13) & 0xFF
        L.enroll("c%d" % (i % 10), w)
    gc.collect()
    print("HEAP import=%d total=%d free=%d" % (imp, gc.mem_alloc() - base, gc.mem_free()))
    print("MODULES", " ".join(sorted(k for k in sys.modules if k.startswith("tinyenroll"))))
    print("FROM", tinyenroll.learner.__file__)
except MemoryError as e:
    gc.collect()
    print("HEAP MemoryError after %d bytes: %s" % (gc.mem_alloc() - base, e))
