"""A SYNTHETIC spoken-word corpus: eSpeak NG voices, perturbed and put in simulated rooms.

    python -m host_tools.data.speech [--split train|validation|test|all] [--per-word N] [--seed S]

No real speech corpus is reachable from the package registries here, so this one is made by a
formant synthesiser and says so everywhere (metadata "synthetic": true; every table built on it
must be labelled synthetic). It can show whether the audio path, the embedding and the detector
work and how they compare with baselines on the same data; it cannot show accuracy on human
speech (real voices vary far more: coarticulation, breath, accents, microphones, rooms).

Synthesis: libespeak-ng 1.52 and its voice data from the PyPI wheel `espeakng-loader` (the
optional extra [speech]), driven through ctypes: 8 English accents x 103 voice variants (every
variant file the wheel ships whose name has no space) = 824 voices, each utterance with its own
speaking rate (110-230 words/min), pitch (25-75) and pitch range (20-80). 22050 Hz output is
resampled to 16 kHz (scipy's polyphase resampler) and trimmed to the word (+-40 ms).

libespeak-ng keeps synthesis state between calls (the same word twice in one process gives
different samples; re-initialising or seeding does not reset it, checked), so each split is
synthesised in a fresh child process, in a fixed order: the corpus is deterministic for a seed.

Augmentation in numpy, per utterance from its own seeded generator: peak level -30..-3 dBFS;
with probability 1/2 a simulated room (an impulse response of exponentially decaying noise,
RT60 0.15-0.7 s, after the direct path, wet/dry mixed); with probability 4/5 white, pink or
brown noise at 5-30 dB SNR; 150 ms of the noise before and after the word.

Splits, fixed (independent of the seed): voices are split by variant (the timbre), 73 train,
15 validation, 15 test, each with all 8 accents, so a test voice is never heard in training.
Words: BASE (40) train the embedding; NOVEL (20) are spoken only by validation and test voices
(enrollment and few-shot evaluation). Train holds BASE words only; validation and test hold both.
"""
import argparse
import ctypes
import hashlib
import json
import os
import time

import numpy as np

from ..oracle.errors import DataError
from .cache import cache_dir

VERSION = 1
RATE = 16000
ESPEAK_RATE = 22050
ACCENTS = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
BASE = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
        "forward", "backward", "follow", "learn", "visual", "apple", "window", "garden", "paper", "music"]
NOVEL = ["lantern", "pickle", "zebra", "orbit", "velvet", "tunnel", "rocket", "jasmine", "cobalt", "nugget",
         "falcon", "igloo", "mango", "quartz", "walrus", "hammock", "noodle", "tulip", "biscuit", "kettle"]
WORDS = BASE + NOVEL
SPLITS = ("train", "validation", "test")
N_VALIDATION = N_TEST = 15
PER_WORD = {"train": 150, "validation": 40, "test": 40}


def available():
    """None if the synthesiser can run here, else why not (one line)."""
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        return "espeakng-loader is not installed: pip install -e '.[speech]'"
    return None


def _data_path():
    import espeakng_loader
    return espeakng_loader.get_data_path()


def variants():
    """Every voice variant the wheel ships (names without spaces), sorted."""
    d = os.path.join(_data_path(), "voices", "!v")
    return sorted(v for v in os.listdir(d) if " " not in v)


def voice_split(names=None):
    """{split: [variant]}: a fixed permutation (seed 2024) of the sorted variant names."""
    names = sorted(names if names is not None else variants())
    order = np.random.default_rng(2024).permutation(len(names))
    test = [names[i] for i in sorted(order[:N_TEST])]
    val = [names[i] for i in sorted(order[N_TEST:N_TEST + N_VALIDATION])]
    train = [names[i] for i in sorted(order[N_TEST + N_VALIDATION:])]
    return {"train": train, "validation": val, "test": test}


def split_words(split):
    return list(BASE) if split == "train" else list(WORDS)


# --- synthesis (runs in a fresh child process per split) ------------------------------------

