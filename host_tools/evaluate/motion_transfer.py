"""The motion model on a corpus it never saw: `tinyenroll fewshot --dataset basicmotions`.

UEA BasicMotions (in the aeon==1.6.0 wheel, read as the gesture sets are): four students wearing
a smart watch, four activities (Standing, Walking, Running, Badminton), five takes each: 80
windows of 10 s at 10 Hz, 3-axis accelerometer + 3-axis gyroscope. Nothing here chooses anything:
the model is the shipped one as it is (trained on HAPT subjects 1-18: a phone at the waist, 50
Hz), the protocol is motion_eval's, fixed before this was first run: 4-way episodes, K = 1, 3, 5
supports a class drawn from all 80 windows, the other windows of those classes the queries, 200
episodes, seed 0; columns raw Euclid, raw DTW (band 8), float, int8 on the firmware (1-NN,
prototype), the same episodes for every column.
What is new to the model: the wrist instead of the waist, another device, 10 Hz, four people,
whole 10 s windows (its training crops were 1.5-8 s long), running and badminton (walking and
standing were among its training activities). The file's units are not stated; both sensors
are scaled by 100 to int16 (the largest value becomes ~3,500), and as the board's front end
z-normalises each sensor group, only the resolution depends on that.
"""
import numpy as np

from ..data import datasets
from ..data.aeon import aeon_bytes
from ..learn import motion
from . import motion_eval

NAME = "BasicMotions"
SCALE = 100
SHOTS = (1, 3, 5)


def load():
    """(int8 model inputs (80, 384), labels): TRAIN and TEST files together, in file order."""
    xs, ys = [], []
    for split in ("TRAIN", "TEST"):
        series, labels = datasets.parse_ts(aeon_bytes(datasets.AEON % (NAME, NAME, split)).decode(), NAME)
        for s, lab in zip(series, labels):
            lsb = np.clip(np.round(np.asarray(s, np.float64) * SCALE), -32768, 32767).astype(np.int64)
            xs.append(motion.board_input(lsb))
            ys.append(lab)
    return np.array(xs, np.int8), np.array(ys)


def evaluate(model_path, episodes=motion_eval.EPISODES, seed=0, log=print):
    """The table: returns {"rows": {method: {"K1": (mean, half-width), ...}}, "windows": n}."""
    from tinyenroll import model as fw_model
    x, y = load()
    classes = sorted(set(y.tolist()))
    m = fw_model.load(model_path)
    E = np.array([np.frombuffer(bytes(m.embed(v.tobytes())), np.int8) for v in x])
    F = motion.float_forward(model_path, x)
    X = x.astype(np.float64)
    pooled = np.zeros(len(y), int)  # no person ids in the file: supports come from anyone
    eps = {"K%d" % K: motion_eval.episodes(y, pooled, K, n=episodes, seed=seed, ways=classes) for K in SHOTS}
    log("%s, %d windows of %s, 4-way, the shipped motion model unchanged (accuracy %%, 95 %% interval "
        "over episodes)" % (NAME, len(y), "/".join(classes)))
    rows = motion_eval.columns(X, F, E, y, eps, log)
    return {"rows": rows, "windows": len(y), "dataset": NAME}
