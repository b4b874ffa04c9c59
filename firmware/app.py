"""The maker's REPL: teach the board from its own sensor in a few short calls.

    >>> import tinyenroll.app as te      # one banner line: board, model, sensor, what is learned
    >>> te.enroll("wave", n=3)           # countdown, record, enroll, x3; says how far from the rest
    >>> te.classify()                    # one window: "wave (distance 812, margin 3340)" or "unknown"
    >>> te.live()                        # answers as they change (temporal filter); Ctrl-C stops
    >>> te.learn_normal(60); te.watch()  # anomaly: a minute of "normal", then flag what is not
    >>> te.status(); te.labels(); te.forget("wave"); te.undo(); te.freeze(); te.help()

Everything comes from /board.json, which `tinyenroll flash` installs: the sensor and its rate,
the window, the model and its front end, the store. Buffers are allocated once, on first use.
"""
import gc
import json
import time

from .ints import err, unload  # err: errors.<kind>, imported only when one is raised


PROFILE = "/board.json"

cfg = None       # /board.json
sensor = None
model = None
learner = None
_raw = None      # one window of raw samples, channel-interleaved int16
_x = None        # the model's int8 input
_n = 0           # samples per window
_det = None      # anomaly detector, once learn_normal() ran or one is stored
_feat = None