_LIB = None
_CHUNKS = []


def _lib():
    global _LIB
    if _LIB is None:
        import espeakng_loader
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)  # 2: synchronous
        if rate != ESPEAK_RATE:
            raise RuntimeError("libespeak-ng initialisation failed (%d)" % rate)
        cb_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

        def collect(wav, n, events):
            if n > 0:
                _CHUNKS.append(np.ctypeslib.as_array(wav, (n,)).copy())
            return 0

        lib._callback = cb_type(collect)  # keep a reference: ctypes must not free it
        lib.espeak_SetSynthCallback(lib._callback)
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        _LIB = lib
    return _LIB


def espeak_version():
    return _lib().espeak_Info(None).decode()


def synth(text, voice, rate=175, pitch=50, pitch_range=50):
    """int16 samples at 22050 Hz of `text` in voice "accent+variant"."""
    lib = _lib()
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise DataError("espeak-ng has no voice %r" % voice)
    for param, value in ((1, rate), (3, pitch), (4, pitch_range)):  # espeakRATE, PITCH, RANGE
        lib.espeak_SetParameter(param, int(value), 0)
    _CHUNKS.clear()
    data = text.encode()
    if lib.espeak_Synth(ctypes.c_char_p(data), len(data) + 1, 0, 0, 0, 0, None, None) != 0:
        raise RuntimeError("espeak_Synth failed for %r" % text)
    lib.espeak_Synchronize()
    return np.concatenate(_CHUNKS) if _CHUNKS else np.zeros(0, np.int16)


def _synth_all(jobs):
    """Child process: [(text, voice, rate, pitch, range)] -> ([int16 arrays], version)."""
    return [synth(*j) for j in jobs], espeak_version()


