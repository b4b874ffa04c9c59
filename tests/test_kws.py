"""The keyword spotter (firmware/audio/kws.py) on synthetic log-mel streams: its window is the
last frames channel-major, a take is found by its energy and centred, a word is detected once
per refractory period, and the real MicroPython at 96K gives the same answers as CPython."""
import json
import subprocess
import sys

import numpy as np
import pytest

from host_tools.board import mpy
from host_tools.learn import quantize
from host_tools.oracle import modelfile
from tinyenroll import learner
from tinyenroll.audio import kws
from tinyenroll.errors import InputError

FRAMES, MELS = 24, 8
SILENCE = -60


def stream(words, rng, gap=20, loud=50):
    """Frames (n, MELS) int8: silence with noise, and each word (a (len, MELS) pattern) at +loud."""
    parts = [rng.integers(-3, 4, (gap, MELS)) + SILENCE]
    for w in words:
        parts.append(np.clip(w + SILENCE + loud, -128, 127))
        parts.append(rng.integers(-3, 4, (gap, MELS)) + SILENCE)
    return np.concatenate(parts).astype(np.int8)


def test_window_is_the_last_frames_channel_major():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (100, MELS)).astype(np.int8)
    sp = kws.Spotter(None, None, FRAMES, MELS)
    for n in range(1, len(x) + 1):
        sp.push(x[n - 1].tobytes())
        if n >= FRAMES:
            assert bytes(sp.window()) == x[n - FRAMES:n].T.tobytes(), n


@pytest.mark.parametrize("length", [4, 7, 8])  # 8 = FRAMES - 2 * hang: the longest centred take
def test_a_take_is_found_by_its_energy_and_centred(length):
    rng = np.random.default_rng(length)
    word = rng.integers(-5, 6, (length, MELS))
    x = stream([word], rng)
    sp = kws.Spotter(None, None, FRAMES, MELS)
    got = [(n, bytes(w)) for n, f in enumerate(x, 1) if (w := sp.take(f.tobytes())) is not None]
    assert len(got) == 1, got
    n, w = got[0]
    win = np.frombuffer(w, np.int8).reshape(MELS, FRAMES).T
    loud = np.nonzero(win.sum(axis=1) > SILENCE * MELS + 20 * MELS)[0]
    assert len(loud) == length
    assert abs((loud[0] + loud[-1] + 1) / 2 - FRAMES / 2) <= 1, loud    # the take in the middle


def test_a_longer_take_ends_the_window_and_a_take_over_frames_minus_hang_is_refused():
    rng = np.random.default_rng(1)
    for length in (12, 16):                   # up to FRAMES - hang: whole, `hang` frames before the end
        x = stream([rng.integers(-5, 6, (length, MELS))], rng)
        sp = kws.Spotter(None, None, FRAMES, MELS)
        got = [bytes(w) for f in x if (w := sp.take(f.tobytes())) is not None]
        assert len(got) == 1
        win = np.frombuffer(got[0], np.int8).reshape(MELS, FRAMES).T
        loud = np.nonzero(win.sum(axis=1) > SILENCE * MELS + 20 * MELS)[0]
        assert len(loud) == length and loud[-1] == FRAMES - 8 - 1, loud
    for length in (17, 40):  # 40: over the window while still speaking; its tail is no new take
        x = stream([rng.integers(-5, 6, (length, MELS))], rng)
        sp = kws.Spotter(None, None, FRAMES, MELS)
        assert all(sp.take(f.tobytes()) is None for f in x), length
        assert sp.refused == "long"


class _Scripted:
    """A model and learner whose classifications follow a script (one label per window)."""

    def __init__(self, labels):
        self.labels = list(labels)
        self.in_dim = FRAMES * MELS
        self.knn = self

    def embed(self, window):
        return b""

    def classify(self, embedding=None):
        self.nearest = 0
        return self.labels.pop(0), 0, 0


@pytest.mark.parametrize("confirm, want", [(1, [2, 4, 7, 10]), (2, [5, 8]), (3, [6])])
def test_a_hit_needs_confirm_classifications_in_a_row(confirm, want):
    script = [None, "a", None, "a", "a", "a", "b", "b", None, "b", "b" if confirm == 1 else None]
    fake = _Scripted(script)
    sp = kws.Spotter(fake, fake, FRAMES, MELS, every=1, refractory=0, confirm=confirm)
    hits = []
    for i in range(FRAMES - 1 + len(script)):
        if sp.step(bytes(MELS)) is not None:
            hits.append(sp.n - FRAMES + 1)     # which classification fired
    assert hits == want


