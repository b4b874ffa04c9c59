"""Few-shot accuracy of on-device enrollment on real data, against the raw-window baseline.

    tinyenroll fewshot --dataset PickupGestureWiimoteZ|JapaneseVowels|all [--episodes 200]
                       [--json] [--plots DIR]

Protocol: base classes = the first half of the labels in natural order (rounded up), novel =
the rest. Choices are made on validation only: the base classes are split again (the first
half, rounded up, to train on; the rest as validation "novel" classes, supports and queries
both from their TRAIN windows), and the embedding method (pca, whiten, and conv - the motion
recipe's network, host_tools/learn/conv_recipe.py - where PyTorch is installed), its size (16,
32, 64) and the rule (1-NN or nearest prototype) with the best mean validation accuracy over
K = 1 and K = min(5, smallest class - 1) win. Then the chosen embedding is trained on all
base-class TRAIN windows, and TEST is computed once: each episode draws K supports per novel
class from novel TRAIN; the queries are all novel TEST windows; 200 episodes, seed 0, K = 1
and 5. Every accuracy has a 95 % Wilson interval over the n distinct queries (the support draws
average over episodes; with one possible support set, as the gestures' 5-shot, that is all
there is).
Columns:
  raw    each channel resampled to 64 points, window z-normalised, 1-NN Euclidean (float)
  float  the float embedding, 1-NN
  int8   embeddings computed by the firmware (tinyenroll.model, plain backend) and classified
         by the firmware's enrollment code (tinyenroll.enroll.Enroller, k=1, "knn": 1-NN,
         squared Euclidean on the int8 embeddings)
  floatp the float embedding, nearest class mean (prototype)
  int8p  the int8 embeddings, Enroller in "prototype" mode (distance to each class's
         round-half-up mean embedding)
Open set: with K=5 supports and the Enroller's calibrated threshold, the share of base-class
TEST windows (classes never enrolled) answered "unknown", the share of novel queries
answered "unknown", and the AUROC of the best-class score for known vs unknown windows.
When validation does not choose conv, its best configuration on validation is also trained on
all base TRAIN windows and run on the same episodes: a row marked as not chosen.
"""
import json
import os

import numpy as np
from tqdm import tqdm

from ..data import datasets
from ..learn import conv_recipe, train
from ..oracle import modelfile

SHOTS = (1, 5)
DIMS = (16, 32, 64)
NO_TORCH = 'conv not offered: PyTorch is not installed (pip install "tinyenroll[train]")'


def methods():
    """The embedding methods validation chooses from: conv only where PyTorch can be imported."""
    return ("pca", "whiten") + (("conv",) if conv_recipe.available() else ())


def fit(series, labels, method, dim, seed=0):
    """(model, info) of one candidate: a linear method of train.fit or the conv recipe."""
    if method == "conv":
        return conv_recipe.fit(series, labels, dim=dim, seed=seed)
    return train.fit(series, labels, dim=dim, seed=seed, method=method)


def float_embed(info, x):
    return (conv_recipe.float_embed if info["method"] == "conv" else train.float_embed)(info, x)


def raw_features(series):
    out = []
    for s in series:
        t = np.linspace(0, len(s) - 1, 64)
        r = np.stack([np.interp(t, np.arange(len(s)), s[:, c]) for c in range(s.shape[1])], 1)
        out.append(((r - r.mean()) / max(r.std(), 1e-9)).T.ravel())
    return np.array(out)


def one_nn(sup_e, sup_y, q_e):
    d = ((q_e[:, None, :].astype(np.float64) - sup_e[None].astype(np.float64)) ** 2).sum(-1)
    return np.asarray(sup_y)[d.argmin(1)]


def auroc(known_scores, unknown_scores):
    """P(an unknown window scores higher (farther) than a known one), ties half."""
    k = np.asarray(known_scores, np.float64)[:, None]
    u = np.asarray(unknown_scores, np.float64)[None, :]
    return float((u > k).mean() + 0.5 * (u == k).mean())


def wilson(p, n, z=1.96):
    """95 % Wilson score interval (lo, hi) for a proportion p observed over n trials."""
    if n == 0:
        return 0.0, 1.0
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return float(max(0.0, c - h)), float(min(1.0, c + h))


