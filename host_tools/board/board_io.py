"""Talk to a board (real or virtual) through mpremote's SerialTransport.

    with Board("/dev/ttyACM0") as b:      # or COM5, a pty path, socket://host:port, or "auto"
        b.exec("import tinyenroll")
        b.exec("job.long_work()", "learning", quiet=60, total=300)   # per-call timeouts
        b.eval("1+1")                     # -> 2
        b.put(b"...", "lib/x.py"); b.hash("lib/x.py")

Every failure is raised as BoardError with ONE line saying what was being done and what went
wrong: a port that is no MicroPython board (silent, echoing what it is sent, or printing other
data), a board that does not leave its running program on Ctrl-C, an exception on the board,
a board that stops answering or disconnects mid-command.

Nothing here can hang. Each transport call runs in a worker thread and has two limits: `quiet`,
the longest silence allowed (mpremote's own per-call timeout: exec_raw's `timeout`,
read_until's `timeout`), and `total`, after which the call is abandoned and the port closed
whatever the board does (mpremote's read_until only checks its overall timeout while the line
is quiet, so a board that keeps printing would otherwise hold it for ever). mpremote's exec()
always allows 10 s of silence, and on a device that is not a pty (a USB board, socket://) a
long quiet job then fails with "timeout waiting for first EOF reception": callers that run
long board work say how long it may be silent.

Only mpremote's public transport API is used: SerialTransport(device, baudrate, timeout),
enter_raw_repl, exit_raw_repl, exec_raw, exec_raw_no_follow, read_until, fs_* and close.
mpremote prints what it received when it cannot enter the raw REPL; that is captured and
turned into the one-line error here.
"""
import ast
import io
import os
import re
import sys
import threading
import time

import serial
from struct import error as _struct_error
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from ..oracle.errors import BoardError  # noqa: F401  (re-exported)

# seconds; serial reads return at least this often, so mpremote's own timeouts are checked
READ_TIMEOUT = 0.5
# Ctrl-C, raw REPL, soft reset: each step at most this long ($TINYENROLL_TIMEOUT to change)
CONNECT = float(os.environ.get("TINYENROLL_TIMEOUT") or 10.0)
QUIET = 10.0  # default: longest silence during a command (mpremote's default too)
TOTAL = 120.0  # default: longest a command may take however much it prints


def _seconds(t):
    return "%g s" % round(t, 1)


