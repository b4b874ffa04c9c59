"""Host commands never hang and never lose data (issue 12), over a pty and over a serial link
that is not a pty (issue 13: socket://, where mpremote's timeouts apply as on a USB board).

Every command that talks to a board is run as a user runs it (the `tinyenroll` command in a
subprocess) against fake ports that are no MicroPython board - silent, echoing, chatty - and
against virtual boards that are busy, raise, or fail mid-command: each ends within its timeout
with ONE line naming the problem, a documented exit status and no traceback.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("pty")

from fakeports import ChattyPort, EchoPort, SilentPort, port_info  # noqa: E402
from host_tools import cli  # noqa: E402
from host_tools.board import flash, ports, stream  # noqa: E402
from host_tools.board.board_io import Board, BoardError  # noqa: E402
from host_tools.board.virtual_board import VirtualBoard  # noqa: E402
from host_tools.data import recording  # noqa: E402

TIMEOUT = 2  # $TINYENROLL_TIMEOUT for the commands under test: seconds a board has to answer
LIMIT = 4 * TIMEOUT + 3 + 12  # the longest a refused port may hold a command, with room for a loaded CI
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "host_tools", "models", "wiimote.tem")
KINDS = {"silent": (SilentPort, "nothing answered"), "echo": (EchoPort, "echoes back"),
         "chatty": (ChattyPort, "kept sending data")}


def tinyenroll(*args, timeout=90):
    """(exit status, stdout+stderr lines, seconds) of the tinyenroll command."""
    env = dict(os.environ, TINYENROLL_TIMEOUT=str(TIMEOUT))
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "host_tools.cli", *args], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
    return p.returncode, lines, time.monotonic() - t


def one_line(lines):
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def validate_data(path, in_dim):
    np.savez(path, windows=np.zeros((2, in_dim), np.int8))
    return path


@pytest.fixture(params=sorted(KINDS))
def fake(request):
    cls, says = KINDS[request.param]
    port = cls()
    yield port, says
    port.close()


def test_every_board_command_refuses_a_port_that_is_not_a_board(fake, tmp_path):
    port, says = fake
    dev = port.device
    out = tmp_path / "rec"
    out.mkdir()
    np.save(out / "windows.npy", np.ones((3, 4, 2), np.int16))  # an earlier recording
    before = (out / "windows.npy").read_bytes()
    from host_tools.oracle import modelfile
    data = validate_data(str(tmp_path / "d.npz"), modelfile.read(MODEL)["in_dim"])
    commands = [("flash", "--port", dev, "--board", "virtual"),
                ("stream", "--port", dev, "--out", str(out), "--count", "3"),
                ("record", "--port", dev, "--out", str(out), "--label", "wave", "--count", "2"),
                ("validate", "--port", dev, "--model", MODEL, "--data", data),
                ("demo", "--port", dev, "--out", str(tmp_path / "demo"))]
    for argv in commands:
        rc, lines, seconds = tinyenroll(*argv)
        line = one_line(lines)
        assert rc == 1 and seconds < LIMIT, (argv, rc, seconds)
        assert line.startswith(argv[0] + " failed: no MicroPython board on " + dev), line
        assert says in line, line
    assert (out / "windows.npy").read_bytes() == before  # a failed run leaves the recording alone
    assert sorted(os.listdir(out)) == ["windows.npy"]


def test_ports_command_says_what_a_fake_port_is(fake, monkeypatch, capsys):
    port, _ = fake
    monkeypatch.setattr(ports, "comports", lambda: [port_info(port.device, 0x10C4, 0xEA60)])
    t = time.monotonic()
    assert cli.main(["ports", "--timeout", "1"]) == 0
    assert time.monotonic() - t < 5
    line = one_line(capsys.readouterr().out.splitlines())
    assert "not MicroPython" in line


def test_a_missing_device_is_one_line(tmp_path):
    rc, lines, _ = tinyenroll("flash", "--port", "/dev/no-such-tty", "--board", "virtual")
    assert rc == 1 and "cannot open a board on /dev/no-such-tty" in one_line(lines)


# -- virtual boards, reached through the pty and through socket:// -------------------------------

@pytest.fixture(params=["pty", "socket"])
def vb(request, tmp_path):
    with VirtualBoard("virtual", str(tmp_path / "flash"), socket=request.param == "socket") as board:
        yield board


def test_socket_link_is_not_a_pty_and_long_quiet_work_needs_its_timeout(vb):
    with Board(vb.port) as b:
        assert b.t.is_pty == (vb.url is None)
        code = "import time\ntime.sleep(11)\nprint('done')"
        if vb.url:  # mpremote's exec gives up after 10 s of silence on a serial link, not on a pty
            with pytest.raises(BoardError, match=r"stopped answering \(no output for 10 s\)"):
                b.exec(code, "sleeping")
    with Board(vb.port) as b:  # a per-call timeout lets the same work through on either link
        assert b.exec(code, "sleeping", quiet=15).strip() == "done"


def test_a_busy_board_is_interrupted_and_a_stubborn_one_named(vb):
    with Board(vb.port) as b:
        b._run("starting a loop", b.t.exec_raw_no_follow, ("while True:\n    pass",))
    with Board(vb.port, timeout=TIMEOUT) as b:  # Ctrl-C stops it, as mpremote does
        assert b.eval("6 * 7") == 42
    stubborn = ("import time\nwhile True:\n    try:\n        while True:\n            %s\n"
                "    except KeyboardInterrupt:\n        pass")
    for body, says in (("pass", "nothing answered"), ("print('busy'); time.sleep(0.01)", "kept sending data|prints other data")):
        with Board(vb.port) as b:
            b._run("starting a loop", b.t.exec_raw_no_follow, (stubborn % body,))
        t = time.monotonic()
        with pytest.raises(BoardError, match=says) as e:
            Board(vb.port, timeout=TIMEOUT)
        assert time.monotonic() - t < 2 * TIMEOUT + 5 and "\n" not in str(e.value)
        restarts = vb.restarts
        vb._proc.kill()  # power-cycle: the supervisor restarts the interpreter (what is sent
        while vb.restarts == restarts:  # while a board boots is lost, so wait for it)
            time.sleep(0.05)
        time.sleep(0.5)


def test_a_board_that_raises_or_dies_mid_command(vb):
    with Board(vb.port) as b:
        with pytest.raises(BoardError, match=r"^work failed on the board: ZeroDivisionError"):
            b.exec("print('started')\n1/0", "work")
        assert b.eval("1 + 1") == 2  # still usable after the board's error
        with pytest.raises(BoardError, match="did not finish within 2 s"):
            b.exec("while True:\n    print('x' * 60)", "printing", total=2)
    with Board(vb.port) as b:
        vb.kill_after(200, sent_by="board")
        with pytest.raises(BoardError, match="disconnected during counting"):
            b.exec("import time\nfor i in range(1000):\n    print(i); time.sleep(0.002)", "counting")


def flashed(vb, fs, rate=640):
    flash.flash(vb.port, "virtual", log=lambda *_: None)
    x = (np.arange(64 * 40 * 3).reshape(-1, 3) % 700 - 350).astype(np.int16)
    recording.write(os.path.join(fs, "recording.ter"), x, rate)
    return x


def test_stream_over_either_link_keeps_what_arrived(vb, tmp_path):
    fs = vb.fs_dir
    x = flashed(vb, fs, rate=6400)
    rep = stream.stream(vb.port, str(tmp_path / "a"), 12, 64, timeout=10, progress=False)
    assert rep["complete"] and rep["received"] == 12
    assert np.array_equal(np.load(tmp_path / "a" / "windows.npy")[5], x[5 * 64:6 * 64])
    # the sensor fails after 3 windows: the board's error ends the run at once, 3 windows kept
    sensors = os.path.join(fs, "lib", "tinyenroll", "sensors")
    shutil.copy(os.path.join(sensors, "replay.mpy"), os.path.join(sensors, "replay_real.mpy"))
    with open(os.path.join(sensors, "replay.py"), "w") as f:
        f.write(FAILING_REPLAY)  # a .py beside the .mpy is imported first
    t = time.monotonic()
    rep = stream.stream(vb.port, str(tmp_path / "a"), 10, 64, timeout=30, progress=False)
    assert time.monotonic() - t < 15
    assert rep["error"] == "the board reported: OSError: [Errno 5] EIO" and rep["received"] == 3
    assert len(np.load(tmp_path / "a" / "windows.npy")) == 3
    os.remove(os.path.join(fs, "lib", "tinyenroll", "sensors", "replay.py"))
    # no sensor (ENOENT): nothing is written, the earlier recording stays
    os.remove(os.path.join(fs, "recording.ter"))
    before = (tmp_path / "a" / "windows.npy").read_bytes()
    rc, lines, _ = tinyenroll("stream", "--port", vb.port, "--out", str(tmp_path / "a"), "--count", "4")
    line = one_line(lines)
    assert rc == 1 and "opening the sensor failed on the board: OSError: [Errno 2] ENOENT" in line, line
    assert "nothing was written" in line
    assert (tmp_path / "a" / "windows.npy").read_bytes() == before


FAILING_REPLAY = """
from tinyenroll.sensors import replay_real
class Replay(replay_real.Replay):
    n = 0
    def read_window(self, buf, n):
        Replay.n += 1
        if Replay.n > 3:
            raise OSError(5)
        return replay_real.Replay.read_window(self, buf, n)
