"""Board half of `tinyenroll anomaly-eval --micropython`: features and detector on recorded windows."""
import gc


def detector_file(path):
    """Features and detector on the windows of a file: one JSON line of configuration, then
    each window as n*channels (or n) little-endian int32 samples, read into one buffer.
    Prints the threshold, one score per scored window, and 'heap N' (the most heap the run
    took beyond its start)."""
    import array
    import json
    from .. import anomaly, features, kernels
    fh = open(path, "rb")
    cfg = json.loads(fh.readline())
    kernels.select(cfg["backend"])
    band = cfg["kind"] == "band"
    w = array.array("i", bytes(4 * cfg["n"] * (cfg["channels"] if band else 1)))
    feat = [0] * cfg["dim"]
    learning = True
    count = 0
    gc.collect()
    free0 = low = gc.mem_free()
    level = cfg.get("level", True)
    det = anomaly.Detector(cfg["dim"], capacity=cfg["capacity"], k=cfg["k"], seed=cfg["seed"], raw=True,
                           margin=tuple(cfg.get("margin", (1, 1))), adapt_every=cfg.get("adapt", 0))
    while fh.readinto(w) == 4 * len(w):
        if band:
            features.band_features(w, cfg["n"], cfg["channels"], feat, cfg.get("rate", 64), level)
        else:
            features.shape_features(w, cfg["n"], cfg["points"], feat, level)
        if learning and det.seen == cfg["learn"]:
            det.finish()
            learning = False
            print(det.threshold)
        if learning:
            det.learn(feat)
        else:
            print(det.check(feat)[0])
        count += 1
        if learning or count % 16 == 0:
            gc.collect()
            low = min(low, gc.mem_free())
    fh.close()
    print("heap", free0 - low)
