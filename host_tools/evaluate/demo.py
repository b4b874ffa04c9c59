"""`make demo`: the whole job on a board, by default a virtual one; no hardware needed.

    tinyenroll demo [--port P --board B] [--out demo_out] [--speed 1]

1. start a virtual board (or use --port/--board, e.g. PORT=/dev/ttyACM0 BOARD=rp2040_pico),
   flash the firmware, the motion model and the board profile;
2. motion (UCI HAPT test subject 25, demo_motion.py): the person's six postural transitions,
   the first take of each enrolled one-shot, the second classified, basic-activity windows
   offered as never-enrolled; the board reads every window through the MPU-6050 driver from a
   simulated chip, runs the front end and the model, and enrolls or classifies it through the
   REPL; raw-window Euclidean and DTW 1-NN on the same takes beside it
   (--parts gestures: the older PickupGestureWiimoteZ part, demo_gestures.py);
3. anomaly (Daphnet S06R02E0 with 4 inserted freezes: the shipped excerpt has no labelled
   freeze): the board replays the recording, learns "normal" on the first 40 s and scores every
   later 2 s window;
4. everything the board computed is checked against the CPython reference, integer for integer
   (the voice part's takes and hits too);
5. voice (demo_voice.py): a test voice of the SYNTHETIC speech corpus says a novel word three
   times into the board's (WAV-replay) mic, then a dozen words with it among them; the board's
   integer front end, keyword model and spotter enroll the takes and print the hits (on a
   virtual board with a Pico's heap: ~117 KB in use);
6. a summary table (accuracy, decisions matched, peak heap, time per window) and plots in --out.
Exits 1 if the board and the reference disagree anywhere.
"""
import json
import os
import sys
import time

import numpy as np

from ..board import profiles, flash
from ..data import recording
from . import anomaly_eval
from ..oracle import anomaly_ref
from ..board.board_io import Board, BoardError
from ..board.ports import PORT_HELP

DAPHNET_SIZE, DAPHNET_HOP, DAPHNET_LEARN = 128, 64, 40



def daphnet_recording():
    """(samples int16 (n, 9), labels (n,), learn windows count) of Daphnet with inserted freezes."""
    x, y = anomaly_eval.daphnet()
    start = DAPHNET_LEARN * DAPHNET_HOP + DAPHNET_SIZE
    x, y = anomaly_eval.insert_fog(x, y, start)
    return np.clip(x, -32768, 32767).astype(np.int16), y


def run_anomaly(b, fs_put, speed, log):
    x, y = daphnet_recording()
    windows = (len(x) - DAPHNET_SIZE) // DAPHNET_HOP + 1
    fs_put("daphnet.ter", lambda path: recording.write(path, x, 64))
    log("anomaly: replaying Daphnet (%d samples of 9 axes at 64 Hz, x%g) on the board..." % (len(x), speed))
    t = time.time()
    # the board prints nothing while it learns normal (DAPHNET_LEARN windows replayed in real
    # time / speed): allow that silence, and the whole replay, with room for a slow board
    learn_s = (DAPHNET_LEARN * DAPHNET_HOP + DAPHNET_SIZE) / 64 / speed
    out = b.exec("from tinyenroll.jobs import demo as job\njob.replay_anomaly('/daphnet.ter', %r, %d, %d, %d, %d)"
                 % (speed, DAPHNET_SIZE, DAPHNET_HOP, windows, DAPHNET_LEARN), "anomaly detection",
                 quiet=2 * learn_s + 30, total=2 * len(x) / 64 / speed + 120)
    seconds = time.time() - t
    threshold, scores, flags, us, peak = None, [], [], [], 0
    for line in out.split("\n"):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "T":
            threshold = int(parts[1])
        elif parts[0] == "S":
            scores.append(int(parts[1]))
            flags.append(parts[2] == "1")
            us.append(int(parts[3]))
        elif parts[0] == "P":
            peak = int(parts[1])
    # the reference: same windows, features and detector in numpy
    starts = np.arange(windows) * DAPHNET_HOP
    raw = [x[s:s + DAPHNET_SIZE].astype(np.int64) for s in starts]
    feats = np.array([anomaly_eval.band_features(w) for w in raw])
    ref = anomaly_ref.Detector(feats.shape[1], capacity=128, k=2, seed=1, raw=True)
    for v in feats[:DAPHNET_LEARN]:
        ref.learn(v)
    ref.finish()
    ref_scores = anomaly_ref.kth_distances(anomaly_ref.quantise(feats[DAPHNET_LEARN:], ref.center, ref.shift),
                                           ref.rows, 2)
    labels = np.array([y[s:s + DAPHNET_SIZE].max() for s in starts[DAPHNET_LEARN:]])
    scores = np.array(scores)
    flags = np.array(flags)
    episodes = anomaly_eval._episode_ids(labels)
    caught = sum(1 for e in set(episodes[episodes >= 0]) if flags[episodes == e].any())
    return {
        "windows": len(scores), "threshold": threshold, "reference_threshold": int(ref.threshold),
        "scores_equal": int((scores == ref_scores).sum()) if len(scores) == len(ref_scores) else 0,
        "auc": anomaly_eval.auc(labels, scores), "episodes": int(len(set(episodes[episodes >= 0]))),
        "caught": caught, "false_alarms": int((flags & (labels == 0)).sum()), "normal_windows": int((labels == 0).sum()),
        "us_per_window": float(np.median(us)) if us else None, "peak_heap": peak, "seconds": seconds,
        "scores": scores.tolist(), "labels": labels.tolist(),
    }