def _setup():
    # big buffers right after the code that needs them, each after a collection: on a small
    # heap, importing everything first leaves only small holes for them
    global cfg, sensor, model, learner, _raw, _x, _n
    if cfg is not None:
        return
    import array
    with open(PROFILE) as f:
        c = json.load(f)
    # keep only what the app reads (the profile's descriptions would stay in RAM for nothing)
    c = {"name": c.get("name"), "sensor": {"driver": c["sensor"]["driver"]}, "app": c.get("app", {}),
         "model": c.get("model", {}), "sample_rate_hz": c.get("sample_rate_hz", 50)}
    gc.collect()
    app = c.get("app", {})
    m = c.get("model", {})
    from . import model as model_mod
    gc.collect()
    model = model_mod.load(m.get("path", "/model.tem"))
    channels = m.get("channels", 1)
    length = m.get("length", model.in_dim // channels)
    if length * channels != model.in_dim:
        raise err("InputError", "the model takes %d values, %d channels x %d points is %d"
                         % (model.in_dim, channels, length, length * channels))
    _n = c.get("sample_rate_hz", 50) * app.get("window_ms", 2000) // 1000
    _raw = array.array("h", bytes(2 * _n * channels))
    _x = bytearray(model.in_dim)
    from . import learner as learner_mod
    gc.collect()
    learner = learner_mod.Learner(model, app.get("store", "/learned"), k=app.get("k", 3),
                                  capacity=app.get("capacity", 60), max_classes=app.get("max_classes", 8),
                                  max_per_class=app.get("max_per_class", 10),
                                  unknown_pct=app.get("unknown_pct", m.get("unknown_pct", 150)),
                                  unknown_dist=app.get("unknown_dist", m.get("unknown_dist")))
    gc.collect()  # the learner's start-up code is dropped after use: free it before the sensor's
    from . import sensors
    sensor = sensors.from_profile(PROFILE)
    if sensor.channels != channels:
        raise err("InputError", "the model takes %d channels, the sensor gives %d" % (channels, sensor.channels))
    _n = sensor.rate_hz * app.get("window_ms", 2000) // 1000
    if len(_raw) < _n * channels:
        _raw = array.array("h", bytes(2 * _n * channels))
    cfg = c


def _window():
    """Read one window from the sensor into _raw and turn it into the model's input _x."""
    from . import frontend
    capture()
    m = cfg.get("model", {})
    frontend.prepare(_raw, _n, sensor.channels, model.in_dim // sensor.channels, _x, m.get("groups", 1))
    return _x


def _countdown(seconds):
    for i in range(seconds, 0, -1):
        print(i, end=" ")
        time.sleep(1)
    print("go")


def _wait_trigger(trigger, countdown):
    if trigger == "motion":
        _wait_motion(cfg.get("app", {}).get("motion_level", 2000))
    elif trigger == "button":
        _wait_button()
    else:
        _countdown(countdown)


def _wait_motion(level):
    """Block until the sensor's sample-to-sample change (sum over channels) exceeds level."""
    import array
    print("move to start...")
    c = sensor.channels
    prev = array.array("h", bytes(2 * c))
    cur = array.array("h", bytes(2 * c))
    sensor.read_window(prev, 1)
    while True:
        sensor.read_window(cur, 1)
        e = 0
        for j in range(c):
            e += abs(cur[j] - prev[j])
        if e > level:
            print("go")
            return
        prev, cur = cur, prev


def _wait_button():
    from .sensors.pins import pin as make_pin
    pin = make_pin(cfg["app"].get("button"), False)
    if pin is None:
        raise err("InputError", "no app.button in /board.json")
    print("press the button...")
    while pin.value():
        time.sleep(0.02)
    print("go")


def _fmt(label, score, margin):
    if label is None:
        if score is None:
            return "unknown (nothing enrolled yet)"
        return "unknown (nearest %s at distance %d)" % (learner.knn.nearest, score)
    if margin is None:
        return "%s (distance %d)" % (label, score)
    return "%s (distance %d, margin %d)" % (label, score, margin)


# ---------------------------------------------------------------- enrolling and answering

def capture(countdown=0, trigger=None):
    """One raw window from the sensor, after an optional countdown, or when trigger='motion'
    (the sensor moves past app.motion_level) or 'button' (app.button pressed): array 'h',
    channel-interleaved."""
    _setup()
    if trigger in ("motion", "button"):
        _wait_trigger(trigger, countdown)
    elif countdown:
        _countdown(countdown)
    if hasattr(sensor, "flush"):
        sensor.flush()  # the chip's FIFO holds what it sampled while we waited: start from now
    sensor.read_window(_raw, _n)
    return _raw


def enroll(label, n=3, countdown=3, trigger=None):
    """Record n takes of `label` (each after a countdown, or trigger='motion'/'button') and
    enroll them; then print how far the class lies from the others and the threshold."""
    _setup()
    from .enroll import check_label
    check_label(label)
    learner._learning("enroll")  # refuse before recording anything
    trigger = trigger or cfg.get("app", {}).get("trigger", "countdown")
    for i in range(n):
        print("%s %d/%d: get ready..." % (label, i + 1, n), end=" ")
        _wait_trigger(trigger, countdown)
        emb = model.embed(_window())
        what = learner.enroll(label, embedding=emb)
        print("  %s" % what)
    _separation(label, emb)
    gc.collect()  # leave the heap in one piece for the next REPL line (its compiler needs ~1 KB)


def _separation(label, emb):
    scores = learner.knn.scores(emb)
    names = learner.knn.labels
    threshold = learner.threshold()[0]
    other, best = None, None
    for i in range(len(names)):
        if names[i] != label and (best is None or scores[i] < best):
            other, best = names[i], scores[i]
    if other is None:
        print("%s learned; enroll another class to compare (threshold %d)" % (label, threshold))
    else:
        print("%s learned; nearest other class %s at distance %d, threshold %d: %s"
              % (label, other, best, threshold, "well apart" if best > threshold else "may be confused"))


def classify(countdown=0):
    """Record one window and print the answer; returns (label or None, distance, margin)."""
    _setup()
    if countdown:
        _countdown(countdown)
    r = learner.classify(window=_window())
    print(_fmt(*r))
    return r


def live(seconds=0, hop_ms=None, quiet=False, until=None):
    """Classify overlapping windows continuously and print each change of answer, after the
    temporal-consistency filter. Ctrl-C, `seconds` elapsed or until() true stops it; returns
    the number of answers given."""
    _setup()
    from . import frontend
    from .selflabel import ConsistencyFilter
    hop = sensor.rate_hz * (hop_ms or cfg.get("app", {}).get("hop_ms", 500)) // 1000
    hop = max(1, min(hop, _n))
    c = sensor.channels
    view = memoryview(_raw)
    groups = cfg.get("model", {}).get("groups", 1)
    flt = ConsistencyFilter(max_flip=1, hysteresis=1)
    start = time.time()
    shown = "-"
    answers = 0
    sensor.read_window(_raw, _n)
    print("live: every %d ms, Ctrl-C to stop" % (1000 * hop // sensor.rate_hz))
    try:
        while True:
            frontend.prepare(_raw, _n, c, model.in_dim // c, _x, groups)
            r = learner.classify(window=_x)
            if flt.push(r[0]):
                label = flt.pop()[0]
                answers += 1
                if label != shown and not quiet:
                    print(_fmt(label, r[1], r[2]) if label == r[0] else "%s (filtered)" % label)
                shown = label
            if (seconds and time.time() - start >= seconds) or (until and until()):
                break
            # slide by hop samples: keep the newest part, read the next hop into the tail
            view[:(_n - hop) * c] = view[hop * c:_n * c]
            sensor.read_window(view[(_n - hop) * c:], hop)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        flt = None
        unload("selflabel")  # its RAM is free for the anomaly part (learn_normal, watch)
    return answers


# ---------------------------------------------------------------- anomaly

def _detector(dim):
    global _det, _feat
    from . import anomaly
    if _det is None:
        gc.collect()
        _det = anomaly.Detector.load(learner) or anomaly.Detector(dim, capacity=64, k=2, raw=True)
        _feat = [0] * dim
    return _det


def _level():
    # level-free features unless the profile asks for the level ("app": {"anomaly_level": true}):
    # anomaly-eval chose them on its selection data (a slow rise of the level is then no alarm)
    return cfg["app"].get("anomaly_level", False)


def learn_normal(seconds=60):
    """Learn `seconds` of normal operation (windows every half window), keep it in the store."""
    _setup()
    from . import anomaly, features
    c = sensor.channels
    d = _detector(5 * c)
    if d.phase != anomaly.LEARNING:
        d.reset()
    windows = max(d.k + 2, seconds * sensor.rate_hz * 2 // _n)
    print("learning normal for %d windows (~%d s)..." % (windows, windows * _n // (2 * sensor.rate_hz)))
    for i in range(windows):
        sensor.read_window(_raw, _n)
        features.band_features(_raw, _n, c, _feat, sensor.rate_hz, _level())
        d.learn(_feat)
        if i % 10 == 9:
            print(" %d/%d" % (i + 1, windows))
    d.finish()
    d.save(learner)
    print("normal learned: threshold %d" % d.threshold)


def watch(seconds=0, until=None):
    """Score windows against the learned normal; print flagged ones. Ctrl-C, `seconds` elapsed
    or until() true stops it; returns the number flagged."""
    _setup()
    from . import anomaly, features
    c = sensor.channels
    d = _detector(5 * c)
    if d.phase == anomaly.LEARNING:
        print("nothing learned yet: te.learn_normal(60) first")
        return 0
    flagged = 0
    start = time.time()
    print("watching, Ctrl-C to stop")
    try:
        while True:
            sensor.read_window(_raw, _n)
            features.band_features(_raw, _n, c, _feat, sensor.rate_hz, _level())
            score, bad = d.check(_feat)
            if bad:
                flagged += 1
                print("ANOMALY score %d (threshold %d)" % (score, d.threshold))
            if (seconds and time.time() - start >= seconds) or (until and until()):
                break
    except KeyboardInterrupt:
        print("stopped")
    return flagged


# ---------------------------------------------------------------- inspecting and undoing

def labels():
    """[(label, examples)] and prints them."""
    _setup()
    got = learner.labels()
    print(", ".join("%s x%d" % lc for lc in got) if got else "nothing enrolled")
    return got


def status():
    _setup()
    t, how = learner.threshold()
    print("board %s, sensor %s at %d Hz, window %d samples, model %d -> %d"
          % (cfg.get("name"), cfg["sensor"]["driver"], sensor.rate_hz, _n, model.in_dim, model.out_dim))
    labels()
    print("threshold %s (%s), %s, blocked: %s, generation %d"
          % (t, how, "FROZEN" if learner.frozen else "learning", ", ".join(learner.blocked) or "none",
             learner.store.generation))
    if _det is not None or learner.extra:
        d = _detector(5 * sensor.channels)
        print("anomaly: %s" % ("threshold %d over %d normal windows" % (d.threshold, d.count)
                               if d.count else "nothing learned"))
    gc.collect()
    print("heap free %d" % gc.mem_free())


def forget(label):
    _setup()
    learner.forget(label)
    labels()


def undo():
    """Undo the last change to what is learned (one step; a second undo is refused)."""
    global _det
    _setup()
    _det = None
    gc.collect()  # undo's code is loaded now (tinyenroll.rails): give it the heap in one piece
    learner.rollback()
    labels()
    gc.collect()


def freeze():
    _setup()
    learner.freeze()
    print("frozen: nothing learned changes until te.unfreeze()")


def unfreeze():
    _setup()
    learner.unfreeze()
    print("learning again")


def reset(confirm=False):
    """Forget everything learned (the model stays). Needs reset(True)."""
    global _det
    _setup()
    if not confirm:
        print("this forgets every class and the learned normal: te.reset(True) to do it")
        return
    learner.reset()
    _det = None
    print("everything learned is forgotten")


def help():
    # the text lives in apphelp.py, loaded only here: the app holds no RAM for it otherwise
    from . import apphelp
    print(apphelp.TEXT)
    unload("apphelp")


def banner():
    _setup()
    got = learner.labels()
    print("tinyenroll on %s: model %d -> %d, %s at %d Hz, %d-sample window; %s. te.help() for help"
          % (cfg.get("name"), model.in_dim, model.out_dim, cfg["sensor"]["driver"], sensor.rate_hz, _n,
             ("knows " + ", ".join(l for l, _ in got)) if got else "nothing learned yet"))


try:
    banner()
except Exception as e:  # the REPL must still get the module: say what is missing
    print("tinyenroll.app: %s (flash a model and a board profile: tinyenroll flash)" % (e,))
