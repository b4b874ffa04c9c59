"""Train an embedding model on a host, quantise it to the firmware's int8 format, export it.

    tinyenroll train --dataset PickupGestureWiimoteZ --out wiimote.tem [--classes base] [--seed 0]
                     [--method auto|pca|whiten] [--dim D]
    tinyenroll train --ts my_TRAIN.ts --out model.tem        (or --csv windows.csv)
    tinyenroll train --recording myrec --out model.tem       (tinyenroll record's folder)

Windows go through the board's front end (firmware/frontend.py; `frontend` below is its numpy
twin): integer resampling to a fixed length and a whole-window z-normalisation to int8 in
units of 1/32 standard deviation. Then one dense int8 layer, chosen by how much data there is:
- whiten (every class has >= 10 windows, e.g. JapaneseVowels): within-class whitening learned
  on the training classes, 64 directions, then L2NORM. It shrinks the variation inside a class
  (one speaker, many utterances) that raw distances are dominated by, and it carries over to
  unseen classes: 5-shot on new speakers 91.5 % raw -> 96.1 % (1-NN), 98.7 % (prototypes).
- pca (fewer windows, e.g. 5 a gesture): the leading principal directions of the windows and
  augmented copies (crops, gain, noise), 32 numbers; this only keeps raw-window neighbourhoods.
Why not a softmax classifier cut at its penultimate layer: with this little base data every
network we trained that way (scikit-learn MLPs, with and without augmentation) transferred
worse to unseen classes than the raw windows; so did NCA and LDA projections (see README).
Output: MODEL (.tem) and MODEL.json (front-end settings, class names, sensor scale).
"""
import json
import math

import numpy as np
from sklearn.decomposition import PCA
from tqdm import tqdm

from ..oracle.errors import DataError
from ..data import datasets
from . import quantize
from ..oracle import modelfile, reference

SENSOR_SCALE = 1000  # dataset units -> int16 sensor counts (e.g. g -> milli-g)
INPUT_SCALE = 1.0 / 32


def to_int16(series, scale=SENSOR_SCALE):
    return np.clip(np.round(np.asarray(series, np.float64) * scale), -32768, 32767).astype(np.int64)


