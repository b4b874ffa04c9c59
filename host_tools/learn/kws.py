"""The keyword recipe: a spoken-word embedding on the board's integer log-mel frames, trained on
the SYNTHETIC speech corpus (host_tools/data/speech.py) and exported as an int8 model.

    tinyenroll train --recipe kws [--out host_tools/models/kws.tem] [--smoke]

What it sees: the corpus's TRAIN voices saying BASE words, nothing else. `train_windows()` has
no split argument: it reads speech.load("train") and refuses (DataError) any utterance whose
voice is not a train voice or whose word is not a base word, so neither a validation/test voice
nor a NOVEL word can reach training (tests/test_kws.py). Validation voices are for the choices
(`tinyenroll fewshot --dataset speech`); test voices for `--final-test`, run once, later.

Input (what the board feeds the model): the firmware's integer log-mel front end
(firmware/audio/logmel.py; its numpy twin host_tools/oracle/logmel.py, bit-identical) at
OFFSET, 40 bands, one int8 frame per 16 ms hop; FRAMES frames (1.04 s) laid out channel-major
(band m's FRAMES values, then band m+1's: x[m*FRAMES + t]), so the model's conv1d runs over
time with the bands as channels. Each utterance is placed in the window by its energy
centroid (frames weighted by power relative to the loudest); where the recording is shorter
than the window, its own leading background (the first 128 ms, before the word, mirrored and
tiled) pads the audio on both sides, as a stream would have background around the word.

Model (ARCH): conv1d(40->32, k5, s2) relu, conv1d(32->48, k3, s2) relu, maxpool 2,
dense(336->32), L2 norm (motion.build, with batch norm folded at export).
Objective: supervised contrastive (SupCon, temperature TAU) over the 40 base words between two
augmented views of each utterance (time shift, time stretch 0.8-1.25, gain +-6 dB, a band mask
and a frame mask, noise), i.e. every other utterance of the same word by any voice is a
positive; no classifier head is kept. Beside them, each step, windows that are not a centred word
(negatives(): the detector's real task, a window sliding over a stream), each its own class.
Deterministic on one CPU thread: same seed, same file.
"""
import os
import time

import numpy as np

from . import motion, quantize
from ..data import speech
from ..data.cache import cache_dir
from ..oracle import logmel, modelfile
from ..oracle.errors import DataError

MELS = logmel.N_MELS
FRAMES = 64
SLACK = 8            # extra frames kept each side of the window for time-shift augmentation
OFFSET = -41         # int8 level: 40 above the front end's default (speech peaks -3 dBFS -> ~119)
INPUT_SCALE = 1.0 / 32
LEAD = 2048          # samples of leading background used to pad short recordings
ARCH = dict(c1=32, k1=5, s1=2, c2=48, k2=3, s2=2, pool=2, dim=32)
# neg windows a step that are not a centred word (negatives(): a word off[0]..off[1] frames off
# the centre, two words of a voice straddling the centre, background), cut from the train windows
# made `wide` frames wider each side; negclass 0: each a SupCon class of its own (pushed from every
# word and from each other); 1 (tried, not shipped): all of them one extra class
RECIPE = dict(steps=3000, batch=192, lr=3e-3, wd=1e-4, tau=0.1, shift=SLACK, stretch=0.25, gain=16,
              fmask=5, tmask=8, noise=2.0, seed=0, neg=64, wide=48, off=[22, 44], straddle=16, negclass=0)
SMOKE = dict(steps=4, batch=16)
# The recipe before the negatives (the model shipped before; README): dict(RECIPE, neg=0)
# The spotter's rule for this model, written to the .json sidecar (kws-eval and the demo read it):
# chosen by `tinyenroll kws-eval --streams 72 --choose` on validation voices (the most detections
# with at most 1 false accept per hour, ties to the tighter; README)
RULE = dict(unknown_dist=1500, confirm=1)
FEATURE_VERSION = 1


def _background(x, n):
    """n samples of x's leading background (before the word), mirrored and tiled."""
    seg = np.asarray(x[:min(LEAD, x.size)], np.int64)
    if seg.size == 0:
        return np.zeros(n, np.int64)
    return np.resize(np.concatenate([seg, seg[::-1]]), n)


