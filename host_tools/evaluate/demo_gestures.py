"""The demo's gesture part: enroll novel gestures few-shot on the board, classify the rest.

The model (host_tools/models/wiimote.tem) was trained on gestures 1-5 only; gestures 6-10 are
new to it. Their TRAIN series (SHOTS per class) and all their TEST series are written, in that
order, into one recording (int16 milli-g) that the board's replay sensor plays at RATE_HZ: the
dataset does not state its sample rate, 100 Hz is assumed. For every window the host sends one
REPL line; the board reads the window from the sensor, runs the front end and the model, and
enrolls or classifies, printing the embedding and the answer for checking.
"""
import json
import os

import numpy as np

from ..data import datasets, recording
from ..learn import train
from ..oracle import knn_ref, modelfile, reference

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(os.path.dirname(HERE), "models", "wiimote.tem")
SHOTS = 3
RATE_HZ = 100
K = 3



def run(b, fs_put, speed, log):
    info = json.load(open(MODEL + ".json"))
    length = info["length"]
    tr, ltr = datasets.load("PickupGestureWiimoteZ", "TRAIN")
    te, lte = datasets.load("PickupGestureWiimoteZ", "TEST")
    _, novel = datasets.base_novel(ltr)
    enroll = [i for c in novel for i in [j for j, y in enumerate(ltr) if y == c][:SHOTS]]
    queries = [i for i, y in enumerate(lte) if y in novel]
    series = [train.to_int16(tr[i]) for i in enroll] + [train.to_int16(te[i]) for i in queries]
    labels = ["g" + ltr[i] for i in enroll] + [None] * len(queries)
    truth = ["g" + ltr[i] for i in enroll] + ["g" + lte[i] for i in queries]
    fs_put("gestures.ter", lambda path: recording.write(path, np.concatenate(series), RATE_HZ))
    longest = max(len(s) for s in series)
    b.soft_reset()  # the file copy above leaves its traces in the heap: the job starts on a clean one
    b.exec("from tinyenroll.jobs import demo as job\njob.gestures(%d, %r, %d, %d)" % (K, speed, longest, length), "setting up gestures")
    log("gestures: %d novel classes, enrolling %d shots each then classifying %d windows, replayed at "
        "%d Hz x%g..." % (len(novel), SHOTS, len(queries), RATE_HZ, speed))
    answers = []
    for s, label in zip(series, labels):
        # the board reads the window from its sensor in real time / speed, silently
        seconds = len(s) / RATE_HZ / speed
        out = b.exec("job.gesture(%d, %r)" % (len(s), label), "gesture window",
                     quiet=2 * seconds + 10, total=2 * seconds + 60).strip().splitlines()[-1]
        answers.append(json.loads(out))
    # the reference: front end, model and search in numpy
    model = modelfile.read(MODEL)
    x = np.stack([train.frontend(s, length) for s in series])
    ref = reference.forward_batch(model, x)
    board_emb = np.stack([np.frombuffer(bytes.fromhex(a[0]), np.int8) for a in answers])
    n_en = len(enroll)
    names = []
    for lab in labels[:n_en]:
        if lab not in names:
            names.append(lab)
    lab_idx = np.array([names.index(lab) for lab in labels[:n_en]])
    ref_dec = [list(knn_ref.classify(ref[i], ref[:n_en], lab_idx, names, K, "knn")) for i in range(n_en, len(series))]
    board_dec = [a[1] for a in answers[n_en:]]
    predicted = [d[0] for d in board_dec]
    return {
        "classes": names, "shots": SHOTS, "enrolled": n_en, "queries": len(queries), "windows": len(series),
        "accuracy": float(np.mean([p == t for p, t in zip(predicted, truth[n_en:])])),
        "unknown": sum(1 for p in predicted if p is None),
        "embeddings_equal": int((board_emb == ref).all(axis=1).sum()),
        "decisions_equal": sum(1 for x, y in zip(board_dec, ref_dec) if x == y),
        "us_per_window": float(np.median([a[2] for a in answers])),
        "peak_heap": max(a[3] for a in answers),
        "truth": truth[n_en:], "predicted": predicted,
    }
