"""Board half of `python -m host_tools.evaluate.bench_voice`: what the whole voice pipeline costs
per second of audio, by stage, and the heap it holds.

    run(model_path, backend, store, enroll_src, listen_src, seconds, n_enroll, classes, frames, mels,
        offset, pct)

The pipeline is the demo's (jobs/voice.py): the integer log-mel front end, the keyword model every
`every` frames through kws.Spotter.step, and the learner's k-NN, with a store of n_enroll windows
(`classes` labels in turn) enrolled first from enroll_src at evenly spaced frames. Then `seconds`
of listen_src go through front end + spotter (after the first window fills), timed per stage with
ticks_us: the model's embed and the learner's classify are timed by thin wrappers the spotter
calls; "spotter" is the rest of Spotter.step (its per-frame ring push, the window copy, the hit
logic). A source is a WAV path (wav.WavMic, no pacing) or "lcg:SEED" (pseudo-random samples at
speech level). Reading the audio is not timed; the GC runs when it must, inside the timing, as on
a board.

Prints lines "key value ...": layer (the model's shapes, counted as bench.py's cost model counts
them), shape (hop, n_fft, n_mels, frames, every, k, the front end's backend), enrolled, held (the
heap the pipeline holds after set-up and enrolling, modules imported before it not counted, and
the heap then free), step (bytes one window's frames allocate with the GC off), time (samples
timed, windows, hits), stage NAME SUM MEDIAN (microseconds: over the run, and the median over its
windows, `every` frames each), mac_us (one viper dense MAC: the median over the kept windows of
CAL calls of the model's dense layer, timed after each window: the calibration), gc_us (one
gc.collect() with the pipeline held), free (with the pipeline held), done.
"""
import array
import gc
import time

KEEP = 64  # windows whose stage times are kept for the medians
CAL = 4    # calls of the dense layer a window, timed for the calibration


class _Timed:
    # what the spotter calls (model.embed, learner.classify), timed; in_dim and knn as the real ones
    def __init__(self, obj):
        self.obj = obj
        self.us = 0
        self.calls = 0
        self.in_dim = getattr(obj, "in_dim", 0)
        self.knn = getattr(obj, "knn", None)

    def input(self):
        return self.obj.input()

    def embed(self, window):
        t = time.ticks_us()
        e = self.obj.embed(window)
        self.us += time.ticks_diff(time.ticks_us(), t)
        self.calls += 1
        return e

    def classify(self, window=None, embedding=None):
        t = time.ticks_us()
        r = self.obj.classify(window, embedding)
        self.us += time.ticks_diff(time.ticks_us(), t)
        self.calls += 1
        return r


class _Lcg:
    # pseudo-random samples at speech level (+-16384), one hop at a time, no allocation per sample;
    # "count" samples long as a WAV is (4 s: enough frames to enroll 20 windows 9 frames apart)
    def __init__(self, seed, count=4 * 16000):
        self.seed = seed
        self.count = count

    def read_window(self, buf, n):
        s = self.seed
        for i in range(n):
            s = (s * 1103515245 + 12345) & 0x7FFFFFFF
            buf[i] = (s >> 16) - 16384
        self.seed = s
        return buf

    def close(self):
        pass


def _source(src):
    if src.startswith("lcg:"):
        return _Lcg(int(src[4:]))  # listening reads "seconds" of it, whatever its count
    from ..audio import wav
    return wav.WavMic(src, speed=0)


def layers(m):
    """[(name, n_in, n_out, MACs, ulab dot calls)] of a loaded model, as bench.op_counts takes them."""
    from .. import model
    out = []
    width = m.in_dim
    for kind, layer, n in m.layers:
        macs, calls = 0, 0
        if kind == model.DENSE:
            macs, calls = layer.n_in * layer.n_out, 1
        elif kind == model.CONV1D:
            macs, calls = layer.out_ch * layer.out_len * layer.in_ch * layer.kernel, layer.kernel
        elif kind == model.MAXPOOL or kind == model.AVGPOOL:
            calls = layer.size
        out.append((model.LAYER_NAMES[kind], width, n, macs, calls))
        width = n
    return out


