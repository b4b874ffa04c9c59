"""Board half of the demo's voice part: a word enrolled from spoken takes, then detected in a
stream; both replayed from WAV files through the microphone interface at their real rate."""
import array
import gc
import time


def run(model_path, takes, stream, frames, mels, offset, speed=1, label="word", store="/voice", pct=150, dist=None,
        confirm=1):
    """The model's unknown rule (pct, or a fixed squared distance dist set once the takes are
    enrolled) and hit rule (confirm: classifications in a row), as its .json sidecar gives them.
    Prints "take N" for each take enrolled (N: its frame count), "hit N LABEL SCORE" for each
    detection, then "done FRAMES US_PER_FRAME PEAK_HEAP"."""
    from .. import model, learner
    from ..audio import kws, logmel, wav
    from . import wipe
    wipe(store)  # a fresh store: the demo enrolls its word anew each run
    gc.collect()
    m = model.load(model_path)  # the big buffers first, each in one piece
    fe = logmel.LogMel(offset=offset)
    sp = kws.Spotter(m, None, frames, mels, confirm=confirm)
    L = sp.learner = learner.Learner(m, store, k=1, capacity=20, unknown_pct=pct)
    buf = array.array("h", bytes(2 * fe.hop))
    gc.collect()
    peak = gc.mem_alloc()
    frames_seen = 0
    busy = 0
    for path, listening in ((takes, False), (stream, True)):
        if listening and dist:
            L.set_threshold(dist)
        mic = wav.WavMic(path, speed=speed)
        fe.reset()
        sp.reset()
        for _ in range(mic.count // fe.hop):
            mic.read_window(buf, fe.hop)
            t = time.ticks_us()
            f = fe.step(buf)
            if f is None:
                continue
            if listening:
                hit = sp.step(f)
                if hit is not None:
                    print("hit %d %s %d" % (sp.n, hit[0], hit[1]))
            else:
                w = sp.take(f)
                if w is not None:
                    L.enroll(label, window=w)
                    print("take %d" % sp.n)
            busy += time.ticks_diff(time.ticks_us(), t)
            frames_seen += 1
            if frames_seen % 64 == 0:  # live heap about once a second (outside the timing)
                gc.collect()
                a = gc.mem_alloc()
                if a > peak:
                    peak = a
        mic.close()
    print("done %d %d %d" % (frames_seen, busy // max(frames_seen, 1), peak))
