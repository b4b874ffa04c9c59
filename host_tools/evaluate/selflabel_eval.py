"""Measure labels without a person on streams of real gestures (PickupGestureWiimoteZ).

Streams: runs of one gesture class (length 3..8 windows, class drawn at random), each window a
random TEST series of that class from the aeon wheel's PickupGestureWiimoteZ (10 classes, 5
TEST series each), so the truth of every window is known. Windows are 2 s apart.

Classifier: the on-device enrollment code (tinyenroll.learner.Learner, k-NN) over raw windows
(no trained model is used here): each series is resampled to --dim points, z-normalised and
scaled to int8 (x * 32 / std, clipped). The first --shots TRAIN series of each class are
enrolled. On these raw windows the learner's own "unknown" calibration is so loose that no
window is unknown, and then nothing can be a near miss; so the filter is measured with both
that threshold and one set by hand (Learner.set_threshold) to the median best score of the
TRAIN series that were not enrolled, and the near misses with the latter.

Consistency filter: each stream's classifications go through ConsistencyFilter; counted are
the wrong labels it makes right, the right labels it makes wrong, and how many of the labels
it changed are right (those are what an opted-in enrollment would store).
Near miss then detection: the stream is classified live by a Learner, NearMiss enrolls through
the guards; counted are the auto-enrolled windows whose true class is the label they were
enrolled under, and the accuracy on the rest of the stream with and without them.
"""
import json
import os
import tempfile

import numpy as np


SECONDS = 2


def load_ts(split):
    """[(float array, label str)] of the univariate gesture series of one split."""
    from ..data import datasets
    series, labels = datasets.load("PickupGestureWiimoteZ", split)
    return [(s[:, 0], lab) for s, lab in zip(series, labels)]


def to_int8(x, dim):
    """Resample to dim points (linear), z-normalise, scale by 32 and clip to int8."""
    t = np.linspace(0, len(x) - 1, dim)
    r = np.interp(t, np.arange(len(x)), x)
    sd = r.std()
    z = (r - r.mean()) / (sd if sd > 1e-9 else 1.0)
    return np.clip(np.round(z * 32), -127, 127).astype(np.int8)


def make_streams(test, n_streams, n_runs, seed):
    """[[test index]] streams and their true labels."""
    rng = np.random.default_rng(seed)
    by_class = {}
    for i, (_, lab) in enumerate(test):
        by_class.setdefault(lab, []).append(i)
    classes = sorted(by_class)
    streams = []
    for _ in range(n_streams):
        s = []
        for _ in range(n_runs):
            c = classes[int(rng.integers(len(classes)))]
            for _ in range(int(rng.integers(3, 9))):
                s.append(by_class[c][int(rng.integers(len(by_class[c])))])
        streams.append(s)
    return streams


def split_train(train, shots):
    """(enrolled, held out): the first `shots` TRAIN series of each class, and the rest."""
    seen = {}
    enrolled, rest = [], []
    for vec, lab in train:
        (enrolled if seen.get(lab, 0) < shots else rest).append((vec, lab))
        seen[lab] = seen.get(lab, 0) + 1
    return enrolled, rest


def new_learner(enrolled, dim, folder, k, threshold=None):
    from tinyenroll import learner
    L = learner.Learner(None, os.path.join(folder, "learned"), dim=dim, k=k)
    for vec, lab in enrolled:
        L.enroll(lab, embedding=vec.tobytes())
    if threshold is not None:
        L.set_threshold(threshold, why="evaluation: median score of held-out TRAIN series")
    return L


def heldout_threshold(enrolled, rest, dim, k):
    """Median best score of the TRAIN series that were not enrolled (no TEST data involved)."""
    with tempfile.TemporaryDirectory() as tmp:
        L = new_learner(enrolled, dim, tmp, k)
        scores = [L.classify(embedding=v.tobytes())[1] for v, _ in rest]
    return int(np.median(scores))


