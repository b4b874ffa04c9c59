"""The demo's voice part: a new wake word said three times, then found in a stream of speech.

The board's microphone is a WAV replayed at its real rate (firmware/audio/wav.py, the interface
the I2S driver has): one voice of the SYNTHETIC corpus's test split says the novel word three times
(the board endpoints each take by its energy and enrolls it), then speaks a dozen words with the
enrolled one among them; the board runs the integer log-mel front end, the keyword model and the
spotter and prints its takes and hits (firmware/jobs/voice.py). The same audio goes through the
front end's numpy twin, the model's numpy reference and the firmware's spotter in CPython
(kws_eval.run_stream): takes and hits must be the same, frame for frame and score for score.
A showcase on one voice, not an evaluation: kws-eval is where numbers come from.
"""
import os
import tempfile
import time

import numpy as np

from ..data import speech
from ..oracle import modelfile
from . import kws_eval

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "kws.tem")
WORD = "lantern"
# what the voice job needs with the package in /lib as .mpy (measured on the 64-bit unix port:
# it runs from 120K as a script, ~117 KB in use at most on the virtual board): more than a plain
# ESP32 has (README: voice)
HEAP_NEEDED = 128 * 1024


def material(seed=0):
    """(takes audio, stream audio, target spans) for the demo's voice."""
    rng = np.random.default_rng([seed, 15])
    voice = "en-us+" + speech.voice_split()["test"][0]
    others = [w for w in speech.NOVEL + speech.BASE if w != WORD]
    takes, stream, spans = kws_eval.build_stream(voice, WORD, others, rng, n_words=12, n_targets=3)
    return np.concatenate(takes), stream, spans, voice


def _copy(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())


def run(b, fs_put, speed, log, model_path=MODEL):
    st = kws_eval.settings(model_path)
    model = modelfile.read(model_path)
    takes, stream, spans, voice = material()
    fs_put("takes.wav", lambda p: speech.write_wav(p, takes))
    fs_put("stream.wav", lambda p: speech.write_wav(p, stream))
    fs_put("keyword.tem", lambda p: _copy(model_path, p))
    seconds = (takes.size + stream.size) / float(speech.RATE)
    log("voice: %s says %r three times, then %d words (%.0f s of SYNTHETIC speech, x%g) into the board's mic..."
        % (voice, WORD, 12, seconds, speed))
    t = time.time()
    out = b.exec("from tinyenroll.jobs import voice\nvoice.run('/keyword.tem', '/takes.wav', '/stream.wav', %d, %d, %d, %r, %r, pct=%d, "
                 "dist=%r, confirm=%d)" % (st["frames"], st["mels"], st["offset"], speed, WORD, st["unknown_pct"],
                                         st["unknown_dist"], st["confirm"]), "voice",
                 quiet=seconds / speed + 30, total=2 * seconds / speed + 120)
    wall = time.time() - t
    board_takes, board_hits, done = [], [], None
    for line in out.splitlines():
        f = line.split()
        if f[:1] == ["take"]:
            board_takes.append(int(f[1]))
        elif f[:1] == ["hit"]:
            board_hits.append((int(f[1]), f[2], int(f[3])))
        elif f[:1] == ["done"]:
            done = [int(v) for v in f[1:4]]
    with tempfile.TemporaryDirectory() as tmp:
        ref = kws_eval.run_stream(model, st, [takes], stream, spans, os.path.join(tmp, "ref"))
    ref = ref or {"takes": [], "hits": [], "found": 0, "false": 0}
    ref_hits = [(n, WORD, s) for n, _, s in ref["hits"]]  # the reference's label is "word"
    found, false = kws_eval.score([h[0] for h in board_hits], spans, st["frames"])
    return {"voice": voice, "word": WORD, "seconds": round(seconds, 1), "wall_seconds": round(wall, 1),
            "takes": len(board_takes), "takes_equal": board_takes == ref["takes"],
            "targets": len(spans), "detected": found, "false_accepts": false, "hits": len(board_hits),
            "hits_equal": board_hits == ref_hits, "frames": done[0] if done else 0,
            "us_per_frame": done[1] if done else 0, "peak_heap": done[2] if done else 0}
