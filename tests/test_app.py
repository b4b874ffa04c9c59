"""The maker's REPL app (tinyenroll.app) on the virtual board: from a freshly flashed board to
enrolled classes that survive a reboot, reading the sensor through the real MPU-6050 driver."""
import json

import numpy as np
import pytest

from host_tools.board import flash
from host_tools.board.board_io import Board, BoardError
from host_tools.board.virtual_board import VirtualBoard
from host_tools.data import recording
from host_tools.learn import quantize
from host_tools.oracle import modelfile

RATE = 50
WINDOW = 50          # samples: window_ms 1000 at 50 Hz
LENGTH = 16
CHANNELS = 6


def _pattern(kind, rng):
    """One window of a synthetic 6-axis motion: kind 0 a slow tilt, 1 a shake, 2 a twist."""
    t = np.arange(WINDOW) / RATE
    x = np.zeros((WINDOW, CHANNELS))
    if kind == 0:
        x[:, 0] = 8000 * t
        x[:, 2] = 8192 - 4000 * t
    elif kind == 1:
        x[:, 1] = 6000 * np.sin(2 * np.pi * 6 * t)
        x[:, 4] = 3000 * np.cos(2 * np.pi * 6 * t)
    else:
        x[:, 5] = 9000 * np.sin(2 * np.pi * 1 * t)
        x[:, 3] = 2000 * t
    return np.round(x + rng.normal(0, 150, x.shape)).astype(np.int64)


def _board(tmp_path, heap=None, romfs=False):
    rng = np.random.default_rng(2)
    fs = tmp_path / "flash"
    with VirtualBoard("virtual", str(fs), heap=heap, romfs=romfs) as vb:
        # a model for 6 x 16 inputs, and an IMU recording: 2 takes of each pattern, then one of each
        m = quantize.quantize_mlp([rng.normal(size=(24, CHANNELS * LENGTH))], [rng.normal(size=24)], [False],
                                  rng.normal(size=(50, CHANNELS * LENGTH)), 4 / 127)
        path = str(tmp_path / "m.tem")
        modelfile.write(path, m)
        (tmp_path / "m.tem.json").write_text(json.dumps({"unknown_pct": 130, "unknown_dist": 20000}))  # as chosen on validation
        flash.flash(vb.device, "virtual", path, log=lambda *a: None)
        takes = [0, 0, 1, 1, 2, 2, 0, 1, 2, 2]
        recording.write(str(fs / "imu.ter"), np.concatenate([_pattern(k, rng) for k in takes]), RATE)
        profile = json.loads((fs / "board.json").read_text())
        profile["sensor"] = {"driver": "mpu6050", "bus": "sim", "file": "imu.ter", "address": 104}
        profile["sample_rate_hz"] = RATE
        # flash carries the model's unknown rules to the board
        assert (profile["model"]["unknown_pct"], profile["model"]["unknown_dist"]) == (130, 20000)
        profile["model"] = {"path": "/model.tem", "channels": CHANNELS, "length": LENGTH, "groups": 2,
                            "unknown_pct": 130, "unknown_dist": 20000}
        profile["app"] = {"window_ms": 1000, "store": "/learned", "k": 1}
        (fs / "board.json").write_text(json.dumps(profile))
        yield vb


@pytest.fixture
def board(tmp_path):
    yield from _board(tmp_path)


@pytest.fixture
def big_board(tmp_path):
    # 192K: on the 64-bit unix port the code of app + learner + selflabel + anomaly, loaded
    # from .mpy into RAM, fragments a 96K heap until a 2 KB buffer no longer fits (largest
    # free block 624 bytes, measured); a board with 32-bit objects or a frozen package needs
    # far less. Reducing what imports hold is issue 13's.
    yield from _board(tmp_path, heap="192K")


@pytest.fixture
def romfs_board(tmp_path):
    # a plain ESP32's 96K beside a ROMFS partition holding the package (run in place, as frozen)
    yield from _board(tmp_path, romfs=True)