"""


def test_stream_ctrl_c_keeps_the_windows_received(vb, tmp_path, monkeypatch, capsys):
    flashed(vb, vb.fs_dir, rate=640)  # 10 windows a second
    out = tmp_path / "rec"
    # Ctrl-C (a real SIGINT to this process) once 6 windows have arrived, however long start-up
    # takes
    got = [0]
    feed = stream.FrameReader.feed

    def counting(self, data):
        new = feed(self, data)
        got[0] += len(new)
        return new

    done = threading.Event()

    def interrupt():
        deadline = time.monotonic() + 120
        while got[0] < 6 and time.monotonic() < deadline:
            if done.wait(0.05):
                return  # the command ended by itself: no signal into later tests
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(stream.FrameReader, "feed", counting)
    # Python's Ctrl-C handler, also where this test run was started with SIGINT ignored (a shell
    # does that to a background job; the old subprocess version then never stopped)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    t = threading.Thread(target=interrupt, daemon=True)
    try:
        t.start()
        rc = cli.main(["stream", "--port", vb.port, "--out", str(out), "--count", "100000"])
    finally:
        done.set()
        t.join()
        signal.signal(signal.SIGINT, before)
    assert rc == 130
    line = one_line([ln for ln in capsys.readouterr().out.splitlines() if ln.strip()])
    saved = np.load(out / "windows.npy")
    report = json.loads((out / "report.json").read_text())
    assert len(saved) == report["received"] >= 6 and "windows received are saved" in line
    with Board(vb.port, timeout=TIMEOUT) as b:  # the board was stopped and answers again
        assert b.eval("1") == 1


def test_flash_and_validate_over_either_link(vb, tmp_path):
    from host_tools.evaluate import validate
    from test_virtual_board import small_model_and_data
    path, data, _, _ = small_model_and_data(tmp_path)
    flash.flash(vb.port, "virtual", path, log=lambda *_: None)
    report = validate.validate(vb.port, path, data, log=lambda *_: None)
    assert report["ok"] and report["embeddings_equal"] == 18 and report["decisions_equal"] == 12
