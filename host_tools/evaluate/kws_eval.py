"""`tinyenroll kws-eval`: wake-word detection on continuous streams of SYNTHETIC speech, through
the board's own keyword spotter (firmware/audio/kws.py) and learner.

For each stream: one voice (an eSpeak NG accent + variant of the split, fixed for the stream)
says a NOVEL word three times on its own (the enrollment takes, endpointed by the spotter as on
the board), then speaks a minute or so of words: the enrolled word `targets` times among other
words (base and novel), with gaps of background noise, in one simulated room at one noise level.
The board's int8 log-mel frames come from the front end's numpy twin (host_tools/oracle/logmel,
bit-identical), the windows' embeddings from the model's numpy reference (bit-identical to the
firmware model), and everything after (endpointing, the sliding window, the k-NN decision, the
unknown threshold, the hit rule) is the firmware's code running in CPython.

Scored per stream: a target is detected when a hit of the enrolled word comes while the word is
in the window (from its first frame to `frames` frames after its last); every other hit is a false
accept. Reported: detection rate, false accepts per hour of stream, and the same with near-miss
relabelling (selflabel.NearMiss through the learner's guarded auto-enrollment).
SYNTHETIC speech: formant synthesis, not human voices; numbers say nothing about real speech.
"""
import json
import os

import numpy as np

from ..data import speech
from ..oracle import logmel, modelfile, reference
from ..oracle.errors import DataError

STREAM_WORDS = 40     # words spoken in a stream after the enrollment takes
TARGETS = 5           # of which the enrolled word
GAP = (0.3, 1.5)      # seconds of background between words
# `--choose`: the grid of rules tried and the rule that picks one, fixed before looking at results:
# the most targets detected with at most FA_MAX false accepts per hour of stream (no relabelling);
# ties go to the tighter rule (smaller distance, then more classifications in a row)
CHOOSE_DISTS = (500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000)
CHOOSE_CONFIRMS = (1, 2, 3)
FA_MAX = 1.0


def settings(model_path):
    """Front-end settings the model was trained with, from its .json sidecar (frames, n_mels and
    offset, under "frontend" or at the top), and its unknown_pct (default 150)."""
    side = model_path + ".json"
    info = {}
    if os.path.exists(side):
        with open(side) as f:
            info = json.load(f)
    fe = info.get("frontend", info)  # the kws recipe's sidecar keeps them under "frontend"
    return {"frames": int(fe.get("frames", 64)), "mels": int(fe.get("n_mels", fe.get("mels", logmel.N_MELS))),
            "offset": int(fe.get("offset", logmel.OFFSET)), "unknown_pct": int(info.get("unknown_pct", 150)),
            "unknown_dist": info.get("unknown_dist"), "confirm": int(info.get("confirm", 1))}


def _voice_takes(voice, words, rng):
    """One utterance per word in `words` by one voice (accent+variant), as 16 kHz float clips."""
    base_rate, base_pitch = int(rng.integers(130, 211)), int(rng.integers(30, 71))
    jobs = [(w, voice, base_rate + int(rng.integers(-15, 16)), base_pitch + int(rng.integers(-5, 6)),
             int(rng.integers(30, 71))) for w in words]
    raw, _ = speech.synth_fresh(jobs)
    return [speech.trim(speech.to_16k(x)) for x in raw]


