"""The demo's motion part: a person's own postural transitions, enrolled one-shot on the board
through the MPU-6050 data path, classified, with the raw-window baselines beside them.

The motion model (host_tools/models/motion.tem) was trained on HAPT subjects 1-18 without the
six postural transitions. Here test subject SUBJECT (never seen in training or in any choice)
does each transition twice: the first take of each is enrolled, the second classified, and
windows of the six basic activities (never enrolled) should come back "unknown". The takes are
written as one recording of raw MPU-6050 readings (+-4 g, +-500 deg/s, 50 Hz) that the virtual
board's simulated chip serves to the real driver, window by window.
"""
import json
import os

import numpy as np

from ..oracle.errors import DataError
from . import baselines
from ..data import hapt, recording
from ..learn import train
from ..oracle import knn_ref, modelfile, reference

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "motion.tem")
SUBJECT = 25
BASIC_PER_ACTIVITY = 2
BASIC_SECONDS = 3
RATE_HZ = 50
K = 1


def takes(subject=SUBJECT):
    """[(raw LSB window (n, 6), label, enroll?)] in replay order: first takes, second takes,
    then basic-activity windows (label = the activity's name, never enrolled)."""
    recs = [r for r in hapt.load_test() if r["subject"] == subject]
    first, second, basic = [], [], []
    seen = set()
    for r in recs:
        lsb = hapt.to_lsb(r)
        for a, b, lab in hapt.segments(r, hapt.TRANSITIONS):
            name = hapt.ACTIVITIES[lab]
            (second if name in seen else first).append((lsb[a:b], name, name not in seen))
            seen.add(name)
        count = {}
        width = BASIC_SECONDS * RATE_HZ
        for a, b, lab in hapt.segments(r, hapt.BASIC):
            if b - a >= width and count.get(lab, 0) < BASIC_PER_ACTIVITY:
                c = (a + b - width) // 2
                basic.append((lsb[c:c + width], hapt.ACTIVITIES[lab], False))
                count[lab] = count.get(lab, 0) + 1
    return first + second + basic


def imu_rate(speed):
    """The simulated MPU-6050's sample rate for a replay speed; ValueError (before anything is
    flashed) when the chip cannot run at it: its rates are 1000/n Hz, 4..1000."""
    hz = int(round(RATE_HZ * speed))
    if hz < 4 or hz > 1000 or 1000 % hz:
        ok = ", ".join("%g" % (r / RATE_HZ) for r in (50, 100, 125, 200, 250, 500, 1000))
        raise DataError("--speed %g would run the MPU-6050 at %d Hz; its rates are 1000/n Hz: use --speed %s"
                         % (speed, hz, ok))
    return hz


def run(b, fs_put, speed, log, model_path=None):
    model_path = model_path or MODEL
    info = json.load(open(model_path + ".json"))
    length, groups = info["length"], info.get("groups", 1)
    items = takes()
    series = [w for w, _, _ in items]
    fs_put("motion.ter", lambda path: recording.write(path, np.concatenate(series), RATE_HZ))
    imu_hz = imu_rate(speed)
    longest = max(len(s) for s in series)
    b.soft_reset()  # the file copy above leaves its traces in the heap: the job starts on a clean one
    unknown_dist = info.get("unknown_dist")  # one take a class: the model's distance decides "unknown"
    b.exec("from tinyenroll.jobs import demo as job\njob.gestures(%d, 1, %d, %d, rec='/motion.ter', imu_hz=%d, "
           "groups=%d, unknown_dist=%r)" % (K, longest, length, imu_hz, groups, unknown_dist),
           "setting up the motion part")
    n_en = sum(1 for _, _, e in items if e)
    log("motion: test subject %d, %d transitions enrolled one-shot, %d windows classified, through the "
        "MPU-6050 driver at %d Hz..." % (SUBJECT, n_en, len(items) - n_en, imu_hz))
    answers = []
    for w, name, enroll in items:
        seconds = len(w) / imu_hz  # read from the sensor in real time, silently
        out = b.exec("job.gesture(%d, %r)" % (len(w), name if enroll else None), "motion window",
                     quiet=2 * seconds + 10, total=2 * seconds + 60).strip()
        answers.append(json.loads(out.splitlines()[-1]))
    # the reference: the same front end, model and search in numpy
    model = modelfile.read(model_path)
    x = np.stack([train.frontend(w, length, groups) for w in series])
    ref = reference.forward_batch(model, x)
    board_emb = np.stack([np.frombuffer(bytes.fromhex(a[0]), np.int8) for a in answers])
    names = [name for _, name, e in items if e]
    lab_idx = np.arange(n_en)
    ref_dec = [list(knn_ref.classify(ref[i], ref[:n_en], lab_idx, names, K, "knn", unknown_dist=unknown_dist))
               for i in range(n_en, len(items))]
    board_dec = [a[1] for a in answers[n_en:]]
    truth = [name for _, name, _ in items[n_en:]]
    known = np.array([t in names for t in truth])
    predicted = [d[0] for d in board_dec]
    # baselines: raw windows (the same front-end output), 1-NN over the same enrolled takes
    eu = baselines.nn1(baselines.euclid(x[n_en:], x[:n_en]), names)
    dt = baselines.nn1(baselines.dtw(x[n_en:], x[:n_en], channels=x.shape[1] // length), names)
    acc = lambda p: float(np.mean([p[i] == truth[i] for i in np.flatnonzero(known)]))  # noqa: E731
    # the nearest enrolled class, threshold aside: the board's embeddings equal ref (checked below)
    nearest = baselines.nn1(baselines.euclid(ref[n_en:].astype(np.float64), ref[:n_en].astype(np.float64)), names)
    return {
        "subject": SUBJECT, "classes": names, "enrolled": n_en, "queries": int(known.sum()),
        "never_enrolled": int((~known).sum()), "windows": len(items),
        "accuracy": acc(predicted), "nearest_accuracy": acc(list(nearest)), "euclid_accuracy": acc(list(eu)), "dtw_accuracy": acc(list(dt)),
        "unknown_rejected": float(np.mean([predicted[i] is None for i in np.flatnonzero(~known)])),
        "known_rejected": float(np.mean([predicted[i] is None for i in np.flatnonzero(known)])),
        "embeddings_equal": int((board_emb == ref).all(axis=1).sum()),
        "decisions_equal": sum(1 for x_, y_ in zip(board_dec, ref_dec) if x_ == y_),
        "us_per_window": float(np.median([a[2] for a in answers])),
        "peak_heap": max(a[3] for a in answers),
        "truth": truth, "predicted": predicted,
    }