def _episode_acc(e, y, classes, K, episodes, rng, rule):
    # mean accuracy over episodes: K supports per class drawn from e, the rest of those classes as queries
    accs = []
    for _ in range(episodes):
        sup, qry = [], []
        for c in classes:
            idx = rng.permutation(np.flatnonzero(y == c))
            sup.extend(idx[:K])
            qry.extend(idx[K:])
        sup, qry = np.array(sup), np.array(qry)
        if rule == "prototype":
            protos = np.stack([e[sup][y[sup] == c].astype(np.float64).mean(0) for c in classes])
            got = one_nn(protos, np.array(classes), e[qry])
        else:
            got = one_nn(e[sup], y[sup], e[qry])
        accs.append(float((got == y[qry]).mean()))
    return float(np.mean(accs))


def validate(tr, ltr, base, seed=0, episodes=50):
    """The embedding method, size and rule chosen on a validation split carved out of the base
    classes' TRAIN windows (no novel class, no TEST window is looked at); returns (choice, table)."""
    ltr = np.asarray(ltr)
    fit_cls, val_cls = datasets.base_novel([c for c in ltr if c in base])
    f_idx = [i for i in range(len(tr)) if ltr[i] in fit_cls]
    v_idx = np.array([i for i in range(len(tr)) if ltr[i] in val_cls])
    smallest = min(int((ltr[v_idx] == c).sum()) for c in val_cls)
    shots = sorted({1, min(5, smallest - 1)})
    rng = np.random.default_rng(seed)
    rows = []
    for method in methods():
        for dim in DIMS:
            try:
                model, info = fit([tr[i] for i in f_idx], ltr[f_idx], method, dim, seed)
            except (ValueError, np.linalg.LinAlgError):
                continue
            e = train.firmware_embed(modelfile.to_bytes(model), train.prepare_all([tr[i] for i in v_idx], info["length"]))
            for rule in ("knn", "prototype"):
                acc = np.mean([_episode_acc(e, ltr[v_idx], val_cls, K, episodes, rng, rule) for K in shots])
                rows.append({"method": method, "dim": int(info["embedding"]), "rule": rule, "val_accuracy": float(acc)})
    best = max(rows, key=lambda r: (r["val_accuracy"], r["method"] == "pca", -r["dim"]))
    return dict(best, fit_classes=list(fit_cls), val_classes=list(val_cls), val_shots=shots), rows


def _columns(emb_float, emb_int8, draws, labels, q, unknown_q, novel, desc, progress):
    """Accuracies {float, int8, floatp, int8p: {K: [per episode]}} of one embedding on the support
    draws, the 5-shot open set and the confusion of the int8 run (firmware Enroller, 1-NN)."""
    from tinyenroll.enroll import Enroller
    ltr, lte = labels
    acc = {k: {K: [] for K in SHOTS} for k in ("float", "int8", "floatp", "int8p")}
    open_set = {"rejected_unknown": [], "rejected_known": [], "auroc": []}
    confusion = np.zeros((len(novel) + 1, len(novel)), int)
    a, b = emb_float
    e_tr, e_te = emb_int8
    for sups in tqdm(draws, desc=desc, disable=not progress):
        for K, sup in zip(SHOTS, sups):
            acc["float"][K].append(float((one_nn(a[sup], ltr[sup], b[q]) == lte[q]).mean()))
            protos = np.stack([a[sup][ltr[sup] == c].mean(0) for c in novel])
            acc["floatp"][K].append(float((one_nn(protos, novel, b[q]) == lte[q]).mean()))
            e = Enroller(e_tr.shape[1], k=1, capacity=len(sup), max_classes=len(novel), max_per_class=K)
            for i in sup:
                e.add(str(ltr[i]), e_tr[i].tobytes())
            hits, known_scores, unknown_scores, rej_known = 0, [], [], 0
            for i in q:
                label, score, _ = e.classify(e_te[i].tobytes())
                hits += e.nearest == lte[i]
                rej_known += label is None
                known_scores.append(score)
                if K == 5:
                    got = novel.index(e.nearest) if label is not None else len(novel)
                    confusion[got, novel.index(lte[i])] += 1
            acc["int8"][K].append(hits / len(q))
            p = Enroller(e_tr.shape[1], k=1, mode="prototype", capacity=len(sup), max_classes=len(novel),
                         max_per_class=K)
            for i in sup:
                p.add(str(ltr[i]), e_tr[i].tobytes())
            p_hits = 0
            for i in q:
                p.classify(e_te[i].tobytes())
                p_hits += p.nearest == lte[i]
            acc["int8p"][K].append(p_hits / len(q))
            if K == 5:
                rej = 0
                for i in unknown_q:
                    label, score, _ = e.classify(e_te[i].tobytes())
                    rej += label is None
                    unknown_scores.append(score)
                open_set["rejected_unknown"].append(rej / len(unknown_q))
                open_set["rejected_known"].append(rej_known / len(q))
                open_set["auroc"].append(auroc(known_scores, unknown_scores))
    return acc, {k: float(np.mean(v)) for k, v in open_set.items()}, confusion


