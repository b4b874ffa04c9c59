"""Check that a board computes exactly what the CPython reference computes.

    tinyenroll validate --port P --model model.tem --data windows.npz    (or --data myrec/)

A recording folder (host_tools/data/recording.py) is put through the front end with the
model's settings; with labels, each class's first window is enrolled. windows.npz holds "windows" (n, in_dim) int8, and optionally "labels" (n,) strings with
"enroll" (n,) bools: the enroll rows are enrolled (on the board, in a scratch store that is
removed afterwards, and in the reference), the others classified. Embeddings and decisions
(label, score, margin) are compared integer for integer; any difference is printed and the
command exits 1.
"""
import json

import numpy as np

from ..oracle.errors import DataError
from ..oracle import knn_ref, modelfile, reference
from ..board.board_io import Board, BoardError
from ..board.ports import PORT_HELP

BATCH = 16
SCRATCH = "/validate"  # the board's scratch store, removed afterwards



def recording_data(path, model_path):
    """(int8 windows, labels, enroll) from a recording folder: each window through the board's
    front end with the model's settings (MODEL.json: length, groups); with labels, the first
    window of each class is enrolled and the others classified."""
    from ..data import recording
    from ..learn import train
    from .own_data import _model
    rec = recording.read_folder(path)
    w = rec["windows"]
    _, _, length, groups = _model(model_path, w.shape[2])
    x = np.stack([train.frontend(v, length, groups) for v in w])
    if any(lab is None for lab in rec["labels"]):
        return x, None, None
    labels = [str(lab) for lab in rec["labels"]]
    seen, enroll = set(), []
    for lab in labels:
        enroll.append(lab not in seen)
        seen.add(lab)
    return x, labels, np.array(enroll)


def load_data(path, model_path=None):
    import os
    if os.path.isdir(path):
        return recording_data(path, model_path)
    if not os.path.isfile(path):
        raise DataError("%s: no such file or folder" % path)
    import zipfile
    try:
        with np.load(path, allow_pickle=False) as z:
            windows = np.asarray(z["windows"])
            labels = [str(x) for x in z["labels"]] if "labels" in z else None
            enroll = np.asarray(z["enroll"], bool) if "enroll" in z else None
    except (ValueError, KeyError, zipfile.BadZipFile) as e:
        raise DataError("%s: not a .npz with int8 'windows' (%s)" % (path, e)) from None
    if windows.dtype != np.int8 or windows.ndim != 2:
        raise DataError("%s: 'windows' must be int8 (n, in_dim), got %s %s" % (path, windows.dtype, windows.shape))
    return windows, labels, enroll


def board_run(b, model_path, windows, labels, enroll, k=3):
    """(embeddings, decisions, backend) computed on the board (tinyenroll.jobs.validate does its half)."""
    b.exec("from tinyenroll.jobs import validate as job", "importing tinyenroll.jobs.validate")
    backend = b.eval("job.open_model(%r)" % model_path, "loading the model on the board")
    embs = []
    for i in range(0, len(windows), BATCH):
        code = "\n".join("job.embed(%r)" % w.tobytes().hex() for w in windows[i:i + BATCH])
        out = b.exec(code, "embedding windows %d.." % i).split()
        embs.extend(np.frombuffer(bytes.fromhex(h), np.int8) for h in out)
    decisions = []
    if labels is not None:
        n_enroll = max(1, int(enroll.sum()))
        b.exec("job.scratch(%r, %d, %d, %d, %d)" % (SCRATCH, k, n_enroll, max(1, len(set(labels))), n_enroll),
               "making a scratch learner")
        for i in np.flatnonzero(enroll):
            b.exec("job.enroll(%r, %r)" % (labels[i], windows[i].tobytes().hex()), "enrolling window %d" % i)
        rest = np.flatnonzero(~enroll)
        for j in range(0, len(rest), BATCH):
            code = "\n".join("job.classify(%r)" % windows[i].tobytes().hex() for i in rest[j:j + BATCH])
            decisions.extend(json.loads(line) for line in b.exec(code, "classifying").splitlines())
        b.exec("job.scratch_end(%r)" % SCRATCH, "removing the scratch store")
    return np.array(embs, np.int8).reshape(len(windows), -1), decisions, backend


