"""The maker's own data: `record` takes labelled windows through the board's app into a
recording folder (host_tools/data/recording.py), `stream` writes the same folder and `validate` reads it; and the
.ter sidecar carries channel names and units without changing what the board reads."""
import json

import numpy as np

from host_tools.board import record, stream
from host_tools.data import recording
from test_app import CHANNELS, RATE, WINDOW, _board  # noqa: F401 (the 6-axis MPU-6050 board)

import pytest


@pytest.fixture
def board(tmp_path):
    yield from _board(tmp_path)


def test_record_appends_labelled_windows_and_stream_writes_the_same_format(board, tmp_path):
    out = str(tmp_path / "rec")
    lines = []
    taken, total, err = record.record(board.device, out, "tilt", 2, countdown=1,
                                      log=lambda m, end="\n": lines.append(m))
    assert err is None and taken == 2 and total == 2
    assert "1 " in lines and "go" in lines  # the countdown on the host terminal
    taken, total, err = record.record(board.device, out, "shake", 2, countdown=0, log=lambda *a, **k: None)
    assert err is None and total == 4
    rec = recording.read_folder(out)
    assert rec["windows"].shape == (4, WINDOW, CHANNELS) and rec["windows"].dtype == np.int16
    assert rec["labels"] == ["tilt", "tilt", "shake", "shake"]
    assert rec["rate_hz"] == RATE and rec["channels"] == ["ax", "ay", "az", "gx", "gy", "gz"]
    assert "per g" in rec["units"] and "deg/s" in rec["units"]
    # the replayed recording's first windows are two tilts: slow rise on ax
    assert rec["windows"][0, -1, 0] > rec["windows"][0, 0, 0] + 4000
    assert not [n for n in __import__("os").listdir(out) if n.endswith(".tmp")]

    # validate reads the same folder: front end with the model's settings, first take of each
    # class enrolled, the board's numbers against the reference
    from host_tools.evaluate import validate
    res = validate.validate(board.device, str(tmp_path / "m.tem"), out, log=lambda *a: None)
    assert res["ok"] and res["windows"] == 4 and res["decisions"] == 2, res

    s_out = str(tmp_path / "streamed")
    rep = stream.stream(board.device, s_out, 3, 20, timeout=10, progress=False)
    assert rep["written"] and rep["received"] == 3, rep
    srec = recording.read_folder(s_out)
    assert srec["windows"].shape == (3, 20, CHANNELS) and srec["labels"] == [None] * 3
    assert srec["rate_hz"] == RATE and srec["channels"] == rec["channels"] and srec["units"] == rec["units"]
    assert json.load(open(s_out + "/report.json"))["received"] == 3


def test_record_with_a_motion_trigger_waits_for_the_movement(board, tmp_path):
    """The IMU lies still for 2 s, then shakes: a take started by motion (sample-to-sample change
    past app.motion_level) holds the shake, a take started at once the stillness."""
    fs = board.fs_dir
    rng = np.random.default_rng(5)
    t = np.arange(2 * RATE) / RATE
    still = np.zeros((2 * RATE, CHANNELS))
    still[:, 2] = 8192
    shake = np.zeros((2 * RATE, CHANNELS))
    shake[:, 1] = 6000 * np.sin(2 * np.pi * 6 * t)
    imu = np.concatenate([still, shake]) + rng.normal(0, 150, (4 * RATE, CHANNELS))
    recording.write(fs + "/imu.ter", np.round(imu).astype(np.int64), RATE)
    prof = json.loads(open(fs + "/board.json").read())
    prof["app"]["motion_level"] = 4000  # the shake's change passes it (up to ~4400 on ay alone), noise never
    open(fs + "/board.json", "w").write(json.dumps(prof))
    out = str(tmp_path / "rec")
    lines = []
    taken, total, err = record.record(board.device, out, "shake", 1, log=lambda m, end="\n": lines.append(m),
                                      trigger="motion", wait=20)
    assert err is None and taken == 1, err
    assert any("move to start" in m for m in lines)
    w = recording.read_folder(out)["windows"][0]
    assert w[:, 1].std() > 2000, w[:, 1].std()        # ay: 6000 sin(2 pi 6 t) in the shake
    taken, total, err = record.record(board.device, out, "still", 1, countdown=0, log=lambda *a, **k: None)
    rec = recording.read_folder(out)
    assert err is None and total == 2 and rec["labels"] == ["shake", "still"]
    assert rec["windows"][1][:, 1].std() < 500               # a fresh connection: the replay starts still


def test_record_with_a_button_trigger_waits_for_the_press(board, tmp_path):
    """The virtual board's button is a file on its flash ("file:/button"): a take starts only
    when it reads 0 (pressed), written here 1.5 s after the board says to press."""
    import threading
    import time
    fs = board.fs_dir
    prof = json.loads(open(fs + "/board.json").read())
    prof["app"]["button"] = "file:/button"
    open(fs + "/board.json", "w").write(json.dumps(prof))
    lines, pressed_at = [], []

    def press():
        while not any("press the button" in m for m in lines):
            time.sleep(0.05)
        time.sleep(1.5)
        pressed_at.append(time.time())
        open(fs + "/button", "w").write("0")
    t = threading.Thread(target=press, daemon=True)
    t.start()
    out = str(tmp_path / "rec")
    taken, total, err = record.record(board.device, out, "tap", 1, log=lambda m, end="\n": lines.append(m),
                                      trigger="button", wait=20)
    done = time.time()
    t.join(5)
    assert err is None and taken == 1, err
    assert any("press the button" in m for m in lines), lines
    # the take (1 s: 50 samples at 50 Hz) was read after the press, not before it
    assert pressed_at and done - pressed_at[0] >= 0.9, (done, pressed_at)
    assert recording.read_folder(out)["labels"] == ["tap"]


def test_appending_other_channels_is_refused_and_the_folder_kept(tmp_path):
    out = str(tmp_path / "rec")
    w = np.zeros((1, 10, 6), np.int16)
    recording.append_folder(out, w, ["a"], 50, recording.MPU_NAMES, "u")
    before = open(out + "/windows.npy", "rb").read()
    with pytest.raises(ValueError, match="rate"):
        recording.append_folder(out, w, ["a"], 100, recording.MPU_NAMES, "u")
    assert open(out + "/windows.npy", "rb").read() == before


def test_ter_sidecar_keeps_v1_for_the_board(tmp_path):
    p = str(tmp_path / "x.ter")
    x = np.arange(12).reshape(6, 2)
    recording.write(p, x, 50, channels=["a", "b"], units="mg")
    assert open(p, "rb").read()[4] == 1  # still version 1: firmware/sensors/replay.py reads it
    got, rate, names, units = recording.read_meta(p)
    assert rate == 50 and names == ["a", "b"] and units == "mg" and np.array_equal(got, x)
