"""Few-shot keyword enrollment on the SYNTHETIC speech corpus: `tinyenroll fewshot --dataset speech`.

    tinyenroll fewshot --dataset speech                # validation voices: every choice
    tinyenroll fewshot --dataset speech --final-test   # test voices: run once, later, as it comes out

SYNTHETIC speech (eSpeak NG voices, host_tools/data/speech.py): every table says so. Novel
words only (never seen in training), each utterance one window of the board's int8 log-mel
frames (host_tools/learn/kws.py: FRAMES frames of 40 bands). Episodes: 10-way out of the 20
novel words, K = 1, 3, 5 supports per word drawn from all evaluated voices (pooled: the corpus
has about one utterance of a word per voice, so no personal episodes), the queries every other
utterance of those words. 200 episodes (K shots: seed + K), the same episodes in every row. Rows: raw
log-mel windows by 1-NN Euclidean and by DTW (baselines' DTW, band DTW_BAND frames), the same
with each window's mean level removed (a stronger no-training baseline: gain-normalised), float
embedding 1-NN, int8 embedding on the firmware (tinyenroll.model's embeddings, checked equal to
the numpy reference on every window, and tinyenroll.enroll's Enroller, 1-NN). 95 % intervals
over episodes.
"""
import os

import numpy as np

from . import baselines, motion_eval
from ..data import speech
from ..learn import kws
from ..oracle import modelfile, reference
from ..oracle.errors import DataError

SHOTS = (1, 3, 5)
WAYS = 10
EPISODES = 200
DTW_BAND = 8
LABEL = "SYNTHETIC speech (eSpeak NG)"
DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "kws.tem")


def episodes(y, K, ways=WAYS, n=EPISODES, seed=0):
    """[(support indices, query indices)]: `ways` words drawn from those with more than K
    utterances, K supports each, the rest of those words' utterances the queries."""
    rng = np.random.default_rng(seed)
    words = sorted(c for c in set(y.tolist()) if (y == c).sum() > K)
    if len(words) < ways:
        raise DataError("%d-way %d-shot episodes need %d words with more than %d utterances, there are %d"
                        % (ways, K, ways, K, len(words)))
    out = []
    for _ in range(n):
        classes = sorted(rng.choice(words, ways, replace=False).tolist())
        sup = np.concatenate([rng.choice(np.flatnonzero(y == c), K, replace=False) for c in classes])
        q = np.setdiff1d(np.flatnonzero(np.isin(y, classes)), sup)
        out.append((sup, q))
    return out


def dtw_matrix(X, band=DTW_BAND):
    """Symmetric DTW distances between channel-major log-mel windows (each pair computed once)."""
    n = len(X)
    D = np.zeros((n, n))
    S = np.asarray(X, np.float64).reshape(n, kws.MELS, -1)
    ia, ib = np.triu_indices(n, 1)
    for s in range(0, len(ia), 20000):
        a, b = ia[s:s + 20000], ib[s:s + 20000]
        D[a, b] = D[b, a] = baselines._dtw_pairs(S[a], S[b], band)
    return D


def centred(X):
    """Windows with their own mean level removed (a gain-normalised baseline: the corpus's levels
    span 27 dB, which shifts every log-mel value of a window alike)."""
    Xf = np.asarray(X, np.float64)
    return Xf - Xf.mean(1, keepdims=True)


def firmware_embeddings(model_path, X):
    """int8 embeddings by the firmware's model (CPython), checked equal to the numpy reference."""
    from tinyenroll import model as fw_model
    m = fw_model.load(model_path)
    if m.in_dim != X.shape[1]:
        raise DataError("%s takes %d values, the speech windows have %d (%d bands x %d frames)"
                        % (model_path, m.in_dim, X.shape[1], kws.MELS, kws.FRAMES))
    E = np.array([np.frombuffer(bytes(m.embed(v.tobytes())), np.int8) for v in X])
    R = reference.forward_batch(modelfile.read(model_path), X)
    if not np.array_equal(E, R):
        bad = int(np.flatnonzero((E != R).any(1))[0])
        raise DataError("the firmware's embedding of window %d differs from the reference" % bad)
    return E


def evaluate(model_path=DEFAULT_MODEL, final_test=False, n_episodes=EPISODES, seed=0, per_word=None,
             log=print):
    """The table (printed) and a dict. per_word: keep only that many utterances of each novel
    word (smoke runs)."""
    if not os.path.exists(model_path):
        raise DataError("no model at %s: train one with tinyenroll train --recipe kws --out %s"
                        % (model_path, model_path))
    split = "test" if final_test else "validation"
    X, words, voices = kws.eval_windows(split, progress=log)
    keep = np.isin(words, speech.NOVEL)
    if per_word:
        seen = {}
        for i in np.flatnonzero(keep):
            seen[words[i]] = seen.get(words[i], 0) + 1
            keep[i] = seen[words[i]] <= per_word
    X, words, voices = X[keep], words[keep], voices[keep]
    y = np.array([speech.NOVEL.index(w) for w in words])
    E = firmware_embeddings(model_path, X)
    F = kws.float_forward(model_path, X)
    eps = {"%d-shot" % K: episodes(y, K, n=n_episodes, seed=seed + K) for K in SHOTS}
    log("%s, %s voices (%d voice variants, every accent), novel words (%d), %d utterances; %d-way, "
        "%d episodes, seed %d"
        % (LABEL, "TEST" if final_test else "validation", len(set(voices.tolist())), len(set(y.tolist())),
           len(y), WAYS, n_episodes, seed))
    log("int8 embeddings by the firmware's tinyenroll.model equal the numpy reference on all %d windows" % len(E))
    Xf = X.astype(np.float64)
    Xc = centred(X)
    mats = {"raw log-mel Euclid 1-NN": baselines.euclid(Xf, Xf),
            "raw log-mel DTW 1-NN (band %d)" % DTW_BAND: dtw_matrix(X),
            "mean-removed Euclid 1-NN": baselines.euclid(Xc, Xc),
            "mean-removed DTW 1-NN (band %d)" % DTW_BAND: dtw_matrix(Xc),
            "float embedding 1-NN": baselines.euclid(F, F)}
    rows = {name: {c: motion_eval.matrix_accuracy(D, y, e) for c, e in eps.items()} for name, D in mats.items()}
    rows["int8 on the firmware, 1-NN"] = {c: motion_eval.firmware_accuracy(E, y, e, "knn") for c, e in eps.items()}
    cols = list(eps)
    log("%-34s" % ("method [%s]" % ("SYNTHETIC, TEST" if final_test else "SYNTHETIC, validation"))
        + "".join("%15s" % c for c in cols))
    for name, r in rows.items():
        log("%-34s" % name + "".join("%15s" % ("%.1f +- %.1f" % r[c]) for c in cols))
    m = modelfile.read(model_path)
    weights = sum(int(layer["w"].size) for layer in m["layers"] if "w" in layer)
    ops = motion_eval.macs(m)
    log("model: %d int8 weights, %d multiply-adds per window (+ %d per enrolled example for 1-NN); DTW 1-NN "
        "against one example: %d" % (weights, ops, E.shape[1], baselines.dtw_ops(kws.FRAMES, kws.MELS, DTW_BAND, 1)))
    return {"rows": rows, "split": split, "synthetic": True, "what": LABEL, "utterances": len(y),
            "voice_variants": len(set(voices.tolist())), "episodes": n_episodes, "seed": seed, "ways": WAYS,
            "weights": weights, "macs": ops}