def frontend(x, length, groups=1):
    """numpy twin of firmware/frontend.prepare: int16 (n, channels) -> int8 (channels*length,)."""
    x = np.asarray(x, np.int64)
    n, channels = x.shape
    if n < 2 or length < 2:
        raise DataError("a window needs at least 2 samples and 2 points")
    if groups < 1 or channels % groups:
        raise DataError("%d channels cannot be cut into %d equal groups" % (channels, groups))
    pos = np.arange(length, dtype=np.int64) * (n - 1)
    j, f = np.divmod(pos, length - 1)
    nxt = np.minimum(j + 1, n - 1)
    v = (x[j] + np.floor_divide((x[nxt] - x[j]) * f[:, None], length - 1)).T  # (channels, length)
    q = np.empty_like(v)
    per = channels // groups
    for g in range(groups):
        part = v[g * per:(g + 1) * per]
        m = int(part.sum()) // part.size
        s = max(1, math.isqrt(int(((part - m) ** 2).sum()) // part.size))
        q[g * per:(g + 1) * per] = np.floor_divide(64 * (part - m) + s, 2 * s)
    return np.clip(q, -128, 127).astype(np.int8).ravel()


def prepare_all(series, length, scale=SENSOR_SCALE):
    return np.stack([frontend(to_int16(s, scale), length) for s in series])


def augment(series, labels, length, copies, rng, scale=SENSOR_SCALE):
    """Board inputs of randomly cropped (up to 10 % each end), rescaled and noisy copies."""
    xs, ys = [], []
    for _ in tqdm(range(copies), desc="augment", leave=False):
        for s, y in zip(series, labels):
            n = len(s)
            a = int(rng.integers(0, max(1, n // 10)))
            b = n - int(rng.integers(0, max(1, n // 10)))
            w = s[a:b] * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02 * (s.std() + 1e-9), s[a:b].shape)
            xs.append(frontend(to_int16(w, scale), length))
            ys.append(y)
    return np.array(xs), np.array(ys)


def default_length(series):
    channels = series[0].shape[1]
    return 64 if channels == 1 else 16


def whitening(x, y, dim, shrink=0.3):
    """(P (in, dim), mean): whiten the within-class scatter of x, keep the dim directions of
    largest spread left. Differences between examples of one base class (one speaker saying
    different vowels) are shrunk, so distances measure what tells classes apart; this carries
    over to unseen classes of the same kind (new speakers). shrink mixes in the identity so a
    few dozen windows per class give a usable covariance."""
    y = np.asarray(y)
    mu = x.mean(0)
    within = x - np.stack([x[y == c].mean(0) for c in y])
    c = np.cov(within.T)
    c = (1 - shrink) * c + shrink * np.eye(x.shape[1]) * np.trace(c) / x.shape[1]
    ev, v = np.linalg.eigh(c)
    w = v / np.sqrt(np.maximum(ev, 1e-12))
    z = (x - mu) @ w
    _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    return w @ vt[:dim].T, mu


def choose_method(labels):
    """"whiten" when every class has at least 10 windows to estimate its scatter from, else "pca"."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return "whiten" if counts.min() >= 10 else "pca"


def fit(series, labels, dim=None, length=None, copies=20, seed=0, method="auto"):
    """(model dict, info) trained on these series; info has the front-end settings.

    pca:    dim (32) leading principal directions of the windows and augmented copies, no
            normalisation: keeps raw-window neighbourhoods (the gestures: 5 windows a class).
    whiten: dim (64) directions after within-class whitening (see whitening), then L2NORM.
    """
    rng = np.random.default_rng(seed)
    length = length or default_length(series)
    method = choose_method(labels) if method == "auto" else method
    x = prepare_all(series, length)
    xa, ya = augment(series, labels, length, copies, rng)
    data = np.concatenate([x, xa]).astype(np.float64) * INPUT_SCALE
    if method == "pca":
        dim = min(dim or 32, data.shape[0], data.shape[1])
        pca = PCA(dim, random_state=seed).fit(data)
        W = pca.components_
        b = -pca.mean_ @ W.T
    elif method == "whiten":
        dim = min(dim or 64, data.shape[1])
        P, mu = whitening(x.astype(np.float64) * INPUT_SCALE, labels, dim)
        W = P.T
        b = -mu @ P
    else:
        raise DataError("method must be auto, pca or whiten, got %r" % (method,))
    l2 = method == "whiten"
    model = quantize.quantize_mlp([W], [b], [False], data, INPUT_SCALE, l2norm=l2)
    info = {"length": length, "channels": int(series[0].shape[1]), "sensor_scale": SENSOR_SCALE,
            "input_scale": INPUT_SCALE, "embedding": dim, "method": method, "l2norm": l2,
            "float_W": W.tolist(), "float_b": b.tolist()}
    return model, info


def float_embed(info, x_int8):
    e = (np.asarray(x_int8, np.float64) * INPUT_SCALE) @ np.asarray(info["float_W"]).T + np.asarray(info["float_b"])
    if info.get("l2norm"):
        e = 127.0 * e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return e


def nearest_accuracy(train_e, train_y, test_e, test_y):
    d = ((test_e[:, None, :].astype(np.float64) - train_e[None].astype(np.float64)) ** 2).sum(-1)
    return float((np.asarray(train_y)[d.argmin(1)] == np.asarray(test_y)).mean())


def firmware_embed(model_bytes, x_int8):
    """Embeddings computed by the firmware's own code (tinyenroll.model, plain backend)."""
    from tinyenroll import model as fw_model
    m = fw_model.Model(bytearray(model_bytes))
    return np.stack([np.frombuffer(bytes(m.embed(x.tobytes())), np.int8) for x in x_int8])


EPILOG = """needs: labelled windows - a recording folder from `tinyenroll record`, a CSV (one window
a row, a 'label' column, values named t0,t1,... or CHANNEL_INDEX: ax_0,ax_1,...,ay_0,...), a .ts
file, or a shipped dataset. Without --test a validation share is held out (--val).
examples:
  tinyenroll train --recording myrec --out my.tem
  tinyenroll train --csv windows.csv --scale 1000 --length 32 --out my.tem
  tinyenroll train --dataset PickupGestureWiimoteZ --classes base --out wiimote.tem"""


def add_arguments(p):
    p.epilog = EPILOG
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--recipe", choices=["motion", "kws"], help="a shipped recipe: motion = the 6-axis IMU "
                     "embedding pretrained on UCI HAPT (host_tools/learn/motion.py), kws = the keyword embedding on "
                     "the SYNTHETIC speech corpus's train voices (host_tools/learn/kws.py); both need tinyenroll[train]")
    src.add_argument("--dataset", choices=datasets.NAMES, help="a dataset from the aeon wheel")
    src.add_argument("--recording", help="a recording folder (tinyenroll record): int16 windows with labels")
    src.add_argument("--ts", help="a .ts file (UCR/UEA)")
    src.add_argument("--csv", help="a CSV of windows, one per row, with a 'label' column (multi-channel: ax_0,...,ay_0,...)")
    p.add_argument("--test", help="test windows (recording folder, .ts or .csv) for the accuracy table")
    p.add_argument("--val", type=float, default=0.2,
                   help="without --test: share of each class's windows held out for validation (default 0.2)")
    p.add_argument("--length", type=int, help="points per channel after resampling (default 64 for one "
                   "channel, 16 for several)")
    p.add_argument("--scale", default="auto", help="data units -> int16 counts: a number, or auto (recordings: 1, "
                   "they are int16 already; shipped datasets: %d; CSV/.ts: the power of ten that puts the "
                   "largest value between 1600 and 16000)" % SENSOR_SCALE)
    p.add_argument("--classes", choices=["all", "base"], default="all",
                   help="train on all classes or only the base half (the few-shot protocol)")
    p.add_argument("--method", choices=["auto", "pca", "whiten"], default="auto",
                   help="auto: whiten when every class has >= 10 windows, else pca")
    p.add_argument("--dim", type=int, help="embedding size (default 32 for pca, 64 for whiten)")
    p.add_argument("--out", required=True, help="model file to write (.tem); MODEL.json beside it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="with --recipe: a few seconds of training (CI)")


def read_windows(path):
    """(series [(samples, channels) float], labels, int16?) from a recording folder, .ts or .csv;
    ValueError (one line) for anything this cannot train on."""
    import os
    from ..data import recording
    if os.path.isdir(path):
        rec = recording.read_folder(path)
        if any(lab is None for lab in rec["labels"]):
            raise DataError("%s: %d of its windows have no label (streamed): record labelled takes with "
                             "tinyenroll record" % (path, sum(lab is None for lab in rec["labels"])))
        return [w.astype(np.float64) for w in rec["windows"]], [str(x) for x in rec["labels"]], True
    if not os.path.exists(path):
        raise DataError("%s: no such file or folder" % path)
    if path.lower().endswith(".ts"):
        s, y = datasets.read_ts(path)
    elif path.lower().endswith(".csv"):
        s, y = datasets.read_csv(path)
    else:
        raise DataError("%s: not a recording folder, .csv or .ts file" % path)
    return s, y, False


def check_windows(series, labels, what):
    if len(series) < 2:
        raise DataError("%s: %d window; training needs at least 2 classes with windows" % (what, len(series)))
    if len(set(labels)) < 2:
        raise DataError("%s: only one class (%s); training needs at least 2" % (what, labels[0]))
    chans = sorted({s.shape[1] for s in series})
    if len(chans) > 1:
        raise DataError("%s: windows with %s channels; all must have the same" % (what, " and ".join(map(str, chans))))
    short = [i for i, s in enumerate(series) if s.shape[0] < 2]
    if short:
        raise DataError("%s: window %d has fewer than 2 samples" % (what, short[0] + 1))
    if not all(np.isfinite(s).all() for s in series):
        raise DataError("%s: NaN or infinite values" % what)


def choose_scale(series, scale, int16, dataset):
    """The factor from data units to int16 counts; ValueError when it clips or zeroes the data."""
    peak = max(float(np.abs(s).max()) for s in series)
    if peak == 0:
        raise DataError("every value is 0: nothing to learn from")
    if scale == "auto":
        if int16:
            return 1.0
        if dataset:
            return float(SENSOR_SCALE)
        return float(10 ** math.floor(math.log10(16000 / peak)))
    try:
        k = float(scale)
    except ValueError:
        raise DataError("--scale must be a number or auto, got %r" % scale) from None
    if not math.isfinite(k) or k <= 0:
        raise DataError("--scale must be a positive number, got %r" % scale)
    if peak * k > 32767:
        raise DataError("--scale %g clips the data: its largest value %g becomes %g, beyond int16 (32767); "
                         "use --scale %g or less" % (k, peak, peak * k, 32767 / peak))
    if peak * k < 8:
        raise DataError("--scale %g leaves the data almost all zeros (largest value %g becomes %g)" % (k, peak, peak * k))
    return k


def split_validation(series, labels, share, seed):
    """(train series, train labels, val series, val labels): `share` of each class held out,
    at least one window of each class kept for training."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    val = []
    for c in sorted(set(labels)):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(int(round(share * len(idx))), len(idx) - 1)
        val.extend(idx[:k].tolist())
    val = set(val)
    tr = [i for i in range(len(series)) if i not in val]
    va = sorted(val)
    return [series[i] for i in tr], [labels[i] for i in tr], [series[i] for i in va], [labels[i] for i in va]


def _load(args):
    """(train series, labels, test series, labels, what the test set is, int16 input?)."""
    if args.dataset:
        return datasets.load(args.dataset, "TRAIN") + datasets.load(args.dataset, "TEST") + ("test", False)
    src = args.recording or args.ts or args.csv
    tr, ltr, int16 = read_windows(src)
    check_windows(tr, ltr, src)
    if args.test:
        te, lte, _ = read_windows(args.test)
        if not te:
            raise DataError("%s: no windows" % args.test)
        return tr, ltr, te, lte, "test", int16
    tr, ltr, te, lte = split_validation(tr, ltr, args.val, args.seed)
    if te:
        return tr, ltr, te, lte, "held-out validation", int16
    return tr, ltr, tr, ltr, "training", int16


def run(args):
    """Exit status: 0 trained; 2 bad arguments or data this cannot train on (one line)."""
    import sys
    if args.recipe:
        if args.recipe == "kws":
            from . import kws as recipe
        else:
            from . import motion as recipe
        recipe.run(args.out, smoke=args.smoke)
        return 0

    def refuse(msg):
        print("train: %s" % msg, file=sys.stderr)
        return 2
    if not 0 <= args.val < 1:
        return refuse("--val must be at least 0 and below 1, got %g" % args.val)
    if args.length is not None and not 2 <= args.length <= 4096:
        return refuse("--length must be 2..4096, got %d" % args.length)
    if args.dim is not None and args.dim < 1:
        return refuse("--dim must be at least 1, got %d" % args.dim)
    try:
        tr, ltr, te, lte, what, int16 = _load(args)
        if args.classes == "base":
            base, _ = datasets.base_novel(ltr)
            keep = [i for i, y in enumerate(ltr) if y in base]
            tr, ltr = [tr[i] for i in keep], [ltr[i] for i in keep]
            keep = [i for i, y in enumerate(lte) if y in base]
            te, lte = [te[i] for i in keep], [lte[i] for i in keep]
        check_windows(tr, ltr, "the training windows")
        if {s.shape[1] for s in te} != {tr[0].shape[1]}:
            raise DataError("the test windows' channels differ from the training windows'")
        scale = choose_scale(tr, args.scale, int16, bool(args.dataset))
    except (ValueError, OSError) as e:
        return refuse(str(e))
    # fit and prepare_all take data in units that SENSOR_SCALE turns into counts
    tr = [s * (scale / SENSOR_SCALE) for s in tr]
    te = [s * (scale / SENSOR_SCALE) for s in te]
    model, info = fit(tr, ltr, args.dim, length=args.length, seed=args.seed, method=args.method)
    info["sensor_scale"] = scale
    data = modelfile.write(args.out, model)
    info["classes"] = sorted(set(ltr))
    with open(args.out + ".json", "w") as f:
        json.dump({k: v for k, v in info.items() if not k.startswith("float_")}, f, indent=1)
    xtr, xte = prepare_all(tr, info["length"]), prepare_all(te, info["length"])
    f_acc = nearest_accuracy(float_embed(info, xtr), ltr, float_embed(info, xte), lte)
    q_tr, q_te = firmware_embed(data, xtr), firmware_embed(data, xte)
    assert np.array_equal(q_te, reference.forward_batch(modelfile.from_bytes(data), xte))
    q_acc = nearest_accuracy(q_tr, ltr, q_te, lte)
    weights = sum(l["w"].size for l in model["layers"] if l["type"] == "dense")
    print("model %s: %d -> %d, %d int8 weights, %d bytes (x%g to int16 counts)"
          % (args.out, model["in_dim"], info["embedding"], weights, len(data), scale))
    if what == "training":
        print("1-NN accuracy on the %d training windows themselves (too few windows to hold any out; "
              "not a measure of new data):" % len(lte))
    else:
        print("1-NN accuracy on %d %s windows (train windows as references):" % (len(lte), what))
    print("  float embedding  %.1f %%" % (100 * f_acc))
    print("  int8 (firmware)  %.1f %%" % (100 * q_acc))
    return 0