def test_enroll_classify_undo_and_reboot(board):
    with Board(board.device) as b:
        banner = b.exec("import tinyenroll.app as te", quiet=60)
        assert "nothing learned yet" in banner and "mpu6050 at 50 Hz" in banner
        out = b.exec("te.enroll('tilt', n=2, countdown=0)")
        assert "tilt 1/2" in out and "tilt 2/2" in out and "enroll another class to compare" in out
        out = b.exec("te.enroll('shake', n=2, countdown=0)")
        assert "nearest other class tilt" in out
        b.exec("te.enroll('twist', n=2, countdown=0)")
        answers = [b.exec("te.classify()").strip() for _ in range(3)]
        assert [a.split()[0] for a in answers] == ["tilt", "shake", "twist"], answers
        assert "tilt x2, shake x2, twist x2" in b.exec("te.labels()")
        out = b.exec("te.undo()")                     # the last change (twist's 2nd take) is undone
        assert "twist x1" in out
        assert "FROZEN" in b.exec("te.freeze(); te.status()")
        with pytest.raises(BoardError, match="frozen"):
            b.exec("te.enroll('late', n=1, countdown=0)")
        b.exec("te.unfreeze()")
        help_text = b.exec("te.help()")
        assert "te.enroll(label, n=3)" in help_text and len(help_text.splitlines()) >= 5
    with Board(board.device) as b:                   # a soft reset: RAM gone, the store stays
        banner = b.exec("import tinyenroll.app as te", quiet=60)
        assert "knows tilt, shake, twist" in banner
        assert "shake" in b.exec("te.forget('twist'); te.labels()")
        assert "twist" not in b.exec("te.labels()")
        # the model's, from board.json
        assert b.exec("print(te.learner.knn.unknown_pct, te.learner.knn.unknown_dist)").strip() == "130 20000"


@pytest.mark.parametrize("which", ["big_board", "romfs_board"])
def test_live_and_anomaly(which, request):
    """The whole REPL loop: from .mpy files in /lib it needs 192K on this port (big_board); from
    a ROMFS image it runs in 96K (README's install routes)."""
    board = request.getfixturevalue(which)
    with Board(board.device) as b:
        where = b.exec("import tinyenroll.app as te; print(te.__file__)", quiet=60).strip().splitlines()[-1]
        assert where.startswith("/rom/lib/" if which == "romfs_board" else "/lib/"), where
        b.exec("te.enroll('tilt', n=1, countdown=0); te.enroll('shake', n=1, countdown=0)")
        out = b.exec("print('answers', te.live(seconds=3, hop_ms=500))")
        assert "live: every 500 ms" in out
        assert int(out.split("answers")[-1]) >= 3
        assert "te.learn_normal(60) first" in b.exec("te.watch(seconds=1)")
        out = b.exec("te.learn_normal(4); te.status()")
        assert "normal learned: threshold" in out and "anomaly: threshold" in out
        # level-free by default: each channel's level slot (feature 5c) is 0 in every learned window,
        # while channel 2 (z, gravity near 8192 in the tilt takes) has a level
        centers = b.exec("print([te._det.center[5 * c] for c in range(6)])").strip()
        assert centers == "[0, 0, 0, 0, 0, 0]", centers
    with Board(board.device) as b:                   # the learned normal is in the store too
        assert "anomaly: threshold" in b.exec("import tinyenroll.app as te; te.status()")


def test_missing_model_is_one_line(tmp_path):
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        flash.flash(vb.device, "virtual", None, log=lambda *a: None)
        (tmp_path / "flash" / "model.tem").unlink()      # as on a board where it was deleted
        with Board(vb.device) as b:
            out = b.exec("import tinyenroll.app as te", quiet=60)
            assert "tinyenroll.app:" in out and "tinyenroll flash" in out
            assert "te.enroll" in b.exec("te.help()")


def _reader(port):
    """read_until(token, seconds): what a terminal shows until token, asserting it comes."""
    import time

    def read_until(token, seconds=20):
        got = b""
        end = time.time() + seconds
        while time.time() < end and token not in got:
            got += port.read(256)
        assert token in got, got
        return got
    return read_until


def test_ctrl_c_stops_a_loop_typed_at_the_repl(tmp_path):
    """A person at the REPL: a `while True:` loop, Ctrl-C, and the REPL answers again (CRLF)."""
    import time
    import serial
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        port = serial.Serial(vb.device, 115200, timeout=0.2)
        read_until = _reader(port)
        port.write(b"\r")
        read_until(b">>> ")
        for ch in b"while True: pass\r":
            port.write(bytes([ch]))
            time.sleep(0.01)
        port.write(b"\r")                     # ends the block: the loop runs
        time.sleep(1.0)
        port.write(b"\x03")
        out = read_until(b">>> ")
        assert b"KeyboardInterrupt" in out
        port.write(b"print(6 * 7)\r")
        out = read_until(b"42")
        assert b"42\r\n" in out
        assert vb.restarts == 0                # interrupted, not rebooted
        port.close()


