"""Real mpremote against the virtual board: REPL, files, flash, streaming, and pulled cables."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from host_tools.board import flash, mpy, profiles, stream
from host_tools.data import recording
from host_tools.board.board_io import Board, BoardError
from host_tools.board.virtual_board import VirtualBoard

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


def mpremote(dev, *args):
    out = subprocess.run([MPREMOTE, "connect", dev, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture
def board(tmp_path):
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        yield vb


def test_mpremote_commands(board, tmp_path):
    assert mpremote(board.device, "exec", "print(6 * 7)").strip() == "42"
    local = tmp_path / "hello.py"
    local.write_text("print('hello from', __name__)\n")
    mpremote(board.device, "fs", "cp", str(local), ":hello.py")
    assert "hello.py" in mpremote(board.device, "fs", "ls", ":")
    assert (tmp_path / "flash" / "hello.py").read_text() == local.read_text()
    assert "hello from __main__" in mpremote(board.device, "run", str(local))
    # a long command goes through raw-paste; a soft reset clears RAM but keeps files
    big = "x = 0\n" + "x += 1\n" * 400 + "print(x)\n"
    assert mpremote(board.device, "exec", big).strip() == "400"
    mpremote(board.device, "exec", "import builtins; builtins.marker = 5")
    mpremote(board.device, "soft-reset")
    assert mpremote(board.device, "exec", "import builtins; print(hasattr(builtins, 'marker'))").strip() == "False"
    assert "hello.py" in mpremote(board.device, "fs", "ls", ":")
    assert board.restarts >= 2
    # the board's filesystem is its folder only
    assert mpremote(board.device, "exec", "import os; print(sorted(os.listdir('/')))").strip() == "['hello.py', 'lib']"


def firmware_copy(tmp_path, version):
    src = tmp_path / ("fw-" + version)
    shutil.copytree(mpy.FIRMWARE, src)
    text = (src / "__init__.py").read_text().replace('__version__ = "', '__version__ = "%s-' % version)
    (src / "__init__.py").write_text(text)
    return str(src)


def installed_version(dev):
    with Board(dev) as b:
        return b.eval("__import__('tinyenroll').__version__")


def test_flash_skips_unchanged_and_survives_a_pulled_cable(tmp_path):
    fs = str(tmp_path / "flash")
    a, b = firmware_copy(tmp_path, "A"), firmware_copy(tmp_path, "B")
    with VirtualBoard("virtual", fs) as vb:
        first = flash.flash(vb.device, "virtual", source=a, log=lambda *_: None)
        again = flash.flash(vb.device, "virtual", source=a, log=lambda *_: None)
        assert first["sent"] == first["files"] and again["sent"] == 0
        version_a = installed_version(vb.device)
        assert version_a.startswith("A-")
    # how many bytes the host sends for the whole update, measured on a copy of the board
    shutil.copytree(fs, str(tmp_path / "scratch"))
    with VirtualBoard("virtual", str(tmp_path / "scratch")) as vb:
        flash.flash(vb.device, "virtual", source=b, log=lambda *_: None)
        total = vb.received
    seen = []
    for cut in (total // 10, total * 4 // 10, total * 7 // 10, total * 99 // 100):
        with VirtualBoard("virtual", fs) as vb:
            vb.kill_after(cut)
            with pytest.raises(BoardError, match="disconnected|cannot open"):
                flash.flash(vb.device, "virtual", source=b, log=lambda *_: None)
        with VirtualBoard("virtual", fs) as vb:
            version = installed_version(vb.device)  # a whole package imports, old or new
        assert version in (version_a, "B-" + version_a[2:]), cut
        seen.append(version[0])
    # cut while staging: the old package stays; cut after the swap (writing board.json): the new
    assert seen[:3] == ["A", "A", "A"]
    with VirtualBoard("virtual", fs) as vb:
        done = flash.flash(vb.device, "virtual", source=b, log=lambda *_: None)
        assert done["sent"] == (0 if seen[-1] == "B" else 1)  # only __init__ differs
        assert installed_version(vb.device).startswith("B-")


def test_stream_records_and_survives_a_pulled_cable(tmp_path):
    fs = str(tmp_path / "flash")
    x = (np.arange(64 * 40 * 3).reshape(-1, 3) % 700 - 350).astype(np.int16)
    with VirtualBoard("virtual", fs) as vb:
        flash.flash(vb.device, "virtual", log=lambda *_: None)
        recording.write(os.path.join(fs, "recording.ter"), x, 1280)
        rep = stream.stream(vb.device, str(tmp_path / "rec"), 12, 64, progress=False)
        assert rep["complete"] and rep["received"] == 12
        w = np.load(tmp_path / "rec" / "windows.npy")
        assert np.array_equal(w[3], x[3 * 64:4 * 64])
    with VirtualBoard("virtual", fs) as vb:
        vb.kill_after(20000, sent_by="board")  # part way into the stream
        rep = stream.stream(vb.device, str(tmp_path / "rec2"), 200, 64, timeout=5, progress=False)
        assert "disconnected" in rep["error"] or "cannot open" in rep["error"]
        assert not rep["complete"]
        kept = np.load(tmp_path / "rec2" / "windows.npy")
        assert len(kept) == rep["received"]


def small_model_and_data(tmp_path):
    from host_tools.learn import quantize
    from host_tools.oracle import modelfile
    rng = np.random.default_rng(4)
    m = quantize.quantize_mlp([rng.normal(size=(32, 48)), rng.normal(size=(16, 32))],
                              [rng.normal(size=32), rng.normal(size=16)], [True, False],
                              rng.normal(size=(100, 48)), 4 / 127)
    path = str(tmp_path / "m.tem")
    modelfile.write(path, m)
    cent = rng.normal(size=(3, 48))
    lab = np.repeat(np.arange(3), 6)
    w = quantize.quantize_input(cent[lab] + 0.5 * rng.normal(size=(18, 48)), 4 / 127)
    data = str(tmp_path / "d.npz")
    np.savez(data, windows=w, labels=np.array(["c%d" % c for c in lab]), enroll=np.arange(18) % 6 < 2)
    return path, data, w, lab


def test_enroll_soft_reset_state_survives_and_validate(tmp_path):
    from host_tools.evaluate import validate
    path, data, w, lab = small_model_and_data(tmp_path)
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        flash.flash(vb.device, "virtual", path, log=lambda *_: None)
        with Board(vb.device) as b:
            b.exec("import binascii\nfrom tinyenroll import model, learner\n"
                   "L = learner.Learner(model.load('/model.tem'), '/learned')")
            for i in (0, 1, 6, 7, 12, 13):
                b.exec("L.enroll('c%d', window=binascii.unhexlify(%r))" % (lab[i], w[i].tobytes().hex()))
            before = b.eval("L.classify(window=binascii.unhexlify(%r))" % w[8].tobytes().hex())
            assert before[0] == "c1"
            b.soft_reset()
            b.exec("import binascii\nfrom tinyenroll import model, learner\n"
                   "L = learner.Learner(model.load('/model.tem'), '/learned')")
            assert b.eval("L.labels()") == [("c0", 2), ("c1", 2), ("c2", 2)]
            assert b.eval("L.classify(window=binascii.unhexlify(%r))" % w[8].tobytes().hex()) == before
        report = validate.validate(vb.device, path, data, log=lambda *_: None)
        assert report["ok"] and report["embeddings_equal"] == 18 and report["decisions_equal"] == 12


def test_validate_catches_a_board_that_computes_differently(tmp_path):
    from host_tools.evaluate import validate
    path, data, _, _ = small_model_and_data(tmp_path)
    bad = firmware_copy(tmp_path, "bad")
    kv = os.path.join(bad, "kernels_viper.py")
    text = open(kv).read()
    assert "- 0x1000000" in text
    open(kv, "w").write(text.replace("- 0x1000000", "- 0x1000001"))  # biases off by one
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        flash.flash(vb.device, "virtual", path, source=bad, log=lambda *_: None)
        lines = []
        report = validate.validate(vb.device, path, data, log=lines.append)
        assert not report["ok"] and report["diffs"]
        assert "embedding differs" in "\n".join(lines)
        other = str(tmp_path / "other.tem")
        from host_tools.oracle import modelfile
        m = modelfile.read(path)
        m["input_scale"] = 0.5
        modelfile.write(other, m)
        with pytest.raises(BoardError, match="flash it first"):
            validate.validate(vb.device, other, data, log=lambda *_: None)


def test_flash_refuses_a_bad_model_before_touching_the_board(tmp_path):
    from host_tools.oracle import modelfile
    good, _, _, _ = small_model_and_data(tmp_path)
    data = open(good, "rb").read()
    (tmp_path / "trunc.tem").write_bytes(data[:-7])
    flipped = bytearray(data)
    flipped[40] ^= 4
    (tmp_path / "flip.tem").write_bytes(bytes(flipped))
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        flash.flash(vb.device, "virtual", good, log=lambda *_: None)
        before = (tmp_path / "flash" / "model.tem").read_bytes()
        for bad, why in (("trunc.tem", "truncated|CRC"), ("flip.tem", "CRC"), ("missing.tem", "does not exist")):
            with pytest.raises(BoardError, match=why):
                flash.flash(vb.device, "virtual", str(tmp_path / bad), log=lambda *_: None)
        assert (tmp_path / "flash" / "model.tem").read_bytes() == before == data
        assert modelfile.from_bytes(before)["crc"]


def test_flash_checks_the_boards_architecture(tmp_path):
    """A unix port gets its host's architecture whatever the profile (so --board esp32 works on
    the virtual board); a real board whose arch differs from the profile is refused."""
    import json
    with VirtualBoard("esp32", str(tmp_path / "flash")) as vb:
        done = flash.flash(vb.device, "esp32", log=lambda *_: None)
        assert done["arch"] == mpy.HOST_ARCH
        installed = json.loads((tmp_path / "flash" / "board.json").read_text())
        assert installed["name"] == "esp32"
        assert (tmp_path / "flash" / "main.py").read_text().startswith("from tinyenroll import standalone")
        with Board(vb.device) as b:
            assert b.eval("__import__('tinyenroll').__version__")
            assert flash.board_arch(b, installed) == mpy.HOST_ARCH
    # what real boards report: an ESP32 (xtensawin) and a Pico (armv6m), both .mpy 6.3
    esp32, pico = (10 << 10) | (3 << 8) | 6, (4 << 10) | (3 << 8) | 6
    assert flash.check_arch(esp32, "esp32", profiles.load("esp32")) == "xtensawin"
    assert flash.check_arch(pico, "rp2", profiles.load("rp2040_pico")) == "armv6m"
    with pytest.raises(BoardError, match="the board is xtensawin .esp32., profile 'rp2040_pico' is for armv6m"):
        flash.check_arch(esp32, "esp32", profiles.load("rp2040_pico"))
    for name in ("esp32", "rp2040_pico"):  # README's minimum firmware, from the profiles
        assert profiles.load(name)["min_firmware"] == "1.23"
    with pytest.raises(BoardError, match="loads .mpy 6.2.*MicroPython 1.23 to 1.29"):
        flash.check_arch((4 << 10) | (2 << 8) | 6, "rp2", profiles.load("rp2040_pico"))


def test_the_command_prints_its_pid_and_sigterm_removes_its_flash():
    """`tinyenroll virtual-board`: it prints the interpreter's pid (a live process), and SIGTERM
    (kill, a service manager) stops the interpreter and removes its temporary flash folder."""
    import signal
    import time
    p = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "virtual-board"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        while not any(ln.startswith("interpreter pid") for ln in lines):
            line = p.stdout.readline()
            assert line, lines
            lines.append(line.strip())
        fs = [ln for ln in lines if "flash in " in ln][0].split("flash in ")[1]
        pid = int([ln for ln in lines if ln.startswith("interpreter pid")][0].split()[2])
        assert os.path.isdir(fs) and os.path.exists("/proc/%d" % pid)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        end = time.time() + 10
        while os.path.exists("/proc/%d" % pid) and time.time() < end:
            time.sleep(0.1)
        zombie = os.path.exists("/proc/%d" % pid) and "Z" in open("/proc/%d/stat" % pid).read().split()[2]
        assert not os.path.exists("/proc/%d" % pid) or zombie
        assert not os.path.exists(fs), fs
    finally:
        if p.poll() is None:
            p.kill()
