"""`tinyenroll ports` and `--port auto` against fake ports: the virtual board (a real MicroPython
REPL), a silent pty, an echoing pty and a chatty pty, listed by a replaced comports() with USB ids."""
import argparse
import json
import sys
import time

import pytest

pytest.importorskip("pty")  # the fake ports are ptys

from fakeports import ChattyPort, EchoPort, FakeRepl, SilentPort, port_info  # noqa: E402
from host_tools import cli  # noqa: E402
from host_tools.board import ports  # noqa: E402

TIMEOUT = 1.0


@pytest.fixture
def fakes():
    made = {}

    def make(cls):
        p = cls()
        made[p.device] = p
        return p

    yield make
    for p in made.values():
        p.close()


@pytest.fixture(scope="module")
def vboard():
    if not cli.have_interpreter():
        pytest.skip("the MicroPython interpreter (extra board-sim) is not installed")
    from host_tools.board.virtual_board import VirtualBoard
    with VirtualBoard("virtual") as vb:
        yield vb


def use_ports(monkeypatch, *infos):
    import serial.tools.list_ports
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: list(infos))


def test_known_usb_ids():
    d = lambda vid, pid: ports.describe(port_info("X", vid, pid, "USB Serial"))  # noqa: E731
    assert "CP210x" in d(0x10C4, 0xEA60)
    assert "CH340" in d(0x1A86, 0x7523) and "CH9102" in d(0x1A86, 0x55D4)
    for pid, chip in ((0x6001, "FT232R"), (0x6010, "FT2232"), (0x6014, "FT232H"), (0x6015, "FT-X")):
        assert chip in d(0x0403, pid)
    assert "Espressif" in d(0x303A, 0x1001) and "Espressif" in d(0x303A, 0x0002)
    assert "MicroPython" in d(0x2E8A, 0x0005)
    assert "not MicroPython" in d(0x2E8A, 0x000A)  # Pico SDK's own USB id
    assert d(0x1234, 0x5678) == "USB Serial"  # unknown vendor: what the OS says
    assert ports.describe(port_info("COM1")) == "unknown device"
    assert ports.usb_id(port_info("X", 0x2E8A, 0x5)) == "2e8a:0005" and ports.usb_id(port_info("X")) is None


@pytest.mark.parametrize("kind", [SilentPort, EchoPort, ChattyPort])
def test_probe_refuses_a_port_that_is_not_micropython_within_its_timeout(fakes, kind):
    port = fakes(kind)
    t = time.monotonic()
    ok, detail = ports.probe(port.device, TIMEOUT)
    assert time.monotonic() - t < TIMEOUT + 0.5
    assert not ok and "no MicroPython REPL answered" in detail
    assert b"\x01" in port.received  # it was asked


def test_probe_finds_the_virtual_board(vboard):
    t = time.monotonic()
    ok, detail = ports.probe(vboard.device, TIMEOUT)
    assert time.monotonic() - t < TIMEOUT + 0.5
    assert ok and detail.startswith("MicroPython"), detail
    # it is left at its normal REPL, and a real session still works afterwards
    from host_tools.board.board_io import Board
    with Board(vboard.device) as b:
        assert b.eval("6*7") == 42


def test_probe_of_a_missing_device():
    ok, detail = ports.probe("/dev/tinyenroll-no-such-port", TIMEOUT)
    assert not ok and "cannot open" in detail


def test_ports_command_lists_what_each_port_is(fakes, vboard, monkeypatch, capsys):
    silent, echo, chatty = fakes(SilentPort), fakes(EchoPort), fakes(ChattyPort)
    use_ports(monkeypatch, port_info(silent.device, 0x10C4, 0xEA60), port_info(echo.device, 0x1A86, 0x7523),
              port_info(chatty.device, 0x0403, 0x6001), port_info(vboard.device, 0x2E8A, 0x0005))
    t = time.monotonic()
    assert cli.main(["ports", "--timeout", str(TIMEOUT)]) == 0
    assert time.monotonic() - t < TIMEOUT + 1.0  # probed side by side
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    line = {ln.split()[0]: ln for ln in lines}
    assert "CP210x" in line[silent.device] and "not MicroPython" in line[silent.device]
    assert "CH340" in line[echo.device] and "not MicroPython" in line[echo.device]
    assert "FT232R" in line[chatty.device] and "not MicroPython" in line[chatty.device]
    assert "2e8a:0005" in line[vboard.device] and "MicroPython: MicroPython" in line[vboard.device]

    assert cli.main(["ports", "--json", "--timeout", str(TIMEOUT)]) == 0
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    assert [rows[p]["micropython"] for p in (silent.device, echo.device, chatty.device, vboard.device)] == \
        [False, False, False, True]


def test_no_probe_sends_nothing(fakes, monkeypatch, capsys):
    echo = fakes(EchoPort)
    use_ports(monkeypatch, port_info(echo.device, 0x0403, 0x6015))
    assert cli.main(["ports", "--no-probe"]) == 0
    time.sleep(0.1)
    assert echo.received == b""
    assert "FT-X" in capsys.readouterr().out