def test_a_ctrl_c_at_the_line_editor_does_not_interrupt_the_next_command(tmp_path):
    """Ctrl-C while a line is half typed cancels the line; code typed right after runs (a stale
    Ctrl-C must not reach it: mpremote sends one on every connect, whatever the REPL is doing)."""
    import serial
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        port = serial.Serial(vb.device, 115200, timeout=0.2)
        read_until = _reader(port)
        port.write(b"\r")
        read_until(b">>> ")
        port.write(b"abc")
        read_until(b"abc")
        port.write(b"\x03")                   # not at a prompt, no code running
        read_until(b">>> ")
        port.write(b"import time; time.sleep(0.3); print(6 * 7)\r")
        out = read_until(b"42")
        assert b"KeyboardInterrupt" not in out and b"42\r\n" in out
        port.close()


def test_the_app_works_right_after_flashing(tmp_path):
    """flash installs the profile's model (motion.tem) and the replay recording: the app needs
    nothing else, at the virtual board's 96 KB."""
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        done = flash.flash(vb.device, "virtual", log=lambda *a: None)
        assert done["model"]
        with Board(vb.device) as b:
            banner = b.exec("import tinyenroll.app as te", quiet=60)
            assert "model 384 -> 32, replay at 50 Hz" in banner, banner
            out = b.exec("te.enroll('a', n=1, countdown=0); te.enroll('b', n=1, countdown=0)", quiet=30)
            assert "nearest other class a" in out
            assert b.exec("te.classify()", quiet=30).split()[0] in ("a", "b", "unknown")


def _standalone_repl(board, **app):
    """Set /board.json's app section (**app) on the board's flash, then a raw serial line at the
    REPL's prompt: (port, read_until)."""
    import serial
    fs = board.fs_dir
    prof = json.loads(open(fs + "/board.json").read())
    prof["app"].update(app)
    open(fs + "/board.json", "w").write(json.dumps(prof))
    port = serial.Serial(board.device, 115200, timeout=0.2)
    read_until = _reader(port)
    port.write(b"\r")
    read_until(b">>> ")
    return port, read_until


def test_standalone_runs_live_until_ctrl_c(big_board):
    """/main.py's standalone mode: live answers, and Ctrl-C gives the REPL back."""
    import time
    fs = big_board.fs_dir
    port, read_until = _standalone_repl(big_board, autostart="live")
    port.write(b"from tinyenroll import standalone; standalone.run()\r")
    read_until(b"standalone: live")
    read_until(b"live: every")
    time.sleep(2)
    port.write(b"\x03")
    out = read_until(b">>> ")
    assert b"stopped" in out
    port.write(b"print(6 * 7)\r")
    read_until(b"42")
    port.close()


def test_standalone_button_enrolls_and_the_led_shows_it_runs(big_board):
    """/main.py's standalone mode with a button and an LED (files on the virtual board's flash):
    the LED is lit while it runs, a press enrolls one take as "button", Ctrl-C ends it and the
    LED goes out; the take is in the store."""
    import time
    fs = big_board.fs_dir
    port, read_until = _standalone_repl(big_board, autostart="live", button="file:/button", led="file:/led")
    port.write(b"import tinyenroll.app as te; te.enroll('tilt', n=1, countdown=0)\r")
    read_until(b"tilt 1/1")
    read_until(b">>> ")
    port.write(b"from tinyenroll import standalone; standalone.run()\r")
    read_until(b"live: every")
    assert open(fs + "/led").read() == "1"
    open(fs + "/button", "w").write("0")                 # pressed
    read_until(b"button 1/1", 30)
    open(fs + "/button", "w").write("1")                 # released: live again
    read_until(b"live: every", 30)
    time.sleep(1)
    port.write(b"\x03")
    read_until(b">>> ")
    assert open(fs + "/led").read() == "0"
    port.write(b"te.labels()\r")
    out = read_until(b">>> ")
    assert b"tilt x1, button x1" in out, out
    port.close()