def plots(out_dir, gestures, anomaly, motion=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    written = []
    if anomaly:
        fig, ax = plt.subplots(figsize=(10, 3.5))
        s = np.maximum(np.array(anomaly["scores"]), 1)
        lab = np.array(anomaly["labels"])
        ax.plot(s, lw=1, label="anomaly score (board)")
        ax.axhline(anomaly["threshold"], color="r", ls="--", label="threshold (learned)")
        ax.fill_between(np.arange(len(s)), 0, s.max() * 1.05, where=lab > 0, color="orange", alpha=0.3,
                        label="inserted freeze")
        ax.set_yscale("log")
        ax.set_xlabel("window (1 s hop)")
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title("Daphnet S06R02E0 (+4 inserted freezes): learned normal, scored on the board")
        fig.tight_layout()
        path = os.path.join(out_dir, "anomaly_scores.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    for part, what in ((gestures, "gesture"), (motion, "motion")):
        if part:
            written.append(_confusion(plt, out_dir, part, what))
    return written


def table(rows):
    width = max(len(r[0]) for r in rows)
    return "\n".join("%-*s  %s" % (width, k, v) for k, v in rows)


def _confusion(plt, out_dir, part, what):
    """Board answers (enrolled classes + unknown) against the truth, as a picture."""
    names = part["classes"]
    truths = list(dict.fromkeys(part["truth"]))
    cm = np.zeros((len(names) + 1, len(truths)), int)
    for truth, got in zip(part["truth"], part["predicted"]):
        row = names.index(got) if got in names else len(names)
        cm[row, truths.index(truth)] += 1
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * len(truths), 1.5 + 0.45 * len(names)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(truths)), truths, rotation=60, ha="right")
    ax.set_yticks(range(len(names) + 1), names + ["unknown"])
    ax.set_xlabel("true %s" % what)
    ax.set_ylabel("board's answer")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center")
    ax.set_title("Enrolled %ss, classified on the board" % what)
    fig.tight_layout()
    path = os.path.join(out_dir, "%s_confusion.png" % what)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _putter(b, out_dir):
    """fs_put(name, write): write(host path) makes a file, which is copied to the board's /name."""
    def fs_put(name, write):
        tmp = os.path.join(out_dir, name)
        os.makedirs(out_dir, exist_ok=True)
        write(tmp)
        with open(tmp, "rb") as f:
            b.put(f.read(), "/" + name)
        os.remove(tmp)
    return fs_put