def synth_fresh(jobs):
    """_synth_all in a new process (fresh libespeak-ng state): deterministic for the same jobs.
    A plain child interpreter (jobs in, samples out through files), not multiprocessing: its
    resource tracker is shared by the whole process and anything that kills it (a test that
    stops children, joblib) broke every later synthesis with BrokenPipeError."""
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "jobs.json"), os.path.join(tmp, "out.npz")
        with open(inp, "w") as f:
            json.dump([list(j) for j in jobs], f)
        p = subprocess.run([sys.executable, "-c", "from host_tools.data import speech; speech._synth_files(%r, %r)"
                            % (inp, out)], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("speech synthesis failed: %s" % (p.stderr.strip().splitlines() or ["?"])[-1])
        with np.load(out) as z:
            return [z["a%d" % i] for i in range(len(jobs))], str(z["version"])


def _synth_files(inp, out):
    """The child of synth_fresh: jobs from a JSON file, samples into an npz."""
    with open(inp) as f:
        jobs = json.load(f)
    xs, version = _synth_all([tuple(j) for j in jobs])
    np.savez(out, version=np.array(version), **{"a%d" % i: x for i, x in enumerate(xs)})


# --- signal processing in numpy ---------------------------------------------------------------

def to_16k(x):
    from scipy.signal import resample_poly
    return resample_poly(np.asarray(x, np.float64), 320, 441)


def trim(x, margin=0.04, rel=0.02):
    """x cut to where |x| first and last exceeds rel * max, +- margin seconds."""
    if x.size == 0 or not np.any(x):
        return x
    idx = np.flatnonzero(np.abs(x) > rel * np.abs(x).max())
    m = int(margin * RATE)
    return x[max(0, idx[0] - m): idx[-1] + m + 1]


def colored_noise(rng, n, kind):
    """Unit-RMS white, pink (1/f) or brown (1/f^2) noise of n samples."""
    w = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(w)
        f = np.arange(spec.size, dtype=np.float64)
        f[0] = 1.0
        spec /= f ** (0.5 if kind == "pink" else 1.0)
        w = np.fft.irfft(spec, n)
    return w / (np.sqrt(np.mean(w ** 2)) + 1e-12)


def room(rng, x, rt60, wet):
    """x in a simulated room: direct path + exponentially decaying noise tail (RT60 seconds)."""
    from scipy.signal import fftconvolve
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    h[: int(0.002 * RATE)] = 0  # first reflections after 2 ms
    h *= wet / (np.sqrt(np.sum(h ** 2)) + 1e-12)
    h[0] = 1.0
    return fftconvolve(x, h)[: x.size + n // 4]


def augment(x, rng, pad=0.15):
    """Level, room and noise for one 16 kHz float utterance; returns (int16, params)."""
    p = {"peak_dbfs": float(rng.uniform(-30, -3))}
    if rng.random() < 0.5:
        p["rt60"] = float(rng.uniform(0.15, 0.7))
        p["wet"] = float(rng.uniform(0.2, 0.8))
        x = room(rng, x, p["rt60"], p["wet"])
    else:
        p["rt60"], p["wet"] = 0.0, 0.0
    m = int(pad * RATE)
    x = np.concatenate([np.zeros(m), x, np.zeros(m)])
    x = x / (np.abs(x).max() + 1e-12) * 32767 * 10 ** (p["peak_dbfs"] / 20)
    if rng.random() < 0.8:
        p["noise"] = str(rng.choice(["white", "pink", "brown"]))
        p["snr_db"] = float(rng.uniform(5, 30))
        speech_rms = np.sqrt(np.mean(x[m:-m] ** 2))
        x = x + colored_noise(rng, x.size, p["noise"]) * speech_rms * 10 ** (-p["snr_db"] / 20)
    else:
        p["noise"], p["snr_db"] = "none", float("inf")
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), p


# --- the corpus ---------------------------------------------------------------------------------

def plan(split, per_word=None, seed=0, words=None, voices=None):
    """The utterances of a split: [(word, accent, variant, rate, pitch, range, utterance seed)]."""
    per_word = PER_WORD[split] if per_word is None else per_word
    words = split_words(split) if words is None else words
    voices = voice_split()[split] if voices is None else voices
    ss = np.random.SeedSequence([seed, SPLITS.index(split), VERSION])
    rng = np.random.default_rng(ss)
    out = []
    for w in words:
        for _ in range(per_word):
            out.append((w, ACCENTS[int(rng.integers(len(ACCENTS)))], voices[int(rng.integers(len(voices)))],
                        int(rng.integers(110, 231)), int(rng.integers(25, 76)), int(rng.integers(20, 81)),
                        int(rng.integers(2 ** 63))))
    return out


def generate(split, per_word=None, seed=0, words=None, voices=None, progress=False):
    """The split as a dict of arrays (see `load`), synthesised now (no cache)."""
    todo = plan(split, per_word, seed, words, voices)
    t0 = time.time()
    raw, version = synth_fresh([(w, "%s+%s" % (a, v), r, p, pr) for w, a, v, r, p, pr, _ in todo])
    t_synth = time.time() - t0
    clips, params = [], []
    for (w, a, v, r, p, pr, s), x in zip(todo, raw):
        rng = np.random.default_rng(s)
        y, prm = augment(trim(to_16k(x)), rng)
        clips.append(y)
        params.append(dict(prm, rate_wpm=r, pitch=p, pitch_range=pr))
        if progress and len(clips) % 500 == 0:
            print("  %s: %d/%d utterances" % (split, len(clips), len(todo)), flush=True)
    offsets = np.concatenate([[0], np.cumsum([c.size for c in clips])]).astype(np.int64)
    vocab = split_words(split) if words is None else list(words)
    meta = {"synthetic": True, "what": "SYNTHETIC speech: eSpeak NG %s formant synthesis, not human voices" % version,
            "split": split, "seed": seed, "version": VERSION, "rate": RATE, "words": vocab,
            "base_words": [w for w in vocab if w in BASE], "novel_words": [w for w in vocab if w in NOVEL],
            "voices": sorted({"%s+%s" % (a, v) for _, a, v, *_ in todo}), "params": params,
            "synth_seconds": round(t_synth, 1), "total_seconds": round(time.time() - t0, 1)}
    return {"audio": np.concatenate(clips) if clips else np.zeros(0, np.int16), "offsets": offsets,
            "word": np.array([vocab.index(t[0]) for t in todo], np.int16),
            "accent": np.array([ACCENTS.index(t[1]) for t in todo], np.int16),
            "variant": np.array([t[2] for t in todo]), "meta": meta}


def cache_path(split, per_word=None, seed=0):
    per_word = PER_WORD[split] if per_word is None else per_word
    return os.path.join(cache_dir(), "speech", "synthetic-%s-n%d-seed%d-v%d.npz" % (split, per_word, seed, VERSION))


def load(split, per_word=None, seed=0, progress=True):
    """The split from the cache, generated once: {"audio": int16 (all utterances end to end),
    "offsets": (n+1,), "word": (n,) index into meta["words"], "accent": (n,), "variant": (n,),
    "meta": {... "synthetic": True ...}}. Utterance i is audio[offsets[i]:offsets[i+1]]."""
    path = cache_path(split, per_word, seed)
    if not os.path.exists(path):
        why = available()
        if why:
            raise RuntimeError(why)
        if progress:
            print("synthesising the %s split (SYNTHETIC speech) into %s" % (split, path), flush=True)
        d = generate(split, per_word, seed, progress=progress)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp.npz"
        np.savez(tmp, audio=d["audio"], offsets=d["offsets"], word=d["word"], accent=d["accent"],
                 variant=d["variant"], meta=np.array(json.dumps(d["meta"])))
        os.replace(tmp, path)
    with np.load(path) as z:
        return {"audio": z["audio"], "offsets": z["offsets"], "word": z["word"], "accent": z["accent"],
                "variant": z["variant"], "meta": json.loads(str(z["meta"]))}


def utterance(d, i):
    return d["audio"][d["offsets"][i]: d["offsets"][i + 1]]


def write_wav(path, x, rate=RATE):
    """int16 mono samples as a 16-bit PCM WAV (what firmware/audio/wav.py plays)."""
    import wave
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(x, "<i2").tobytes())