def build_stream(voice, target, others, rng, n_words=STREAM_WORDS, n_targets=TARGETS):
    """(enrollment takes [int16], stream int16, [(start, end) sample spans of the targets]) for
    one voice in one room at one noise level; the takes are consecutive pieces of one recording."""
    words = [target] * 3 + [target] * n_targets + list(rng.choice(others, n_words - n_targets))
    order = [0, 1, 2] + list(3 + rng.permutation(n_words))
    clips = _voice_takes(voice, [words[i] for i in order], rng)
    rt60 = float(rng.uniform(0.15, 0.6)) if rng.random() < 0.5 else 0.0
    peak = float(rng.uniform(-24, -6))
    snr = float(rng.uniform(10, 30))
    noise_kind = str(rng.choice(["white", "pink", "brown"]))

    def place(xs, gaps):
        parts, spans, pos = [], [], 0
        for x, g in zip(xs, gaps):
            if rt60:
                x = speech.room(rng, x, rt60, 0.5)
            x = x / (np.abs(x).max() + 1e-12) * 32767 * 10 ** ((peak + rng.uniform(-3, 3)) / 20)
            gap = np.zeros(int(g * speech.RATE))
            parts += [gap, x]
            spans.append((pos + gap.size, pos + gap.size + x.size))
            pos += gap.size + x.size
        parts.append(np.zeros(int(0.5 * speech.RATE)))
        y = np.concatenate(parts)
        level = 32767 * 10 ** (peak / 20) / 4  # a typical word's RMS, roughly
        y = y + speech.colored_noise(rng, y.size, noise_kind) * level * 10 ** (-snr / 20)
        return np.clip(np.round(y), -32768, 32767).astype(np.int16), spans

    # the takes are one recording, as the board hears them (one noise, no seams; three recordings
    # put end to end gave the endpointer a step in the noise at each seam, a spurious take), cut
    # between the takes
    rec, tspans = place(clips[:3], [0.5, 1.0, 1.0])
    cuts = [0] + [(tspans[k][1] + tspans[k + 1][0]) // 2 for k in range(2)] + [rec.size]
    takes = [rec[cuts[k]:cuts[k + 1]] for k in range(3)]
    stream, spans = place(clips[3:], rng.uniform(GAP[0], GAP[1], n_words))
    is_target = [words[i] == target for i in order[3:]]
    return takes, stream, [s for s, t in zip(spans, is_target) if t]


class _Embeddings:
    """A stand-in for the firmware model inside the spotter: the embedding of each window it is
    given, in order, by the numpy reference (bit-identical), computed ahead in one batch."""

    def __init__(self, embs):
        self._embs = embs
        self._i = 0

    def embed(self, window):
        e = self._embs[self._i]
        self._i += 1
        return e.tobytes()


def prepare(model, st, takes, stream):
    """What a stream costs to compute once: the takes' and the stream's int8 frames (the front
    end's twin; the takes one after another, as one enrollment stream) and the embedding of every
    window the spotter will classify (every `every` frames from the first full window)."""
    from tinyenroll.audio import kws
    every = kws.Spotter(None, None, st["frames"], st["mels"]).every
    tf = logmel.logmel(np.concatenate(takes), offset=st["offset"], check=False)
    sf = logmel.logmel(stream, offset=st["offset"], check=False)
    F = st["frames"]
    ends = range(F, sf.shape[0] + 1, every)
    wins = np.stack([sf[e - F:e].T.ravel() for e in ends]) if len(ends) else np.zeros((0, F * st["mels"]), np.int8)
    embs = reference.forward_batch(model, wins).astype(np.int8) if len(wins) else np.zeros((0, 1), np.int8)
    dim = len(reference.forward(model, np.zeros(model["in_dim"], np.int8)))
    return {"takes": tf, "stream": sf, "embs": embs, "dim": dim}


def run_stream(model, st, takes, stream, spans, store, relabel=False, prep=None, pct=None, dist=None, confirm=None):
    """As the board runs it: the takes one after another as one stream (enrolling each take the
    spotter endpoints), then the stream (listening), with unknown_pct `pct` (default the model's)
    or, with dist, a fixed unknown threshold (the learner's set_threshold; with neither, the model's
    unknown_dist if its sidecar has one), and the spotter's hit
    rule `confirm` (classifications in a row; default the model's).
    Returns None if no take was endpointed, else {"takes": [frame count at each enrollment],
    "hits": [(frame count, label, score)], "found": targets detected, "false": false accepts}."""
    from tinyenroll import learner, selflabel
    from tinyenroll.audio import kws
    prep = prep or prepare(model, st, takes, stream)
    if pct is None and dist is None:
        dist = st.get("unknown_dist")   # the model's rule: its fixed threshold if it has one
    frames, mels = st["frames"], st["mels"]
    dim = prep["dim"]
    L = learner.Learner(None, store, dim=dim, k=1, capacity=20, unknown_pct=pct or st["unknown_pct"])
    sp = kws.Spotter(None, L, frames, mels, confirm=confirm or st["confirm"])
    enrolled = []
    for row in prep["takes"]:
        w = sp.take(row.tobytes())
        if w is not None:
            e = reference.forward(model, np.frombuffer(bytes(w), np.int8))
            L.enroll("word", embedding=e.astype(np.int8).tobytes())
            enrolled.append(sp.n)
    if not enrolled:
        return None
    if dist:
        L.set_threshold(dist)
    emb = _Embeddings(prep["embs"])
    sp.model = emb
    sp.reset()
    near = selflabel.NearMiss(dim, within=2, auto=selflabel.AutoEnroll(L)) if relabel else None
    hits = []
    hop_s = logmel.HOP / float(speech.RATE)
    for row in prep["stream"]:
        hit = sp.step(row.tobytes())
        if near is not None and sp.last is not None and sp.n % sp.every == 0 and sp.n >= frames:
            label, sc, nearest, _ = sp.last
            near.observe(sp.n * hop_s, label, sc, nearest, L.threshold()[0], emb._embs[emb._i - 1].tobytes())
        if hit is not None:
            hits.append((sp.n, hit[0], hit[1]))
    found, false = score([h[0] for h in hits], spans, frames)
    return {"takes": enrolled, "hits": hits, "found": found, "false": false}


def score(hits, spans, frames):
    """(targets detected, false accepts) for hits (frame counts) and target spans (samples): a hit
    detects the first undetected target in the window with it (from its first frame to `frames`
    frames after its last); any other hit is a false accept."""
    # the spotter's frame count n covers samples up to (n - 1) * hop + n_fft
    first = [(a - logmel.N_FFT) // logmel.HOP + 1 for a, _ in spans]
    last = [(b - logmel.N_FFT) // logmel.HOP + 1 for _, b in spans]
    found = set()
    false = 0
    for h in hits:
        j = next((i for i in range(len(spans)) if first[i] <= h <= last[i] + frames and i not in found), None)
        if j is None:
            false += 1
        else:
            found.add(j)
    return len(found), false


def evaluate(model_path, split="validation", n_streams=12, seed=0, relabel=(False, True), log=print, tmp=None,
             pcts=None, dists=None, confirms=None):
    """Detection rate and false accepts per hour over n_streams streams of the split's voices, for
    each unknown rule: unknown_pct in pcts, fixed threshold in dists (default: the model's rule,
    its unknown_dist if it has one, else its unknown_pct), and each hit rule in confirms
    (classifications in a row; default the model's `confirm`, else 1)."""
    if split not in ("validation", "test"):
        raise DataError("kws-eval runs on validation or test voices, not %r" % split)
    import tempfile
    why = speech.available()
    if why:
        raise DataError(why)
    model = modelfile.read(model_path)
    st = settings(model_path)
    if model["in_dim"] != st["frames"] * st["mels"]:
        raise DataError("%s reads %d values, not %d frames x %d mels (its .json sidecar)"
                        % (model_path, model["in_dim"], st["frames"], st["mels"]))
    rules = [("pct", p) for p in (pcts or [])] + [("dist", d) for d in (dists or [])]
    if not rules:
        rules = [("dist", st["unknown_dist"])] if st.get("unknown_dist") else [("pct", st["unknown_pct"])]
    voices = speech.voice_split()[split]
    rng = np.random.default_rng([seed, 1 if split == "test" else 0])
    novel, base = list(speech.NOVEL), list(speech.BASE)
    confirms = list(confirms or [st["confirm"]])
    keys = [(rule, c, r) for rule in rules for c in confirms for r in relabel]
    out = {k: {"targets": 0, "detected": 0, "false": 0, "seconds": 0.0} for k in keys}
    tmp = tmp or tempfile.mkdtemp(prefix="kws-eval-")
    for i in range(n_streams):
        voice = "%s+%s" % (speech.ACCENTS[i % len(speech.ACCENTS)], voices[int(rng.integers(len(voices)))])
        target = novel[i % len(novel)]
        takes, stream, spans = build_stream(voice, target, [w for w in novel + base if w != target], rng)
        prep = prepare(model, st, takes, stream)
        for j, ((kind, v), c, r) in enumerate(keys):
            res = run_stream(model, st, takes, stream, spans, os.path.join(tmp, "s%d-%d" % (i, j)), r, prep,
                             v if kind == "pct" else None, v if kind == "dist" else None, c)
            o = out[((kind, v), c, r)]
            o["targets"] += len(spans)
            o["seconds"] += stream.size / float(speech.RATE)
            if res is not None:
                o["detected"] += res["found"]
                o["false"] += res["false"]
        log("stream %d (%s, %r): %s" % (i, voice, target, ", ".join(
            "%s %d c%d%s %d/%d fa %d" % (k[0][0], k[0][1], k[1], "+relabel" if k[2] else "", out[k]["detected"],
                                        out[k]["targets"], out[k]["false"]) for k in keys)))
    rows = []
    for ((kind, v), c, r), o in out.items():
        o["rate"] = o["detected"] / float(o["targets"]) if o["targets"] else 0.0
        o["fa_per_hour"] = o["false"] * 3600.0 / o["seconds"] if o["seconds"] else 0.0
        rows.append(dict(o, rule="%s %d" % ("unknown_pct" if kind == "pct" else "unknown_dist", v), confirm=c,
                         relabel=r))
    return {"split": split, "streams": n_streams, "seed": seed, "synthetic": True, "settings": st, "rows": rows}


def choose(rows, fa_max=FA_MAX):
    """The row the --choose rule picks among rows without relabelling (a fixed unknown_dist each):
    the most detections with fa_per_hour <= fa_max, ties to the smaller distance, then the larger
    confirm; None when no row keeps to fa_max."""
    ok = [o for o in rows if not o["relabel"] and o["fa_per_hour"] <= fa_max and o["rule"].startswith("unknown_dist")]
    if not ok:
        return None
    return max(ok, key=lambda o: (o["detected"], -int(o["rule"].split()[1]), o["confirm"]))


def add_arguments(p):
    p.add_argument("--model", default=None, help="keyword model (.tem, with its .json sidecar: frames, n_mels, offset; "
                   "default: the shipped kws.tem)")
    p.add_argument("--streams", type=int, default=12, help="streams of about a minute each (default 12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pct", default=None, help="unknown thresholds to try, comma-separated percents of the "
                   "leave-one-out distance (default: the model's unknown_pct)")
    p.add_argument("--dist", default=None, help="fixed unknown thresholds to try (squared int8 distances), "
                   "comma-separated")
    p.add_argument("--confirm", default=None, help="hit rules to try: classifications in a row a word needs "
                   "(the spotter's confirm), comma-separated (default: the model's, else 1)")
    p.add_argument("--choose", action="store_true", help="try every rule of the fixed grid (unknown_dist %s x "
                   "confirm %s) and print the one the rule picks: the most detections with at most %g false "
                   "accept per hour, ties to the tighter" % (",".join(map(str, CHOOSE_DISTS)),
                                                              ",".join(map(str, CHOOSE_CONFIRMS)), FA_MAX))
    p.add_argument("--final-test", action="store_true", help="run on the TEST voices (report once, as it comes out); "
                   "without it: validation voices")
    p.add_argument("--json", action="store_true", help="print the results as JSON only")


def run(args):
    if args.streams < 1:
        raise DataError("--streams must be at least 1")
    try:
        pcts = [int(v) for v in args.pct.split(",")] if args.pct else None
        dists = [int(v) for v in args.dist.split(",")] if args.dist else None
        confirms = [int(v) for v in args.confirm.split(",")] if args.confirm else None
    except ValueError:
        raise DataError("--pct, --dist and --confirm take comma-separated integers, got %r %r %r"
                        % (args.pct, args.dist, args.confirm)) from None
    if confirms and min(confirms) < 1:
        raise DataError("--confirm takes integers of 1 or more")
    relabel = (False, True)
    if args.choose:
        if args.final_test:
            raise DataError("--choose chooses on validation voices, never on the test voices")
        pcts, dists, confirms, relabel = None, list(CHOOSE_DISTS), list(CHOOSE_CONFIRMS), (False,)
    split = "test" if args.final_test else "validation"
    if args.model is None:
        args.model = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "kws.tem")
    log = (lambda *a: None) if args.json else print
    res = evaluate(args.model, split, args.streams, args.seed, relabel=relabel, log=log, pcts=pcts, dists=dists,
                   confirms=confirms)
    if args.choose:
        best = choose(res["rows"])
        res["chosen"] = best and {"unknown_dist": int(best["rule"].split()[1]), "confirm": best["confirm"]}
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print("SYNTHETIC speech (eSpeak NG), %s voices, %d streams, seed %d: one novel word enrolled from 3 takes "
          "by the stream's voice, then %d words with it %d times" % (split, args.streams, args.seed, STREAM_WORDS, TARGETS))
    for o in res["rows"]:
        print("  %-18s confirm %d %-8s detected %d/%d (%.1f %%), %d false accepts in %.1f min = %.1f per hour"
              % (o["rule"], o["confirm"], "relabel" if o["relabel"] else "plain", o["detected"], o["targets"], 100 * o["rate"],
                 o["false"], o["seconds"] / 60, o["fa_per_hour"]))
    if args.choose:
        print("chosen (the most detections with at most %g false accept per hour, ties to the tighter): %s"
              % (FA_MAX, "none keeps to it" if res["chosen"] is None else
                 "unknown_dist %(unknown_dist)d, confirm %(confirm)d" % res["chosen"]))
    return 0