def _median(a, n):
    # the median of a[:n], sorted in place (insertion sort: nothing allocated)
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v
    return a[n // 2] if n else 0


def run(model_path, backend, store, enroll_src, listen_src, seconds, n_enroll=20, classes=5, frames=64, mels=40,
        offset=-41, pct=150):
    from .. import kernels, model, learner
    from ..audio import kws, logmel
    from . import wipe
    wipe(store)
    kernels.select(backend)
    fe_backend = "plain" if backend == "plain" else "viper"  # the front end has no ulab backend
    gc.collect()
    base = gc.mem_alloc()
    m = model.load(model_path)  # the big buffers first, each in one piece (as jobs/voice.py)
    fe = logmel.LogMel(backend=fe_backend, offset=offset)
    tm = _Timed(m)
    sp = kws.Spotter(tm, None, frames, mels)
    L = learner.Learner(m, store, k=1, capacity=n_enroll, max_per_class=n_enroll, unknown_pct=pct)
    tl = sp.learner = _Timed(L)
    buf = array.array("h", bytes(2 * fe.hop))
    # the bench's own buffers and the listening mic before enrolling: a commit's transients leave a
    # small heap in pieces, so nothing sizable is allocated after it (as a board application would)
    kept = [array.array("i", bytes(4 * KEEP)) for _ in range(5)]
    sums = [0, 0, 0, 0]
    listen = _source(listen_src)
    for row in layers(m):
        print("layer %s %d %d %d %d" % row)
    print("shape %d %d %d %d %d %d %s" % (fe.hop, fe.n_fft, fe.n_mels, sp.frames, sp.every, L.knn.k, fe.backend))
    # enroll n_enroll windows at evenly spaced frames of enroll_src (after the first full window)
    mic = _source(enroll_src)
    gap = max(1, (mic.count // fe.hop - frames - 2) // n_enroll)
    done = 0
    while done < n_enroll:
        mic.read_window(buf, fe.hop)
        f = fe.step(buf)
        if f is None:
            continue
        sp.push(f)
        if sp.n >= frames and (sp.n - frames) % gap == 0:
            L.enroll("w%d" % (done % classes), window=sp.window())
            done += 1
    mic.close()
    L.threshold()  # calibrate once, as the first classify after enrolling would
    print("enrolled %d %d" % (done, len(L.labels())))
    gc.collect()
    print("held %d %d" % (gc.mem_alloc() - base, gc.mem_free()))
    # listen: front end + spotter (model every `every` frames, k-NN) per hop, timed by stage once
    # the spotter's window is full (its first frames are a start-up, not the steady state)
    # the calibration: one viper dense MAC, timed on the model's dense layer (its own scratch
    # buffers, nothing allocated) after every window, so that it meets the same load as the stages
    from .. import kernels_viper
    from ..model import DENSE
    dense = [l for kind, l, n in m.layers if kind == DENSE][-1]
    mic = listen
    fe.reset()
    sp.reset()
    warm = frames + fe.n_fft // fe.hop - 1  # hops before the first full window
    every = sp.every
    groups = min(seconds * 16000 // fe.hop, mic.count // fe.hop - warm) // every
    # per stage: the sum over the run's windows (`every` frames each) and, for the medians, the
    # times of up to KEEP windows evenly spread over the run
    keep = min(groups, KEEP)
    hits = timed = 0
    step = -1
    t_fe = t_sp = 0
    while timed < groups * every:
        try:
            mic.read_window(buf, fe.hop)
        except EOFError:  # the warm-up took the end of the recording
            break
        if sp.n < frames:  # filling the window, untimed
            f = fe.step(buf)
            if f is not None:
                sp.step(f)
            continue
        if timed == 0:  # the first window's frames with the GC off: what they allocate
            gc.collect()
            gc.disable()
            a = gc.mem_alloc()
        if timed % every == 0:
            m0, k0 = tm.us, tl.us
        t = time.ticks_us()
        f = fe.step(buf)
        t1 = time.ticks_us()
        t_fe += time.ticks_diff(t1, t)
        if f is not None and sp.step(f) is not None:
            hits += 1
        t_sp += time.ticks_diff(time.ticks_us(), t1)
        timed += 1
        if timed % every == 0:
            g = timed // every - 1
            dm, dk = tm.us - m0, tl.us - k0
            slot = g * keep // groups
            t_sp -= dm + dk
            sums[0] += t_fe
            sums[1] += t_sp
            sums[2] += dm
            sums[3] += dk
            kept[0][slot] = t_fe
            kept[1][slot] = t_sp
            kept[2][slot] = dm
            kept[3][slot] = dk
            t_fe = t_sp = 0
            t = time.ticks_us()
            for _ in range(CAL):
                kernels_viper.dense(dense, m._a, m._b)
            kept[4][slot] = time.ticks_diff(time.ticks_us(), t)
            if timed == every:
                step = gc.mem_alloc() - a
                gc.enable()
    if timed < every:
        gc.enable()
    mic.close()
    if timed // every < groups:  # the audio ended first: the slots written so far
        keep = (timed // every - 1) * keep // groups + 1 if timed >= every else 0
    groups = timed // every
    print("step %d" % step)
    print("time %d %d %d" % (groups * every * fe.hop, groups, hits))
    for i, name in enumerate(("frontend", "spotter", "model", "knn")):
        print("stage %s %d %d" % (name, sums[i], _median(kept[i], keep)))
    print("mac_us %.6f" % (_median(kept[4], keep) / (CAL * dense.n_in * dense.n_out)))
    for i in range(5):  # one collection with the pipeline held (its share of the run's mean)
        t = time.ticks_us()
        gc.collect()
        kept[0][i] = time.ticks_diff(time.ticks_us(), t)
    print("gc_us %d" % _median(kept[0], 5))
    print("free %d" % gc.mem_free())
    print("done")