def filter_eval(preds, truths, max_flip, h):
    from tinyenroll import selflabel
    c = dict(windows=0, wrong_before=0, wrong_after=0, fixed=0, broken=0, changed=0, changed_right=0)
    for pred, truth in zip(preds, truths):
        f = selflabel.ConsistencyFilter(max_flip, h)
        out = []
        for p in pred:
            f.push(p)
            while f._ready:
                out.append(f.pop()[0])
        f.flush()
        while f._ready:
            out.append(f.pop()[0])
        for p, o, t in zip(pred, out, truth):
            c["windows"] += 1
            c["wrong_before"] += p != t
            c["wrong_after"] += o != t
            c["fixed"] += p != t and o == t
            c["broken"] += p == t and o != t
            c["changed"] += o != p
            c["changed_right"] += o != p and o == t
    return c


def nearmiss_eval(test_vecs, truth_of, streams, enrolled, threshold, dim, k, within, near, confident, per_hour):
    from tinyenroll import selflabel
    res = dict(offers=0, enrolled=0, enrolled_right=0, refused={}, acc_with=0, acc_without=0, scored=0)
    for s in streams:
        with tempfile.TemporaryDirectory() as tmp_a, tempfile.TemporaryDirectory() as tmp_b:
            La = new_learner(enrolled, dim, tmp_a, k, threshold)
            Lb = new_learner(enrolled, dim, tmp_b, k, threshold)
            auto = selflabel.AutoEnroll(La, per_hour=per_hour)
            nm = selflabel.NearMiss(dim, within * SECONDS, near, confident, auto)
            held_idx = None
            half = len(s) // 2
            for pos, i in enumerate(s):
                t = pos * SECONDS
                vec = test_vecs[i].tobytes()
                label, score, _ = La.classify(embedding=vec)
                nearest = La.knn.nearest
                thr = La.threshold()[0]
                if pos >= half:
                    res["scored"] += 1
                    res["acc_with"] += label == truth_of[i]
                    res["acc_without"] += Lb.classify(embedding=vec)[0] == truth_of[i]
                if label is None and nearest is not None and score is not None and score > thr \
                        and score * near[1] <= thr * near[0]:
                    held_idx = i
                before = nm.offers
                got = nm.observe(t, label, score, nearest, thr, vec)
                if nm.offers > before:
                    res["offers"] += 1
                if got is not None:
                    res["enrolled"] += 1
                    res["enrolled_right"] += truth_of[held_idx] == got[0]
            for why, n in auto.refused.items():
                res["refused"][why] = res["refused"].get(why, 0) + n
    return res


def add_arguments(p):
    p.add_argument("--dim", type=int, default=32, help="resampled window length (int8 vector size)")
    p.add_argument("--shots", type=int, default=2, help="TRAIN series enrolled per class")
    p.add_argument("-k", type=int, default=1, help="k of the enrollment k-NN")
    p.add_argument("--streams", type=int, default=20)
    p.add_argument("--runs", type=int, default=25, help="runs per stream")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--within", type=int, default=2, help="near miss -> detection, in windows")
    p.add_argument("--per-hour", type=int, default=30, help="auto-enrollment cap per hour")
    p.add_argument("--json", action="store_true")