def digest(d):
    h = hashlib.sha256(d["audio"].tobytes())
    h.update(d["offsets"].tobytes())
    h.update(d["word"].tobytes())
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate the SYNTHETIC speech corpus into the cache.")
    ap.add_argument("--split", default="all", choices=SPLITS + ("all",))
    ap.add_argument("--per-word", type=int, help="utterances per word (default: %s)" % PER_WORD)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wav", help="also write the first N utterances of each split as WAVs into this folder")
    ap.add_argument("--wav-count", type=int, default=5)
    a = ap.parse_args(argv)
    why = available()
    if why:
        print(why)
        return 4
    split = voice_split()
    print("SYNTHETIC speech corpus (eSpeak NG): %d accents x %d variants; variants train/validation/test %d/%d/%d; "
          "words base %d (train), novel %d (enroll only)" % (len(ACCENTS), sum(map(len, split.values())),
                                                             len(split["train"]), len(split["validation"]),
                                                             len(split["test"]), len(BASE), len(NOVEL)))
    for s in (SPLITS if a.split == "all" else (a.split,)):
        t = time.time()
        d = load(s, a.per_word, a.seed)
        n = len(d["word"])
        print("%-10s %5d utterances, %5.0f s of audio, %6.1f MB int16, %d voices, %d words; %s; took %.0f s "
              "(synthesis %.0f s when generated)" % (s, n, d["audio"].size / RATE, d["audio"].nbytes / 1e6,
                                                      len(d["meta"]["voices"]), len(d["meta"]["words"]),
                                                      cache_path(s, a.per_word, a.seed), time.time() - t,
                                                      d["meta"]["synth_seconds"]))
        if a.wav:
            os.makedirs(a.wav, exist_ok=True)
            for i in range(min(a.wav_count, n)):
                write_wav(os.path.join(a.wav, "%s-%03d-%s.wav" % (s, i, d["meta"]["words"][d["word"][i]])), utterance(d, i))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