def test_ports_with_none_connected(monkeypatch, capsys):
    use_ports(monkeypatch)
    assert cli.main(["ports"]) == 0
    assert "no serial ports found" in capsys.readouterr().out


def test_auto_finds_the_one_board_among_others(fakes, vboard, monkeypatch, capsys):
    silent, echo, chatty, no_usb = fakes(SilentPort), fakes(EchoPort), fakes(ChattyPort), fakes(FakeRepl)
    use_ports(monkeypatch, port_info(silent.device, 0x10C4, 0xEA60), port_info(echo.device, 0x1A86, 0x55D4),
              port_info(chatty.device, 0x0403, 0x6014), port_info(vboard.device, 0x2E8A, 0x0005),
              port_info(no_usb.device))  # no USB id: not a candidate, as with mpremote connect auto
    t = time.monotonic()
    assert ports.find_board(TIMEOUT) == vboard.device
    assert time.monotonic() - t < TIMEOUT + 1.0  # probed side by side
    assert no_usb.received == b""
    # and through Board("auto")
    from host_tools.board.board_io import Board
    with Board("auto") as b:
        assert b.port == vboard.device and b.eval("1+1") == 2


def test_auto_with_no_board_answering(fakes, monkeypatch, capsys):
    silent, chatty = fakes(SilentPort), fakes(ChattyPort)
    use_ports(monkeypatch, port_info(silent.device, 0x10C4, 0xEA60), port_info(chatty.device, 0x303A, 0x1001))
    with pytest.raises(ports.PortError) as e:
        ports.find_board(TIMEOUT)
    assert "no MicroPython REPL answered" in str(e.value)
    assert silent.device in str(e.value) and chatty.device in str(e.value)
    assert cli.main(["flash", "--port", "auto", "--board", "virtual"]) == cli.EXIT_NO_BOARD
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("--port auto: no MicroPython REPL answered")


def test_auto_with_no_usb_port(monkeypatch, capsys):
    use_ports(monkeypatch, port_info("/dev/ttyS0"))
    assert cli.main(["stream", "--port", "auto", "--out", "x"]) == cli.EXIT_NO_BOARD
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no USB serial port found" in err[0]


def test_auto_refuses_to_choose_between_several_boards(fakes, monkeypatch, capsys):
    a, b, silent = fakes(FakeRepl), fakes(FakeRepl), fakes(SilentPort)
    use_ports(monkeypatch, port_info(a.device, 0x2E8A, 0x0005), port_info(silent.device, 0x10C4, 0xEA60),
              port_info(b.device, 0x303A, 0x4001))
    with pytest.raises(ports.PortError) as e:
        ports.find_board(TIMEOUT)
    msg = str(e.value)
    assert "several MicroPython boards" in msg and a.device in msg and b.device in msg and silent.device not in msg
    assert cli.main(["validate", "--port", "auto", "--model", "m", "--data", "d"]) == cli.EXIT_NO_BOARD
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# minimal arguments of each command that takes --port (besides --port)
PORT_COMMANDS = {
    "flash": ["--board", "virtual"],
    "stream": ["--out", "rec"],
    "record": ["--label", "wave"],
    "validate": ["--model", "m.tem", "--data", "d.npz"],
    "demo": [],
}


def test_every_command_with_port_accepts_auto(fakes, monkeypatch, capsys):
    import importlib
    with_port = set()
    for name, modname in cli.COMMANDS.items():
        p = argparse.ArgumentParser()
        importlib.import_module(modname).add_arguments(p)
        if any("--port" in a.option_strings for a in p._actions):
            with_port.add(name)
    assert with_port == set(PORT_COMMANDS)

    board, silent = fakes(FakeRepl), fakes(SilentPort)
    use_ports(monkeypatch, port_info(silent.device, 0x1A86, 0x7523), port_info(board.device, 0x2E8A, 0x0005))
    for name, extra in PORT_COMMANDS.items():
        mod = importlib.import_module(cli.COMMANDS[name])
        seen = []
        monkeypatch.setattr(mod, "run", lambda args: seen.append(args.port) or 0)
        assert cli.main([name, "--port", "auto", *extra]) == 0, name
        assert seen == [board.device], name
        err = capsys.readouterr().err
        assert "--port auto: using %s" % board.device in err and "Fake Pico" in err


def test_demo_takes_auto_from_the_port_variable(fakes, monkeypatch):
    board = fakes(FakeRepl)
    use_ports(monkeypatch, port_info(board.device, 0x2E8A, 0x0005))
    monkeypatch.setenv("PORT", "auto")  # make demo PORT=auto
    from host_tools.evaluate import demo
    seen = []
    monkeypatch.setattr(demo, "run", lambda args: seen.append(args.port) or 0)
    assert cli.main(["demo"]) == 0 and seen == [board.device]
    assert sys.modules["host_tools.cli"] is cli
