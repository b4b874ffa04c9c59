"""Measure labels without a person on streams of real gestures (PickupGestureWiimoteZ).

Streams: every TEST series of the aeon wheel's PickupGestureWiimoteZ (10 classes, 5 TEST series
each) exactly once, in runs of one class (3..5 windows; classes in a random order, a class may
come back later with its remaining series), so the truth of every window is known and no
series is ever scored twice in a stream: a window enrolled automatically is never later
matched against its own copy (the streams before drew with replacement, and 62 % of scored
windows repeated a series seen earlier in their stream). Each stream starts from a fresh
learner. Windows are 2 s apart.

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
enrolled under, and the accuracy by quarter of the stream with and without them. Run twice:
behaviour gate off (only the per-hour cap) and on (canaries: the first held-out TRAIN series of
each class that the enrolled learner answers right, protected; caps on the share of a class
and the drift of its prototype). The canaries are TRAIN data: nothing of TEST chooses them.
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


def make_streams(test, n_streams, seed, run_min=3, run_max=5):
    """[[test index]]: each stream holds every TEST series once, in runs of one class (test:
    [(vector, class)]; the class only groups the runs)."""
    rng = np.random.default_rng(seed)
    by_class = {}
    for i, (_, lab) in enumerate(test):
        by_class.setdefault(lab, []).append(i)
    streams = []
    for _ in range(n_streams):
        left = {c: list(rng.permutation(v)) for c, v in sorted(by_class.items())}
        s = []
        last = None
        while any(left.values()):
            choices = [c for c in sorted(left) if left[c] and c != last] or [c for c in left if left[c]]
            c = choices[int(rng.integers(len(choices)))]
            n = min(len(left[c]), int(rng.integers(run_min, run_max + 1)))
            if 0 < len(left[c]) - n < run_min:
                n = len(left[c])                    # no run shorter than run_min is left behind
            s.extend(int(i) for i in left[c][:n])
            left[c] = left[c][n:]
            last = c
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


def new_learner(enrolled, dim, folder, k, threshold=None, gate=None, per_hour=1000):
    """A learner with the enrolled TRAIN series; gate None: no canaries, no share or drift cap;
    else (canaries [(vec, label)], share, drift) with canaries protected while they answer right."""
    from tinyenroll import learner
    share, drift = (None, None) if gate is None else gate[1:]
    L = learner.Learner(None, os.path.join(folder, "learned"), dim=dim, k=k, max_canaries=16,
                        auto_per_hour=min(255, per_hour), auto_share=share, auto_drift=drift)
    for vec, lab in enrolled:
        L.enroll(lab, embedding=vec.tobytes())
    if threshold is not None:
        L.set_threshold(threshold, why="evaluation: median score of held-out TRAIN series")
    if gate is not None:
        for vec, lab in gate[0]:
            if L.classify(embedding=vec.tobytes())[0] == lab:
                L.protect(lab, embedding=vec.tobytes(), why="evaluation: held-out TRAIN canary")
    return L


def pick_canaries(rest):
    """The first held-out TRAIN series of each class."""
    seen, out = set(), []
    for vec, lab in rest:
        if lab not in seen:
            seen.add(lab)
            out.append((vec, lab))
    return out


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


def nearmiss_eval(test_vecs, truth_of, streams, enrolled, threshold, dim, k, within, near, confident, per_hour,
                  gate=None):
    from tinyenroll import selflabel
    res = dict(offers=0, enrolled=0, enrolled_right=0, refused={}, acc_with=[0] * 4, acc_without=[0] * 4,
               scored=[0] * 4, canaries=0)
    for s in streams:
        with tempfile.TemporaryDirectory() as tmp_a, tempfile.TemporaryDirectory() as tmp_b:
            La = new_learner(enrolled, dim, tmp_a, k, threshold, gate, per_hour)
            Lb = new_learner(enrolled, dim, tmp_b, k, threshold)
            res["canaries"] += len(La.canaries())
            auto = selflabel.AutoEnroll(La)
            nm = selflabel.NearMiss(dim, within * SECONDS, near, confident, auto)
            held_idx = None
            for pos, i in enumerate(s):
                t = pos * SECONDS
                vec = test_vecs[i].tobytes()
                label, score, _ = La.classify(embedding=vec)
                nearest = La.knn.nearest
                thr = La.threshold()[0]
                q = 4 * pos // len(s)                  # quarter of the stream
                res["scored"][q] += 1
                res["acc_with"][q] += label == truth_of[i]
                res["acc_without"][q] += Lb.classify(embedding=vec)[0] == truth_of[i]
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
    p.add_argument("--streams", type=int, default=40, help="streams (each holds every TEST series once)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--within", type=int, default=2, help="near miss -> detection, in windows")
    p.add_argument("--per-hour", type=int, default=30, help="auto-enrollment cap per hour")
    p.add_argument("--share", type=int, nargs=2, default=(1, 2), help="gate on: share of a class auto-enrollment may add")
    p.add_argument("--drift", type=int, nargs=2, default=(1, 1), help="gate on: prototype drift cap (x threshold)")
    p.add_argument("--dataset", choices=("wiimote", "hapt"), default="wiimote",
                   help="wiimote: raw PickupGestureWiimoteZ windows; hapt: the motion model on HAPT validation "
                   "subjects' transitions, with never-enrolled basic activities in the streams")
    p.add_argument("--json", action="store_true")


def wiimote(dim):
    """(TRAIN [(int8 vector, label)], stream items [(int8 vector, run class, truth)], never-enrolled
    TRAIN windows [(int8 vector, kind)] (none here), what)."""
    train = [(to_int8(x, dim), lab) for x, lab in load_ts("TRAIN")]
    test = [(to_int8(x, dim), lab, lab) for x, lab in load_ts("TEST")]
    return train, test, [], ("tinyenroll.learner k-NN on raw PickupGestureWiimoteZ windows resampled to %d int8 "
                         "points; no trained model" % dim)


def hapt_streams():
    """The motion model's int8 embeddings (the firmware's integers) of HAPT validation subjects:
    subjects 19-21 give the enrolled and held-out transitions (the TRAIN role), subjects 22-24 the
    streams: every transition segment once, and 4 s windows of the six basic activities, which
    are never enrolled (their truth is "unknown": an auto-enrollment of one is wrong). Test
    subjects 25-30 are not read; no setting is chosen here (they are Wiimote's)."""
    from ..data import hapt
    from . import motion_eval
    from tinyenroll import model as fw_model
    m = fw_model.load(motion_eval.DEFAULT_MODEL)

    def embed(xs):
        return [np.frombuffer(bytes(m.embed(v.tobytes())), np.int8).copy() for v in xs]
    recs = hapt.load_validation()
    x, y, subs = motion_eval.windows(recs, hapt.TRANSITIONS)
    xb, yb, sb = motion_eval.windows(recs, hapt.BASIC, basic=True)
    name = lambda c: hapt.ACTIVITIES[int(c)]  # noqa: E731
    E, Eb = embed(x), embed(xb)
    train = [(E[i], name(y[i])) for i in range(len(y)) if subs[i] <= 21]
    test = [(E[i], name(y[i]), name(y[i])) for i in range(len(y)) if subs[i] > 21]
    test += [(Eb[i], "basic " + name(yb[i]), None) for i in range(len(yb)) if sb[i] > 21]
    others = [(Eb[i], name(yb[i])) for i in range(len(yb)) if sb[i] <= 21]
    return train, test, others, ("tinyenroll.learner k-NN on the motion model's int8 embeddings (%s) of HAPT validation "
                         "subjects: enrolled/held out from 19-21, streams from 22-24 with never-enrolled basic "
                         "activities" % os.path.basename(motion_eval.DEFAULT_MODEL))


def evaluate(dim=32, shots=2, k=1, n_streams=40, seed=1, within=2, per_hour=30, share=(1, 2), drift=(1, 1),
             dataset="wiimote"):
    train, items, others, what = hapt_streams() if dataset == "hapt" else wiimote(dim)
    dim = len(train[0][0])
    enrolled, rest = split_train(train, shots)
    test = [(v, group) for v, group, _ in items]
    test_vecs = [v for v, _, _ in items]
    truth_of = [truth for _, _, truth in items]
    streams = make_streams(test, n_streams, seed)
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
    canaries = pick_canaries(rest)
    # never-enrolled kinds (HAPT's basic activities, from the TRAIN role): canaries that must stay unknown
    unknown_canaries = [(v, None) for v, _ in pick_canaries(others)]
    gates = [("off", None), ("on", canaries)] + ([("on+unknown", canaries + unknown_canaries)] if others else [])
    for gate_name, cans in gates:
        for nb, conf in (((3, 2), (1, 1)), ((5, 4), (1, 1)), ((3, 2), (1, 2))):
            gate = None if cans is None else (cans, tuple(share), tuple(drift))
            r = nearmiss_eval(test_vecs, truth_of, streams, enrolled, manual, dim, k, within, nb, conf, per_hour, gate)
            r.update(near=list(nb), confident=list(conf), gate=gate_name, canaries=r["canaries"] // n_streams)
            near.append(r)
    return {"classifier": "%s; k=%d, %d shots per class" % (what, k, shots), "dataset": dataset,
            "never_enrolled": sum(1 for t in truth_of if t is None),
            "classifiers": classifiers, "nearmiss_threshold": manual,
            "windows": sum(len(s) for s in streams), "streams": n_streams, "filter": filt, "nearmiss": near,
            "within_windows": within, "per_hour": per_hour, "share": list(share), "drift": list(drift),
            "repeats": sum(len(s) - len(set(s)) for s in streams)}


def run(args):
    import sys
    if (min(args.dim, args.shots, args.k, args.streams, args.per_hour) < 1 or args.within < 0 or args.dim < 2
            or min(args.share + args.drift) < 1):
        print("selflabel-eval: --dim at least 2, --shots, -k, --streams, --per-hour, --share, --drift "
              "at least 1, --within at least 0", file=sys.stderr)
        return 2
    out = evaluate(args.dim, args.shots, args.k, args.streams, args.seed, args.within, args.per_hour,
                   tuple(args.share), tuple(args.drift), args.dataset)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print("classifier: %s" % out["classifier"])
    for c in out["classifiers"]:
        print("  %-24s %6d (%s): single TEST windows right %.3f, unknown %.3f"
              % (c["name"], c["threshold"][0], c["threshold"][1], c["accuracy"], c["unknown"]))
    print("%d streams, %d windows (each stream: every TEST series once, runs of 3-5 of one class; "
          "repeated series: %d; never-enrolled windows in each stream: %d)\n"
          % (out["streams"], out["windows"], out["repeats"], out["never_enrolled"]))
    print("consistency filter")
    print("%-24s %-9s %-5s %8s %8s %7s %7s %9s %14s" % ("classifier", "max_flip", "hyst", "wrong in", "wrong out",
                                                         "fixed", "broken", "changed", "changed right"))
    for c in out["filter"]:
        print("%-24s %-9d %-5d %8d %9d %7d %7d %9d %14s" % (
            c["classifier"], c["max_flip"], c["hysteresis"], c["wrong_before"], c["wrong_after"], c["fixed"], c["broken"],
            c["changed"], "%d (%.0f%%)" % (c["changed_right"], 100.0 * c["changed_right"] / max(1, c["changed"]))))
    print("\nnear miss then detection (held-out threshold %s; within %d windows, cap %d/hour; gate on: canaries from "
          "held-out TRAIN, share cap %d/%d, drift cap %d/%d x threshold)"
          % (out["nearmiss_threshold"], out["within_windows"], out["per_hour"], out["share"][0], out["share"][1],
             out["drift"][0], out["drift"][1]))
    print("%-11s %-6s %-9s %7s %9s %16s %27s %27s  %s" % ("gate", "near", "confident", "offers", "enrolled", "wrong",
                                                          "acc by quarter (with)", "acc by quarter (without)", "refused"))
    for r in out["nearmiss"]:
        wrong = r["enrolled"] - r["enrolled_right"]
        print("%-11s %-6s %-9s %7d %9d %16s %27s %27s  %s" % (
            "%s (%d)" % (r["gate"], r["canaries"]), "%d/%d" % tuple(r["near"]), "%d/%d" % tuple(r["confident"]), r["offers"],
            r["enrolled"], "%d (%.0f%%)" % (wrong, 100.0 * wrong / max(1, r["enrolled"])),
            " ".join("%.3f" % (a / max(1, n)) for a, n in zip(r["acc_with"], r["scored"])),
            " ".join("%.3f" % (a / max(1, n)) for a, n in zip(r["acc_without"], r["scored"])),
            ", ".join("%s %d" % kv for kv in sorted(r["refused"].items())) or "-"))
    return 0