def utterance_window(x, frames=FRAMES, slack=SLACK, offset=OFFSET):
    """int8 (MELS, frames + 2 slack) log-mel of one int16 utterance, placed by its energy centroid."""
    x = np.asarray(x, np.int64)
    want = frames + 2 * slack
    pad = (want // 2 + 2) * logmel.HOP
    a = np.concatenate([_background(x, pad)[::-1], x, _background(x, pad)])
    L = logmel.logmel(a, offset=offset, check=False)
    e = L.astype(np.float64).mean(1)
    w = 2.0 ** ((e - e.max()) / 8.0)          # power relative to the loudest frame (8 units = 1 octave)
    c = int(round(float((np.arange(len(e)) * w).sum() / w.sum())))
    start = min(max(c - want // 2, 0), len(L) - want)
    return np.ascontiguousarray(L[start:start + want].T)


def _windows_of(d, frames, slack, offset, progress=None):
    n = len(d["word"])
    out = np.empty((n, MELS, frames + 2 * slack), np.int8)
    for i in range(n):
        out[i] = utterance_window(speech.utterance(d, i), frames, slack, offset)
        if progress and (i + 1) % 1000 == 0:
            progress("  log-mel %d/%d" % (i + 1, n))
    return out


def _split_windows(split, frames=FRAMES, slack=SLACK, offset=OFFSET, per_word=None, seed=0, progress=print):
    """(X int8 (n, MELS, frames + 2 slack), words [str], variants [str]) of a corpus split, cached."""
    src = speech.cache_path(split, per_word, seed)
    path = os.path.join(cache_dir(), "speech", "logmel-%s-f%d-s%d-o%d-v%d.npz" % (
        os.path.basename(src)[:-4], frames, slack, offset, FEATURE_VERSION))
    if not os.path.exists(path):
        d = speech.load(split, per_word, seed, progress=bool(progress))
        if progress:
            progress("computing the board's log-mel frames of the %s split (SYNTHETIC speech)" % split)
        X = _windows_of(d, frames, slack, offset, progress)
        words = np.array([d["meta"]["words"][i] for i in d["word"]])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp.npz"
        np.savez(tmp, X=X, words=words, variants=d["variant"])
        os.replace(tmp, path)
    with np.load(path) as z:
        return z["X"], z["words"], z["variants"]


def train_windows(frames=FRAMES, slack=SLACK, offset=OFFSET, progress=print, voices=False):
    """The only data training gets: TRAIN voices, BASE words. (X, word index into speech.BASE),
    and with voices=True each utterance's voice variant (index into the train voices) as well."""
    X, words, variants = _split_windows("train", frames, slack, offset, progress=progress)
    train_voices = set(speech.voice_split()["train"])
    bad = sorted(set(variants.tolist()) - train_voices)
    if bad:
        raise DataError("the training split holds voice %s, which is not a train voice" % bad[0])
    novel = sorted(set(words.tolist()) - set(speech.BASE))
    if novel:
        raise DataError("the training split holds word %r, which is not a base word" % novel[0])
    y = np.array([speech.BASE.index(w) for w in words])
    if voices:
        order = sorted(train_voices)
        return X, y, np.array([order.index(v) for v in variants.tolist()])
    return X, y


def eval_windows(split, frames=FRAMES, offset=OFFSET, progress=print):
    """Centre windows (n, MELS*frames) int8 of the validation or test voices, their words and voices."""
    if split not in ("validation", "test"):
        raise DataError("eval_windows takes validation or test, not %r" % (split,))
    X, words, variants = _split_windows(split, frames, SLACK, offset, progress=progress)
    X = X[:, :, SLACK:SLACK + frames]
    return np.ascontiguousarray(X).reshape(len(X), -1), words, variants


class Augment:
    """Random views of (n, MELS, FRAMES + 2 SLACK) int8 windows -> float32 model inputs."""

    def __init__(self, rng, shift, stretch, gain, fmask, tmask, noise, frames=FRAMES, **_):
        self.rng, self.frames = rng, frames
        self.shift, self.stretch, self.gain = shift, stretch, gain
        self.fmask, self.tmask, self.noise = fmask, tmask, noise

    def __call__(self, X, at=None):
        """at: where each view's centre lies, in frames from X's centre (default: uniform within
        +- shift, the word's own views)."""
        rng, T = self.rng, self.frames
        n, M, W = X.shape
        r = np.exp(rng.uniform(-1, 1, n) * np.log(1 + self.stretch)) if self.stretch else np.ones(n)
        span = np.minimum(T * r, W - 1)                      # source frames the window covers
        centre = (W - 1) / 2 + (rng.uniform(-self.shift, self.shift, n) if at is None else at)
        lo = np.clip(centre - span / 2, 0, W - 1 - span)
        pos = lo[:, None] + np.linspace(0, 1, T)[None, :] * span[:, None]
        j = np.minimum(np.floor(pos).astype(int), W - 2)
        f = (pos - j)[:, None, :]
        idx = np.arange(n)[:, None]
        Xf = X.astype(np.float64)
        v = Xf[idx, :, j].transpose(0, 2, 1) * (1 - f) + Xf[idx, :, j + 1].transpose(0, 2, 1) * f
        if self.gain:
            v = v + rng.uniform(-self.gain, self.gain, (n, 1, 1))
        if self.noise:
            v = v + rng.normal(0, self.noise, v.shape)
        fill = v.mean(axis=(1, 2), keepdims=True)
        if self.fmask:
            w = rng.integers(0, self.fmask + 1, n)
            s = rng.integers(0, M - self.fmask, n)
            band = np.arange(M)[None, :]
            v = np.where(((band >= s[:, None]) & (band < (s + w)[:, None]))[:, :, None], fill, v)
        if self.tmask:
            w = rng.integers(0, self.tmask + 1, n)
            s = rng.integers(0, T - self.tmask, n)
            t = np.arange(T)[None, :]
            v = np.where(((t >= s[:, None]) & (t < (s + w)[:, None]))[:, None, :], fill, v)
        return (np.clip(np.round(v), -128, 127) * INPUT_SCALE).astype(np.float32)


def negatives(rng, X, voice, n, off=(22, 44), straddle=16, **_):
    """n wide int8 windows (n, MELS, W) that are NOT a centred word, and where to centre each view
    (frames from the window's centre), the detector's real task: a sliding window over a stream
    meets every word of the voice off-centre and between words. Drawn from the training windows
    only (X, TRAIN voices saying BASE words; W = FRAMES + 2 wide):
    - off-centre: a word whose centre lies off[0]..off[1] frames from the view's centre (its head
      or tail at the edge, the rest background);
    - straddling: the tail of one word and the head of the next word of the same voice (the second
      levelled to the first's loudest frame), the view centred within +-straddle of the join;
    - background: the recording's leading background alone (its first 12 frames, mirrored, tiled).
    Returned in that proportion: half, a third, the rest."""
    N, M, W = X.shape
    a = rng.integers(0, N, n)
    kind = np.minimum((rng.random(n) * 6).astype(int), 5)             # 0-2 off, 3-4 straddle, 5 background
    at = rng.uniform(off[0], off[1], n) * np.where(rng.random(n) < 0.5, -1, 1)
    out = X[a].copy()
    h = W // 4                                                         # each word's half: its centre +- W/4
    for i in np.flatnonzero(kind >= 3):
        if kind[i] == 5:
            edge = X[a[i], :, :12]
            out[i] = np.tile(np.concatenate([edge, edge[:, ::-1]], 1), (1, W // 24 + 1))[:, :W]
            at[i] = 0.0
            continue
        same = np.flatnonzero(voice == voice[a[i]])
        b = int(same[rng.integers(0, len(same))])
        A = X[a[i]].astype(np.int16)
        B = X[b].astype(np.int16)
        B = B + int(A.mean(0).max() - B.mean(0).max())
        c = W // 2
        out[i] = np.clip(np.concatenate([A[:, c - h:c + h], B[:, c - h:c + h]], 1), -128, 127)[:, :W]
        at[i] = rng.uniform(-straddle, straddle)
    return out, at


def centre(X, frames=FRAMES):
    """The un-augmented centre window of (n, MELS, W) int8 as float model inputs."""
    s = (X.shape[2] - frames) // 2
    return (X[:, :, s:s + frames].astype(np.float64) * INPUT_SCALE).astype(np.float32)


def supcon(torch, z, labels, tau):
    """Supervised contrastive loss (Khosla et al. 2020): every other row of the same label is a
    positive, every row of another label a negative."""
    sim = z @ z.t() / tau
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    return -((logp * pos).sum(1) / pos.sum(1).clamp(min=1)).mean()


def train(recipe=RECIPE, smoke=False, log=print):
    """(trained float net, seconds). Train voices and base words only (train_windows)."""
    torch = motion._torch()
    r = dict(recipe, **(SMOKE if smoke else {}))
    torch.manual_seed(r["seed"])
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(r["seed"])
    neg = r.get("neg", 0)
    X, y, voice = train_windows(slack=r["wide"] if neg else SLACK, progress=log, voices=True)
    if smoke and neg:
        neg = SMOKE["batch"] // 2
    if smoke:
        X, y, voice = (a[::max(1, len(X) // 120)] for a in (X, y, voice))
    aug = Augment(rng, **r)
    other = len(speech.BASE)       # the label of every window that is not a centred word
    net = motion.build(torch, ARCH, channels=MELS, length=FRAMES)
    opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=r["steps"], pct_start=0.1)
    t0 = time.time()
    for step in range(r["steps"]):
        net.train()
        k = rng.integers(0, len(X), r["batch"])
        xa, xb = aug(X[k]), aug(X[k])
        lab = np.concatenate([y[k], y[k]])
        if neg:
            N, at = negatives(rng, X, voice, neg, **r)
            xa = np.concatenate([xa, aug(N, at)])
            xb = np.concatenate([xb, aug(N, at)])
            ln = np.full(neg, other) if r.get("negclass", 1) else other + np.arange(neg)   # one class, or each its own
            lab = np.concatenate([y[k], ln, y[k], ln])
        z = net(torch.from_numpy(np.concatenate([xa, xb])))
        lab = torch.from_numpy(lab)
        loss = supcon(torch, z, lab, r["tau"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 250 == 0 or step + 1 == r["steps"]:
            log("step %d/%d loss %.3f (%.0f s)" % (step + 1, r["steps"], loss.item(), time.time() - t0))
    net.eval()
    return net, time.time() - t0


def export(net, path, seconds, smoke=False, recipe=RECIPE):
    """Write the int8 model, its .json sidecar (the front end the board must run) and the
    folded float layers (.float.npz, the float column of the evaluation)."""
    layers = net.layers()
    X, _ = train_windows(progress=None)
    calib = centre(X[np.random.default_rng(1).permutation(len(X))[:100 if smoke else 1000]])
    model = quantize.quantize_layers(layers, calib.reshape(len(calib), -1), INPUT_SCALE, in_channels=MELS, pct=100.0)
    modelfile.write(path, model)
    info = {"recipe": "kws", "synthetic": True, "channels": MELS, "length": FRAMES, "input_scale": INPUT_SCALE,
            "frontend": {"kind": "logmel", "rate": logmel.RATE, "n_fft": logmel.N_FFT, "hop": logmel.HOP,
                         "n_mels": MELS, "offset": OFFSET, "frames": FRAMES, "layout": "channel-major: x[m*frames + t]"},
            "embedding": ARCH["dim"], "arch": ARCH, "train": dict(recipe, **(SMOKE if smoke else {})),
            "train_seconds": round(seconds, 1), "unknown_dist": RULE["unknown_dist"], "confirm": RULE["confirm"],
            "data": "SYNTHETIC speech (eSpeak NG): train voices, base words only"}
    motion.write_sidecars(path, info, layers)
    return model


def float_forward(path, x):
    """Float embeddings of int8 windows x (n, MELS*FRAMES) with the folded float layers."""
    return motion.float_forward(path, x, channels=MELS, length=FRAMES, arch=ARCH, input_scale=INPUT_SCALE)


def run(out, smoke=False, log=print, recipe=RECIPE):
    net, seconds = train(recipe, smoke=smoke, log=log)
    model = export(net, out, seconds, smoke, recipe)
    w = sum(int(layer["w"].size) for layer in model["layers"] if "w" in layer)
    log("wrote %s: %d int8 weights, trained in %.0f s%s (SYNTHETIC speech)" % (out, w, seconds, " (smoke)" if smoke else ""))
    return model