class Board:
    def __init__(self, port, soft_reset=True, timeout=CONNECT):
        if isinstance(port, str) and port.strip().lower() == "auto":
            from .ports import PortError, find_board
            try:
                port = find_board()
            except PortError as e:
                raise BoardError(str(e)) from None
        self.port = port
        self.t = None
        self.dead = None  # why the connection was given up, once it was
        self._stopping = False  # Ctrl-C on the host during follow()
        self._connect(soft_reset, timeout)

    # -- connecting ---------------------------------------------------------------------------
    def _connect(self, soft_reset, timeout):
        def open_():
            self.t = SerialTransport(self.port, baudrate=115200, timeout=READ_TIMEOUT)

        try:
            self._run("opening", open_, (), total=timeout + 5)
        except BoardError as e:
            raise BoardError("cannot open a board on %s: %s" % (self.port, str(e).split(": ", 1)[-1])) from None
        try:
            # Ctrl-C (stops a running program), Ctrl-A (raw REPL), Ctrl-D (soft reset) if asked
            self._run("connecting", self.t.enter_raw_repl, (soft_reset, timeout),
                      total=(2 if soft_reset else 1) * timeout + 3)
        except BoardError as e:
            self.close()
            raise BoardError("no MicroPython board on %s: %s" % (self.port, self._diagnose(e, timeout))) from None

    def _diagnose(self, error, timeout):
        """What the port does instead of answering as a MicroPython REPL (it is closed by now)."""
        seen = getattr(error, "seen", b"") or b""
        if getattr(error, "expired", False):
            return ("it kept sending data and no raw REPL came within %s (not a MicroPython board, or a "
                    "program on the board that keeps printing and ignores Ctrl-C: reset the board)" % _seconds(timeout))
        if "disconnected" in str(error) or "lost" in str(error):
            return str(error)
        if not seen.strip(b"\r\n>"):
            return ("nothing answered Ctrl-C / Ctrl-A within %s (a silent device, or a board busy in a "
                    "program that ignores Ctrl-C: reset the board)" % _seconds(timeout))
        if seen.replace(b"\r", b"").replace(b"\n", b"").strip(b"\x01\x03\x04") == b"":
            return "the port echoes back what it is sent (a loop-back or a terminal, not a MicroPython REPL)"
        text = seen.decode("utf-8", "replace").replace("\r", "").strip()
        if "raw REPL" in text and "soft reboot" not in text:
            return "the raw REPL answered but the soft reset did not come back within %s" % _seconds(timeout)
        line = [ln for ln in text.splitlines() if ln.strip()][-1:] or [text]
        return "it prints other data instead of a raw REPL: %r" % line[0][-80:]

    # -- the guarded call -----------------------------------------------------------------------
    def _run(self, what, fn, args, total=TOTAL, alive=None, quiet=QUIET):
        """fn(*args) in a worker thread: its result, or BoardError (one line) when it raises, or
        when it has not ended `total` seconds after it started (with `alive`, a function returning
        the time of the last progress: `total` seconds after that)."""
        if self.dead:
            raise BoardError("%s: the connection to %s was given up earlier (%s)" % (what, self.port, self.dead))
        out = {}
        captured = io.StringIO()

        def work():
            try:
                out["value"] = fn(*args)
            except BaseException as e:  # handed to the caller's thread
                out["error"] = e

        saved = sys.stdout
        sys.stdout = captured  # mpremote prints what it got before raising "could not enter raw repl"
        th = threading.Thread(target=work, daemon=True, name="board " + what)
        start = time.monotonic()
        try:
            th.start()
            while th.is_alive():
                try:
                    th.join(0.05)
                except KeyboardInterrupt:  # Ctrl-C on the host: a consumer stops at its next byte
                    self._stopping = True
                    th.join(1.0)
                    if th.is_alive():
                        self._give_up("interrupted")
                    raise
                since = max(start, alive()) if alive else start
                if th.is_alive() and time.monotonic() > since + total:
                    self._give_up("%s: no end within %s" % (what, _seconds(total)))
                    th.join(2 * READ_TIMEOUT)  # the read raises on the closed port
                    err = BoardError("%s: the board did not finish within %s (it %s)"
                                     % (what, _seconds(total), "kept sending data" if alive is None else "stalled"))
                    err.expired = True
                    raise err
        finally:
            sys.stdout = saved
        if "error" not in out:
            return out.get("value")
        e = out["error"]
        if isinstance(e, TransportExecError):
            msg = [ln for ln in e.error_output.strip().splitlines() if ln.strip()]
            raise BoardError("%s failed on the board: %s" % (what, msg[-1] if msg else e)) from None
        if isinstance(e, TransportError):
            text = str(e.args[0] if e.args else e)
            if "EOF reception" in text:
                self._give_up("silent")
                raise BoardError("%s: the board stopped answering (no output for %s)" % (what, _seconds(quiet))) from None
            err = BoardError("%s: %s" % (what, text))
            err.seen = captured.getvalue().encode("latin-1", "replace")
            m = re.search(r"b(['\"]).*\1", captured.getvalue(), re.S)
            if m:
                try:
                    err.seen = ast.literal_eval(m.group(0))
                except (ValueError, SyntaxError):
                    pass
            raise err from None
        if isinstance(e, (serial.SerialException, OSError, _struct_error)) or (
                self.dead and isinstance(e, (ValueError, TypeError, AttributeError))):
            self._give_up("disconnected")
            raise BoardError("board on %s disconnected during %s: %s" % (self.port, what, e or "no answer")) from None
        raise e

    def _give_up(self, why):
        """Close the port (a worker blocked on it then fails) and refuse further calls."""
        self.dead = why
        t = self.t
        if t is not None:
            threading.Thread(target=_close_quietly, args=(t,), daemon=True).start()

    # -- life cycle -----------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        t, self.t = self.t, None
        if t is None:
            return
        if not self.dead:
            try:
                if t.in_raw_repl:
                    t.exit_raw_repl()
            except Exception:
                pass
        _close_quietly(t)

    # -- commands -------------------------------------------------------------------------------
    def exec(self, code, what="exec", quiet=QUIET, total=TOTAL):
        """Run code on the board; returns what it printed (str). The board may be silent for
        `quiet` seconds at a time, and the whole call may take `total` seconds."""
        def run():
            ret, err = self.t.exec_raw(code, timeout=quiet)
            if err:
                raise TransportExecError(ret, err.decode("utf-8", "replace"))
            return ret

        return self._run(what, run, (), total=total, quiet=quiet).decode("utf-8", "replace")

    def eval(self, expr, what="eval", quiet=QUIET, total=TOTAL):
        """Value of a Python literal expression evaluated on the board."""
        out = self.exec("print(repr(%s))" % expr, what, quiet, total).strip()
        try:
            return ast.literal_eval(out)
        except (ValueError, SyntaxError):
            raise BoardError("%s: the board answered %r" % (what, out[-200:])) from None

    def put(self, data, path):
        self._run("writing %s" % path, self.t.fs_writefile, (path, bytes(data)), total=TOTAL + len(data) / 500)

    def get(self, path):
        return bytes(self._run("reading %s" % path, self.t.fs_readfile, (path,)))

    def hash(self, path):
        """sha256 hex digest of a file on the board, or None if it does not exist."""
        if not self.exists(path):
            return None
        return self._run("hashing %s" % path, self.t.fs_hashfile, (path, "sha256")).hex()

    def exists(self, path):
        return self._run("checking %s" % path, self.t.fs_exists, (path,))

    def soft_reset(self):
        """Soft-reset the board and come back to its raw REPL (state in RAM is gone)."""
        self._run("soft reset", self.t.enter_raw_repl, (True, CONNECT), total=2 * CONNECT + 3)

    def interrupt(self):
        """Ctrl-C the board's running program and come back to its raw REPL (no reset)."""
        self._run("interrupting the board", self.t.enter_raw_repl, (False, CONNECT), total=CONNECT + 3)

    def follow(self, code, consumer, what, quiet=QUIET, total=None, ended=None):
        """Start code on the board and hand every byte it prints to consumer(bytes) until the
        run ends; returns the error text the board printed ('' when it ended cleanly).

        The board may be silent `quiet` seconds at a time, and with `total` the whole run may
        take that long. consumer may raise to stop reading (the board keeps running until
        interrupt()). Output that may hold \\x04 bytes (binary frames) needs `ended(tail)`: the
        board's error text once the run has ended, else None; by default the run ends at the raw
        REPL's \\x04 error-text \\x04."""
        self._run("starting " + what, self.t.exec_raw_no_follow, (code,), total=QUIET + 2)
        ended = ended or _raw_end
        last = [time.monotonic(), 0]
        start = time.monotonic()
        tail = bytearray()

        def take(b):
            if self._stopping:
                raise KeyboardInterrupt
            last[0] = time.monotonic()
            last[1] += 1
            tail.extend(b)
            del tail[:-4096]
            if total is not None and last[0] > start + total:  # a board that keeps printing
                raise BoardError("%s: the board did not finish within %s" % (what, _seconds(total)))
            consumer(b)

        def loop():
            while True:
                seen = last[1]
                # read_until returns at each \x04 byte, or after `quiet` seconds of silence
                self.t.read_until(1, b"\x04", timeout=quiet, data_consumer=take)
                err = ended(bytes(tail))
                if err is not None:
                    return err
                if last[1] == seen:
                    raise TransportError("timeout waiting for first EOF reception")

        self._stopping = False
        try:
            return self._run(what, loop, (), total=quiet + 2, alive=lambda: last[0], quiet=quiet)
        except KeyboardInterrupt:
            if not self.dead:
                try:
                    self.interrupt()  # Ctrl-C the board too, as mpremote does
                except BoardError:
                    pass
            raise


def _raw_end(tail):
    """The raw REPL's close of a run: \\x04, the error text (maybe empty), \\x04."""
    m = re.search(rb"\x04([^\x04]*)\x04$", tail)
    return m.group(1).decode("utf-8", "replace").strip() if m else None


def _close_quietly(t):
    try:
        t.close()
    except Exception:
        pass