def evaluate(dim=32, shots=2, k=1, n_streams=20, n_runs=25, seed=1, within=2, per_hour=30):
    train = [(to_int8(x, dim), lab) for x, lab in load_ts("TRAIN")]
    enrolled, rest = split_train(train, shots)
    test = load_ts("TEST")
    test_vecs = [to_int8(x, dim) for x, _ in test]
    truth_of = [lab for _, lab in test]
    streams = make_streams(test, n_streams, n_runs, seed)
    manual = heldout_threshold(enrolled, rest, dim, k)
    truths = [[truth_of[i] for i in s] for s in streams]
    classifiers = []
    filt = []
    for name, thr in (("learner's own threshold", None), ("held-out threshold", manual)):
        with tempfile.TemporaryDirectory() as tmp:
            L = new_learner(enrolled, dim, tmp, k, thr)
            cls = [L.classify(embedding=v.tobytes())[0] for v in test_vecs]
            t = L.threshold()
        classifiers.append({"name": name, "threshold": list(t),
                            "accuracy": float(np.mean([c == u for c, u in zip(cls, truth_of)])),
                            "unknown": float(np.mean([c is None for c in cls]))})
        preds = [[cls[i] for i in s] for s in streams]
        for max_flip, h in ((1, 1), (1, 2), (2, 2), (1, 3)):
            c = filter_eval(preds, truths, max_flip, h)
            c.update(max_flip=max_flip, hysteresis=h, classifier=name)
            filt.append(c)
    near = []
    for nb, conf in (((3, 2), (1, 1)), ((5, 4), (1, 1)), ((3, 2), (1, 2))):
        r = nearmiss_eval(test_vecs, truth_of, streams, enrolled, manual, dim, k, within, nb, conf, per_hour)
        r.update(near=list(nb), confident=list(conf))
        near.append(r)
    return {"classifier": "tinyenroll.learner k-NN (k=%d) on raw windows resampled to %d int8 points, "
                          "%d TRAIN shots per class; no trained model" % (k, dim, shots),
            "classifiers": classifiers, "nearmiss_threshold": manual,
            "windows": sum(len(s) for s in streams), "streams": n_streams, "filter": filt, "nearmiss": near,
            "within_windows": within, "per_hour": per_hour}


def run(args):
    import sys
    if min(args.dim, args.shots, args.k, args.streams, args.runs, args.per_hour) < 1 or args.within < 0 or args.dim < 2:
        print("selflabel-eval: --dim at least 2, --shots, -k, --streams, --runs, --per-hour at least 1, "
              "--within at least 0", file=sys.stderr)
        return 2
    out = evaluate(args.dim, args.shots, args.k, args.streams, args.runs, args.seed, args.within, args.per_hour)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print("classifier: %s" % out["classifier"])
    for c in out["classifiers"]:
        print("  %-24s %6d (%s): single TEST windows right %.3f, unknown %.3f"
              % (c["name"], c["threshold"][0], c["threshold"][1], c["accuracy"], c["unknown"]))
    print("%d streams, %d windows (runs of 3-8 windows of one class)\n" % (out["streams"], out["windows"]))
    print("consistency filter")
    print("%-24s %-9s %-5s %8s %8s %7s %7s %9s %14s" % ("classifier", "max_flip", "hyst", "wrong in", "wrong out",
                                                         "fixed", "broken", "changed", "changed right"))
    for c in out["filter"]:
        print("%-24s %-9d %-5d %8d %9d %7d %7d %9d %14s" % (
            c["classifier"], c["max_flip"], c["hysteresis"], c["wrong_before"], c["wrong_after"], c["fixed"], c["broken"],
            c["changed"], "%d (%.0f%%)" % (c["changed_right"], 100.0 * c["changed_right"] / max(1, c["changed"]))))
    print("\nnear miss then detection (held-out threshold %s; within %d windows, cap %d/hour)"
          % (out["nearmiss_threshold"], out["within_windows"], out["per_hour"]))
    print("%-6s %-9s %7s %9s %14s %10s %12s  %s" % ("near", "confident", "offers", "enrolled", "truly that label",
                                                     "acc after", "acc without", "refused"))
    for r in out["nearmiss"]:
        print("%-6s %-9s %7d %9d %16s %10.3f %12.3f  %s" % (
            "%d/%d" % tuple(r["near"]), "%d/%d" % tuple(r["confident"]), r["offers"], r["enrolled"],
            "%d (%.0f%%)" % (r["enrolled_right"], 100.0 * r["enrolled_right"] / max(1, r["enrolled"])),
            r["acc_with"] / max(1, r["scored"]), r["acc_without"] / max(1, r["scored"]),
            ", ".join("%s %d" % kv for kv in sorted(r["refused"].items())) or "-"))
    return 0