def test_bad_settings_and_frames_are_refused():
    with pytest.raises(InputError, match="frames too short"):
        kws.Spotter(None, None, 10, MELS)
    with pytest.raises(InputError, match="confirm"):
        kws.Spotter(None, None, FRAMES, MELS, confirm=0)
    sp = kws.Spotter(None, None, FRAMES, MELS)
    with pytest.raises(InputError, match="frame has 7 values, expected 8"):
        sp.push(bytes(7))


def _model(tmp_path):
    # each band's loudest frame in the window (maxpool over all FRAMES), L2-normalised: a word
    # gives the same embedding wherever it sits in the window
    calib = np.random.default_rng(0).integers(-128, 128, (20, MELS * FRAMES))
    m = quantize.quantize_layers([("maxpool", FRAMES)], calib, 1.0, in_channels=MELS, l2norm=True, pct=100)
    path = str(tmp_path / "kws.tem")
    modelfile.write(path, m)
    return path


def _scenario(tmp_path):
    """Two words enrolled from three takes each, then a stream holding each word twice and a
    word never enrolled; written as files both interpreters read."""
    rng = np.random.default_rng(7)
    path = _model(tmp_path)
    # three words of 6 frames: a spectral shape each (low bands loud, high bands loud, alternating),
    # +-6 of noise in every take and every word heard
    a, b, c = (np.repeat(np.array([shape]) * 30, 6, axis=0) for shape in
               ([1, 1, 1, 1, -1, -1, -1, -1], [-1, -1, -1, -1, 1, 1, 1, 1], [1, -1, 1, -1, 1, -1, 1, -1]))
    takes = {"alpha": stream([a + rng.integers(-6, 7, a.shape) for _ in range(3)], rng),
             "bravo": stream([b + rng.integers(-6, 7, b.shape) for _ in range(3)], rng)}
    listen = stream([w + rng.integers(-6, 7, w.shape) for w in (a, b, c, b, a)], rng, gap=40)
    for name, x in takes.items():
        (tmp_path / (name + ".bin")).write_bytes(x.tobytes())
    (tmp_path / "listen.bin").write_bytes(listen.tobytes())
    return path


SCRIPT = """
import sys
from tinyenroll import model, learner
from tinyenroll.audio import kws
d = sys.argv[1]
FRAMES, MELS = %d, %d
m = model.load(d + "/kws.tem")
L = learner.Learner(m, d + "/learned-" + sys.argv[2], k=1, capacity=20)
sp = kws.Spotter(m, L, FRAMES, MELS, every=2, confirm=int(sys.argv[3]))
for name in ("alpha", "bravo"):
    with open(d + "/" + name + ".bin", "rb") as f:
        x = f.read()
    for i in range(0, len(x), MELS):
        w = sp.take(x[i:i + MELS])
        if w is not None:
            L.enroll(name, window=w)
            print("take", name, sp.n)
with open(d + "/listen.bin", "rb") as f:
    x = f.read()
sp.reset()
for i in range(0, len(x), MELS):
    hit = sp.step(x[i:i + MELS])
    if hit is not None:
        print("hit", sp.n, hit[0], hit[1])
print("labels", L.labels())
""" % (FRAMES, MELS)


@pytest.mark.parametrize("confirm", [1, 2])
def test_enroll_by_takes_then_detect_in_cpython_and_micropython(tmp_path, confirm):
    _scenario(tmp_path)
    script = tmp_path / "kws_run.py"
    script.write_text(SCRIPT)
    cp = subprocess.run([sys.executable, str(script), str(tmp_path), "cp", str(confirm)], capture_output=True,
                        text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    mp = mpy.run(str(script), heap="96K", args=(str(tmp_path), "mp", str(confirm)))
    assert mp.returncode == 0, mp.stderr
    assert mp.stdout == cp.stdout
    lines = cp.stdout.splitlines()
    assert [l.split()[1] for l in lines if l.startswith("take")] == ["alpha"] * 3 + ["bravo"] * 3
    assert lines[-1] == "labels [('alpha', 3), ('bravo', 3)]"
    hits = [l.split()[2] for l in lines if l.startswith("hit")]
    # each spoken word once (the refractory period keeps a word from firing twice), in order;
    # the never-enrolled word is not detected as either
    assert hits == ["alpha", "bravo", "bravo", "alpha"], lines