def reference_run(model, windows, labels, enroll, k=3):
    embs = reference.forward_batch(model, windows)
    decisions = []
    if labels is not None:
        names = []
        for i in np.flatnonzero(enroll):
            if labels[i] not in names:
                names.append(labels[i])
        rows = embs[enroll]
        lab = np.array([names.index(labels[i]) for i in np.flatnonzero(enroll)])
        for i in np.flatnonzero(~enroll):
            decisions.append(list(knn_ref.classify(embs[i], rows, lab, names, k, "knn")))
    return embs, decisions


def compare(board, ref):
    """Lines describing every difference (empty when the board matches exactly)."""
    (b_emb, b_dec), (r_emb, r_dec) = board, ref
    diffs = []
    if b_emb.shape != r_emb.shape:
        return ["embedding shape: board %s, reference %s" % (b_emb.shape, r_emb.shape)]
    for i in np.flatnonzero((b_emb != r_emb).any(axis=1)):
        cols = np.flatnonzero(b_emb[i] != r_emb[i])
        diffs.append("window %d: embedding differs at %s: board %s, reference %s"
                     % (i, cols[:8].tolist(), b_emb[i][cols[:8]].tolist(), r_emb[i][cols[:8]].tolist()))
    for j, (bd, rd) in enumerate(zip(b_dec, r_dec)):
        if list(bd) != list(rd):
            diffs.append("query %d: board %s, reference %s" % (j, bd, rd))
    if len(b_dec) != len(r_dec):
        diffs.append("decisions: board gave %d, reference %d" % (len(b_dec), len(r_dec)))
    return diffs


def validate(port, model_path, data_path, board_model="/model.tem", soft_reset=True, log=print):
    """Run data through the board and the reference; returns a summary dict (diffs listed)."""
    model = modelfile.read(model_path)
    windows, labels, enroll = load_data(data_path, model_path)
    if windows.shape[1] != model["in_dim"]:
        raise DataError("windows have %d values, the model takes %d" % (windows.shape[1], model["in_dim"]))
    with Board(port, soft_reset=soft_reset) as b:
        crc = b.eval("__import__('tinyenroll.model').model.load(%r).crc" % board_model, "reading the board's model")
        if crc != model["crc"]:
            raise BoardError("the board's %s (CRC %08x) is not %s (CRC %08x): flash it first"
                             % (board_model, crc, model_path, model["crc"]))
        b_emb, b_dec, backend = board_run(b, board_model, windows, labels, enroll)
    r_emb, r_dec = reference_run(model, windows, labels, enroll)
    diffs = compare((b_emb, b_dec), (r_emb, r_dec))
    summary = {"windows": len(windows), "embeddings_equal": int((b_emb == r_emb).all(axis=1).sum()),
               "decisions": len(r_dec), "decisions_equal": sum(1 for x, y in zip(b_dec, r_dec) if list(x) == list(y)),
               "backend": backend, "diffs": diffs, "ok": not diffs}
    log("validate on %s (%s backend): embeddings %d/%d equal, decisions %d/%d equal"
        % (port, backend, summary["embeddings_equal"], len(windows), summary["decisions_equal"], len(r_dec)))
    for line in diffs[:50]:
        log("  " + line)
    return summary


def add_arguments(p):
    p.add_argument("--port", required=True, help=PORT_HELP)
    p.add_argument("--model", required=True, help="the model file flashed on the board")
    p.add_argument("--data", required=True, help="a recording folder (tinyenroll record/stream: its windows go "
                   "through the front end with MODEL.json's settings), or an .npz with int8 'windows' "
                   "(+ 'labels', 'enroll')")


def run(args):
    try:
        return 0 if validate(args.port, args.model, args.data)["ok"] else 1
    except (BoardError, ValueError) as e:
        print("validate failed: %s" % e)
        return 1