def _means(acc, n):
    means = {k: {str(K): float(np.mean(v[K])) for K in SHOTS} for k, v in acc.items()}
    return means, {k: {K: wilson(a, n) for K, a in v.items()} for k, v in means.items()}


def _model_summary(model, info, data):
    return {"in": model["in_dim"], "embedding": info["embedding"], "method": info["method"], "bytes": len(data),
            "weights": int(sum(layer["w"].size for layer in model["layers"] if "w" in layer))}


def evaluate(name, episodes=200, seed=0, progress=True):
    tr, ltr = datasets.load(name, "TRAIN")
    te, lte = datasets.load(name, "TEST")
    base, novel = datasets.base_novel(ltr)
    choice, val_rows = validate(tr, ltr, base, seed)
    ltr, lte = np.array(ltr), np.array(lte)
    b_idx = [i for i in range(len(tr)) if ltr[i] in base]
    q = np.flatnonzero(np.isin(lte, novel))
    unknown_q = np.flatnonzero(np.isin(lte, base))
    rng = np.random.default_rng(seed)
    draws = [[np.concatenate([rng.choice(np.flatnonzero(ltr == c), K, replace=False) for c in novel])
              for K in SHOTS] for _ in range(episodes)]

    def run_embedding(method, dim, desc):
        """One candidate trained on all base TRAIN windows, run on the episodes' draws."""
        model, info = fit([tr[i] for i in b_idx], ltr[b_idx], method, dim, seed)
        data = modelfile.to_bytes(model)
        x_tr, x_te = train.prepare_all(tr, info["length"]), train.prepare_all(te, info["length"])
        emb = {"float": (float_embed(info, x_tr), float_embed(info, x_te)),
               "int8": (train.firmware_embed(data, x_tr), train.firmware_embed(data, x_te))}
        acc, open_set, confusion = _columns(emb["float"], emb["int8"], draws, (ltr, lte), q, unknown_q, novel,
                                            desc, progress)
        return acc, open_set, confusion, emb, _model_summary(model, info, data)

    acc, open_set, confusion, emb, summary = run_embedding(choice["method"], choice["dim"], name)
    emb["raw"] = (raw_features(tr), raw_features(te))
    acc["raw"] = {K: [] for K in SHOTS}
    for sups in draws:
        for K, sup in zip(SHOTS, sups):
            acc["raw"][K].append(float((one_nn(emb["raw"][0][sup], ltr[sup], emb["raw"][1][q]) == lte[q]).mean()))
    means, ci = _means({k: acc[k] for k in ("raw", "float", "int8", "floatp", "int8p")}, len(q))
    conv_test = None
    conv_rows = [r for r in val_rows if r["method"] == "conv"]
    if conv_rows and choice["method"] != "conv":
        best = max(conv_rows, key=lambda r: (r["val_accuracy"], -r["dim"]))
        c_acc, c_open, _, _, c_summary = run_embedding("conv", best["dim"], name + " conv")
        c_means, c_ci = _means(c_acc, len(q))
        conv_test = {"dim": best["dim"], "rule": best["rule"], "val_accuracy": best["val_accuracy"],
                     "chosen_column": "int8" if best["rule"] == "knn" else "int8p", "accuracy": c_means,
                     "ci95": c_ci, "open_set": c_open, "model": c_summary}
    return {
        "dataset": name, "base": base, "novel": novel, "episodes": episodes,
        "ways": len(novel), "queries": int(len(q)), "choice": choice, "validation": val_rows,
        "methods": list(methods()),
        "chosen_column": "int8" if choice["rule"] == "knn" else "int8p",
        "accuracy": means, "ci95": ci, "open_set": open_set, "model": summary,
        "conv_test": conv_test,
        "confusion_int8_5shot": confusion.tolist(),
        "_emb": emb, "_labels": (ltr, lte),
    }


def _cells(r, kinds, K):
    a, ci = r["accuracy"], r["ci95"]
    return "".join("%18s" % ("%s%.1f [%.0f-%.0f]" % ("*" if k == r["chosen_column"] else "", 100 * a[k][str(K)],
                                                     100 * ci[k][str(K)][0], 100 * ci[k][str(K)][1])) for k in kinds)


