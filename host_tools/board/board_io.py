"""Talk to a board (real or virtual) through mpremote's SerialTransport.

    with Board("/dev/ttyACM0") as b:      # or a pty path, or socket://host:port
        b.exec("import tinyenroll")
        b.eval("1+1")                     # -> 2
        b.put(b"...", "lib/x.py"); b.hash("lib/x.py")

Every failure (no device, a disconnect mid-transfer, an exception on the board) is raised as
BoardError with what was being done and what the board said.
"""
import ast

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from ..oracle.errors import BoardError  # noqa: F401  (re-exported)


class Board:
    def __init__(self, port, soft_reset=True):
        self.port = port
        try:
            self.t = SerialTransport(port, baudrate=115200)
            self.t.enter_raw_repl(soft_reset=soft_reset)
        except (TransportError, serial.SerialException, OSError) as e:
            raise BoardError("cannot open a board on %s: %s" % (port, e)) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            if self.t.in_raw_repl:
                self.t.exit_raw_repl()
            self.t.close()
        except Exception:
            pass

    def _call(self, what, fn, *args):
        try:
            return fn(*args)
        except TransportExecError as e:
            msg = e.error_output.strip().splitlines()
            raise BoardError("%s failed on the board: %s" % (what, msg[-1] if msg else e)) from None
        except (TransportError, serial.SerialException, OSError, ValueError) as e:
            raise BoardError("board on %s disconnected during %s: %s" % (self.port, what, e or "no answer")) from None

    def exec(self, code, what="exec"):
        """Run code on the board; returns what it printed (str)."""
        return self._call(what, self.t.exec, code).decode("utf-8", "replace")

    def eval(self, expr, what="eval"):
        """Value of a Python literal expression evaluated on the board."""
        out = self.exec("print(repr(%s))" % expr, what).strip()
        try:
            return ast.literal_eval(out)
        except (ValueError, SyntaxError):
            raise BoardError("%s: the board answered %r" % (what, out[-200:])) from None

    def put(self, data, path):
        self._call("writing %s" % path, self.t.fs_writefile, path, bytes(data))

    def get(self, path):
        return bytes(self._call("reading %s" % path, self.t.fs_readfile, path))

    def hash(self, path):
        """sha256 hex digest of a file on the board, or None if it does not exist."""
        if not self.exists(path):
            return None
        return self._call("hashing %s" % path, self.t.fs_hashfile, path, "sha256").hex()

    def exists(self, path):
        return self._call("checking %s" % path, self.t.fs_exists, path)

    def soft_reset(self):
        """Soft-reset the board and come back to its raw REPL (state in RAM is gone)."""
        self._call("soft reset", self.t.enter_raw_repl, True)
