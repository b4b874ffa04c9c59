"""Board half of `tinyenroll anomaly-eval --micropython`: features and detector on recorded windows."""
import gc


def detector_file(path):
    """Features and detector on windows read one per line from a JSON-lines file whose first
    line is the configuration. Prints the threshold, one score per scored window, and
    'heap N' (the most heap the run took beyond its start)."""
    import json
    from .. import anomaly, kernels
    fh = open(path)
    cfg = json.loads(fh.readline())
    kernels.select(cfg["backend"])
    feat = [0] * cfg["dim"]
    learning = True
    count = 0
    gc.collect()
    free0 = low = gc.mem_free()
    det = anomaly.Detector(cfg["dim"], capacity=cfg["capacity"], k=cfg["k"], seed=cfg["seed"], raw=True)
    while True:
        line = fh.readline()
        if not line:
            break
        w = json.loads(line)
        if cfg["kind"] == "band":
            anomaly.band_features(w, cfg["n"], cfg["channels"], feat)
        else:
            anomaly.shape_features(w, cfg["n"], cfg["points"], feat)
        w = line = None
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