def table(results):
    kinds = ("raw", "float", "int8", "floatp", "int8p")
    lines = ["%-22s %5s" % ("dataset", "shots") + "".join("%18s" % k for k in kinds)]
    for r in results:
        for K in SHOTS:
            lines.append("%-22s %5s" % ("%s %d-way" % (r["dataset"][:14], r["ways"]), K) + _cells(r, kinds, K))
    for r in results:
        c = r.get("conv_test")
        for K in SHOTS if c else ():
            lines.append("%-22s %5s" % ("%s conv" % r["dataset"][:14], K) + "%18s" % "-" + _cells(c, kinds[1:], K))
    lines.append("accuracy %, [95 % Wilson interval over the n novel TEST queries]; raw/float/int8: 1-NN; "
                 "floatp/int8p: nearest class mean; int8 and int8p by the firmware's Enroller;")
    lines.append("* the firmware rule chosen on validation (below), the one a board would use")
    if any(r.get("conv_test") for r in results):
        lines.append("conv rows: NOT the method validation chose; the conv embedding (its best size on validation, "
                     "* its better rule there) on the same episodes")
    lines.append("")
    lines.append("chosen on validation (base classes split again, their TRAIN windows only; no TEST, no novel class):")
    for r in results:
        c = r["choice"]
        lines.append("  %-20s %s, %d dims, %s: validation accuracy %.1f %% (trained on %s, validated on %s, K=%s);"
                     " n queries %d" % (r["dataset"][:20], c["method"], c["dim"], c["rule"], 100 * c["val_accuracy"],
                                        "/".join(c["fit_classes"]), "/".join(c["val_classes"]),
                                        ",".join(map(str, c["val_shots"])), r["queries"]))
    lines.append("validation accuracy % of every candidate (1-NN / prototype):")
    for r in results:
        vals = {(v["method"], v["dim"], v["rule"]): v["val_accuracy"] for v in r["validation"]}
        for m in dict.fromkeys(v["method"] for v in r["validation"]):
            lines.append("  %-20s %-7s" % (r["dataset"][:20], m) + "   ".join(
                "%d dims %.1f / %.1f" % (d, 100 * vals[m, d, "knn"], 100 * vals[m, d, "prototype"])
                for mm, d, rule in vals if mm == m and rule == "knn"))
    if "conv" not in methods():
        lines.append("  " + NO_TORCH)
    lines.append("")
    lines.append("open set (5-shot, calibrated threshold): unseen-class windows rejected / "
                 "enrolled-class windows rejected / AUROC known vs unknown")
    for r in results:
        for what, o in ((r["dataset"][:20], r["open_set"]),
                        ("%s conv" % r["dataset"][:15], (r.get("conv_test") or {}).get("open_set"))):
            if o:
                lines.append("  %-20s %5.1f%% / %5.1f%% / %.3f" % (what, 100 * o["rejected_unknown"],
                                                                  100 * o["rejected_known"], o["auroc"]))
    return "\n".join(lines)


def plots(results, out_dir, seed=0):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for r in results:
        name = r["dataset"]
        fig, ax = plt.subplots(figsize=(5, 4))
        for kind in ("raw", "float", "int8", "floatp", "int8p"):
            ax.plot(SHOTS, [100 * r["accuracy"][kind][str(K)] for K in SHOTS], "o-", label=kind)
        ax.set_xlabel("shots per class")
        ax.set_ylabel("accuracy (%)")
        ax.set_xticks(SHOTS)
        ax.set_title("%s: %d-way few-shot" % (name, r["ways"]))
        ax.legend()
        fig.tight_layout()
        written.append(os.path.join(out_dir, "%s_accuracy.png" % name))
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
        e_tr, e_te = r["_emb"]["int8"]
        ltr, lte = r["_labels"]
        q = np.isin(lte, r["novel"])
        p = PCA(2, random_state=seed).fit_transform(e_te[q].astype(np.float64))
        fig, ax = plt.subplots(figsize=(5, 4))
        for c in r["novel"]:
            m = lte[q] == c
            ax.scatter(p[m, 0], p[m, 1], s=14, label=c)
        ax.set_title("%s: int8 embeddings of novel TEST windows (PCA)" % name, fontsize=9)
        ax.legend(fontsize=7, title="class")
        fig.tight_layout()
        written.append(os.path.join(out_dir, "%s_embeddings.png" % name))
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
        cm = np.array(r["confusion_int8_5shot"])
        fig, ax = plt.subplots(figsize=(5, 4.5))
        share = cm / np.maximum(cm.sum(0, keepdims=True), 1)  # per true class
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(share):
            ax.text(j, i, "%.0f%%" % (100 * v), ha="center", va="center", fontsize=7,
                    color="white" if v > 0.5 else "black")
        ax.set_xticks(range(len(r["novel"])), r["novel"])
        ax.set_yticks(range(len(r["novel"]) + 1), r["novel"] + ["unknown"])
        ax.set_xlabel("true class")
        ax.set_ylabel("answer (int8, 5-shot, all episodes)")
        ax.set_title("%s: confusion of the int8 run" % name, fontsize=9)
        fig.tight_layout()
        written.append(os.path.join(out_dir, "%s_confusion.png" % name))
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
    return written