def demo(port=None, board="virtual", out_dir="demo_out", speed=1.0, log=print, parts=("motion", "anomaly", "voice"),
         link="pty", voice_model=None):
    """Run the demo; returns the summary dict (also written to out_dir/summary.json).
    Without port, on a virtual board reached through its pty, or with link="socket" through
    socket:// (a serial link that is not a pty, as a USB board is to mpremote)."""
    profile = profiles.load(board)
    if "motion" in parts:
        from . import demo_motion
        demo_motion.imu_rate(speed)  # a speed the simulated chip cannot run: refused before flashing
    vb = None
    start = time.time()
    if port is None:
        from ..board.virtual_board import VirtualBoard  # (a pty: not on Windows, where --port is needed)
        vb = VirtualBoard(board, socket=link == "socket").start()
        port = vb.port
        log("virtual board %s (heap %s) on %s" % (board, profile["heap"], port))
    summary = {"board": board, "port": port}
    try:
        model = None
        if "gestures" in parts:
            from . import demo_gestures
            model = demo_gestures.MODEL
        if "motion" in parts:
            from . import demo_motion
            model = demo_motion.MODEL
        flash.flash(port, board, model, log=log)
        with Board(port) as b:
            fs_put = _putter(b, out_dir)
            gestures = anomaly = motion = voice = None
            if "motion" in parts:
                motion = demo_motion.run(b, fs_put, speed, log)
                summary["motion"] = {k: v for k, v in motion.items() if k not in ("truth", "predicted")}
            if "gestures" in parts:
                gestures = demo_gestures.run(b, fs_put, speed, log)
                summary["gestures"] = {k: v for k, v in gestures.items() if k not in ("truth", "predicted")}
            if "anomaly" in parts:
                b.soft_reset()
                anomaly = run_anomaly(b, fs_put, speed, log)
                summary["anomaly"] = {k: v for k, v in anomaly.items() if k not in ("scores", "labels")}
            if "voice" in parts and vb is None:  # a real board, if its heap holds the voice job
                from . import demo_voice
                if profiles.heap_bytes(profile) < demo_voice.HEAP_NEEDED:
                    log("voice: skipped on %s (heap %s; the voice job needs ~%d KB with the package in "
                        "/lib: a Pico has it)" % (board, profile["heap"], demo_voice.HEAP_NEEDED // 1024))
                else:
                    b.soft_reset()
                    voice = summary["voice"] = demo_voice.run(b, fs_put, speed, log, voice_model or demo_voice.MODEL)
        if "voice" in parts and vb is not None:
            # front end + keyword model + spotter + learner need more than 96K from .mpy files on
            # this port (demo_voice.HEAP_NEEDED): the virtual voice board has a Pico's heap
            from . import demo_voice
            vb.stop()
            heap = profiles.load("rp2040_pico")["heap"]
            vb = VirtualBoard(board, heap=heap, socket=link == "socket").start()
            log("voice: a virtual board with a Pico's heap (%s) on %s" % (heap, vb.port))
            flash.flash(vb.port, board, model, log=log)
            with Board(vb.port) as b:
                voice = summary["voice"] = demo_voice.run(b, _putter(b, out_dir), speed, log, voice_model or demo_voice.MODEL)
    finally:
        if vb:
            vb.stop()
    summary["seconds"] = round(time.time() - start, 1)
    summary["plots"] = plots(out_dir, gestures, anomaly, motion)
    ok = True
    rows = [("board", "%s (%s)" % (board, port))]
    if gestures:
        g = gestures
        ok &= g["embeddings_equal"] == g["windows"] and g["decisions_equal"] == g["queries"]
        rows += [("gestures", "%d novel classes, %d-shot, %d enrolled, %d classified"
                  % (len(g["classes"]), g["shots"], g["enrolled"], g["queries"])),
                 ("  accuracy (board)", "%.1f %% (%d unknown)" % (100 * g["accuracy"], g["unknown"])),
                 ("  embeddings matched", "%d / %d" % (g["embeddings_equal"], g["windows"])),
                 ("  decisions matched", "%d / %d" % (g["decisions_equal"], g["queries"])),
                 ("  time per window", "%.1f ms (front end + embed + classify, board clock)" % (g["us_per_window"] / 1000)),
                 ("  heap in use", "%d bytes at most (live, after gc.collect())" % g["peak_heap"])]
    if motion:
        m = motion
        ok &= m["embeddings_equal"] == m["windows"] and m["decisions_equal"] == m["windows"] - m["enrolled"]
        rows += [("motion", "test subject %d: %d transitions enrolled one-shot, %d takes + %d never-enrolled "
                  "windows classified" % (m["subject"], m["enrolled"], m["queries"], m["never_enrolled"])),
                 ("  1-NN accuracy", "int8 embedding %.1f %%, raw Euclid %.1f %%, raw DTW %.1f %% (nearest take, no threshold)"
                  % (100 * m["nearest_accuracy"], 100 * m["euclid_accuracy"], 100 * m["dtw_accuracy"])),
                 ("  board's answers", "%.1f %% of transitions right (an \"unknown\" counts as wrong)" % (100 * m["accuracy"])),
                 ("  unknown", "%.0f %% of never-enrolled windows rejected, %.0f %% of transitions"
                  % (100 * m["unknown_rejected"], 100 * m["known_rejected"])),
                 ("  embeddings matched", "%d / %d" % (m["embeddings_equal"], m["windows"])),
                 ("  decisions matched", "%d / %d" % (m["decisions_equal"], m["windows"] - m["enrolled"])),
                 ("  time per window", "%.1f ms (front end + embed + classify, board clock)" % (m["us_per_window"] / 1000)),
                 ("  heap in use", "%d bytes at most (live, after gc.collect())" % m["peak_heap"])]
    if anomaly:
        a = anomaly
        ok &= a["scores_equal"] == a["windows"] and a["threshold"] == a["reference_threshold"]
        rows += [("anomaly", "%d windows scored after learning normal on %d" % (a["windows"], DAPHNET_LEARN)),
                 ("  ROC-AUC (board)", "%.3f" % a["auc"]),
                 ("  freezes caught", "%d / %d, false alarms %d / %d" % (a["caught"], a["episodes"], a["false_alarms"], a["normal_windows"])),
                 ("  scores matched", "%d / %d (threshold %s)" % (a["scores_equal"], a["windows"],
                                                                "equal" if a["threshold"] == a["reference_threshold"] else "DIFFERENT")),
                 ("  time per window", "%.1f ms (features + score, board clock)" % (a["us_per_window"] / 1000)),
                 ("  heap in use", "%d bytes at most (live, after gc.collect())" % a["peak_heap"])]
    if voice:
        v = voice
        ok &= v["takes_equal"] and v["hits_equal"] and v["takes"] == 3
        rows += [("voice", "%s: %r said 3 times, then %d words with it %d times (%.0f s, SYNTHETIC speech)"
                  % (v["voice"], v["word"], 12, v["targets"], v["seconds"])),
                 ("  takes enrolled", "%d / 3 (%s the reference's)" % (v["takes"], "equal to" if v["takes_equal"] else "DIFFERENT from")),
                 ("  detected", "%d / %d, %d false accepts" % (v["detected"], v["targets"], v["false_accepts"])),
                 ("  hits matched", "%s (%d hits)" % ("all" if v["hits_equal"] else "NO", v["hits"])),
                 ("  time per frame", "%.1f ms (front end + spotter, every 16 ms of audio; board clock)" % (v["us_per_frame"] / 1000)),
                 ("  heap in use", "%d bytes at most (live, after gc.collect())" % v["peak_heap"])]
    rows += [("total time", "%.1f s" % summary["seconds"]), ("plots", ", ".join(summary["plots"]))]
    summary["ok"] = bool(ok)
    log("")
    log(table(rows))
    log("board and reference agree exactly" if ok else "MISMATCH between the board and the reference")
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def add_arguments(p):
    p.add_argument("--port", default=os.environ.get("PORT") or None, help="a real board (default: the virtual board): " + PORT_HELP)
    p.add_argument("--board", default=os.environ.get("BOARD") or "virtual", help="board profile")
    p.add_argument("--out", default="demo_out", help="folder for plots and summary.json")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = the recordings' real rate)")
    p.add_argument("--parts", default="motion,anomaly,voice", help="comma-separated: motion, gestures, anomaly, voice")
    p.add_argument("--virtual-link", choices=("pty", "socket"), default="pty",
                   help="without --port: reach the virtual board through its pty (default) or through "
                   "socket:// (not a pty: mpremote's timeouts apply as on a USB board)")


def run(args):
    if not args.speed > 0:
        print("demo: --speed must be positive", file=sys.stderr)
        return 2
    try:
        parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
        unknown = set(parts) - {"motion", "gestures", "anomaly", "voice"}
        if unknown or not parts:
            print("demo: --parts takes motion, gestures, anomaly, voice (got %s)" % args.parts)
            return 2
        return 0 if demo(args.port, args.board, args.out, args.speed, parts=parts,
                          link=args.virtual_link)["ok"] else 1
    except BoardError as e:  # one class: profiles, board_io, flash
        print("demo failed: %s" % e)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted")
        return 130