EPILOG = """needs: nothing for the shipped datasets; with --data, your labelled windows (a recording
folder from `tinyenroll record`, a .csv or .ts as train reads them) and --model.
examples:
  tinyenroll fewshot --dataset all --episodes 200 --plots fewshot_plots
  tinyenroll fewshot --data myrec --model my.tem --episodes 100
  tinyenroll fewshot --dataset basicmotions    # the motion model on a corpus it never saw
  tinyenroll fewshot --dataset speech          # SYNTHETIC speech, validation voices"""


def add_arguments(p):
    p.epilog = EPILOG
    p.add_argument("--dataset", default="all",
                   choices=list(datasets.NAMES) + ["all", "hapt", "basicmotions", "speech"],
                   help="hapt: the motion model on UCI HAPT's postural transitions (motion_eval.py); "
                   "basicmotions: the same model, unchanged, on a corpus it never saw (motion_transfer.py); "
                   "speech: the keyword model on the SYNTHETIC speech corpus's novel words (speech_eval.py)")
    p.add_argument("--data", help="your own labelled windows instead of --dataset: a recording folder, .csv or "
                   ".ts (host_tools/evaluate/own_data.py)")
    p.add_argument("--model", help="with --data: the model to evaluate (required); with --dataset hapt or "
                   "basicmotions: the model (default host_tools/models/motion.tem); with --dataset speech: default "
                   "host_tools/models/kws.tem")
    p.add_argument("--final-test", action="store_true",
                   help="with --dataset hapt: test subjects 25-30 instead of validation; with --dataset speech: "
                   "the test voices instead of validation (run once)")
    p.add_argument("--per-word", type=int, help="with --dataset speech: only this many utterances of each novel "
                   "word (a quick smoke run)")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--plots", help="folder for PNG plots")


def run(args):
    import sys
    if args.episodes < 1:
        print("fewshot: --episodes must be at least 1, got %d" % args.episodes, file=sys.stderr)
        return 2
    if args.data:
        from . import own_data
        if not args.model:
            print("fewshot: --data needs --model (the .tem to evaluate)", file=sys.stderr)
            return 2
        try:
            res = own_data.fewshot(args.data, args.model, args.episodes, args.seed)
        except (ValueError, OSError) as e:
            print("fewshot: %s" % e, file=sys.stderr)
            return 2
        print(json.dumps(res, indent=1) if args.json else own_data.fewshot_table(res))
        return 0
    if args.per_word is not None and args.per_word < 2:
        print("fewshot: --per-word must be at least 2, got %d" % args.per_word, file=sys.stderr)
        return 2
    if args.dataset == "speech":
        from . import speech_eval
        log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print  # stdout: JSON only
        res = speech_eval.evaluate(args.model or speech_eval.DEFAULT_MODEL, args.final_test, args.episodes,
                                   args.seed, per_word=args.per_word, log=log)
        if args.json:
            print(json.dumps(res, indent=1, default=float))
        return 0
    if args.dataset == "hapt":
        from . import motion_eval
        try:
            log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print  # stdout: JSON only
            res = motion_eval.evaluate(args.model or motion_eval.DEFAULT_MODEL, args.final_test, log=log)
        except ValueError as e:
            print("fewshot: %s" % e, file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(res, indent=1, default=float))
        return 0
    if args.dataset == "basicmotions":
        from . import motion_eval, motion_transfer
        log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print  # stdout: JSON only
        res = motion_transfer.evaluate(args.model or motion_eval.DEFAULT_MODEL, args.episodes, args.seed, log=log)
        if args.json:
            print(json.dumps(res, indent=1, default=float))
        return 0
    names = datasets.NAMES if args.dataset == "all" else (args.dataset,)
    results = [evaluate(n, args.episodes, args.seed, progress=not args.json) for n in names]
    if args.plots:
        for path in plots(results, args.plots, args.seed):
            print("wrote", path)
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
    print(json.dumps(clean, indent=1) if args.json else table(clean))
    return 0
