"""The maker's whole loop, typed as a person types it (issue 12): `mpremote connect DEV repl`
runs under a pty as in a terminal, keystrokes go in one by one with small delays, Ctrl-C and
Ctrl-D are pressed, and the assertions are on what the terminal shows.

flash (a model and a 6-axis recording on the simulated MPU-6050, as tests/test_app.py sets them
up) -> import tinyenroll.app -> enroll three gestures -> te.live(), stopped with Ctrl-C ->
te.undo() -> Ctrl-D (soft reboot) -> import again: still learned. Over the virtual board's pty
and over socket:// (a link that is not a pty, as a USB board is to mpremote).
"""
import os
import re
import select
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("pty")
import pty  # noqa: E402
import tty  # noqa: E402

from test_app import _board  # noqa: E402  (the flashed board with the IMU recording)

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
KEY_DELAY = 0.02  # seconds between keystrokes


class Terminal:
    """A program in a pty, as a terminal window runs it: what it shows is kept in self.screen."""

    def __init__(self, argv):
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.screen = b""
        self.mark = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if ready:
                    data = os.read(self.master, 4096)
                    if not data:
                        return
                    with self._lock:
                        self.screen += data
            except OSError:
                return

    def type(self, text, enter=True):
        for ch in text.encode() + (b"\r" if enter else b""):
            os.write(self.master, bytes([ch]))
            time.sleep(KEY_DELAY)

    def press(self, key):
        os.write(self.master, key)

    def expect(self, *tokens, seconds=30):
        """What the terminal showed since the last expect(), once every token is in it."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with self._lock:
                shown = self.screen[self.mark:]
            if all(t.encode() in shown for t in tokens):
                with self._lock:
                    self.mark = len(self.screen)
                return shown.decode("utf-8", "replace")
            time.sleep(0.05)
        raise AssertionError("the terminal did not show %r; it showed:\n%s"
                             % (tokens, self.screen[self.mark:].decode("utf-8", "replace")))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        try:
            os.close(self.master)
        except OSError:
            pass


@pytest.fixture(params=["pty", "socket"])
def board(request, tmp_path):
    # 192K as test_app's live test: app + learner + selflabel loaded from .mpy fragment a 96K
    # heap on the 64-bit unix port (see test_app.big_board)
    gen = _board(tmp_path, heap="192K")
    vb = next(gen)
    if request.param == "socket":
        vb.serve_socket()
    yield vb
    gen.close()


def test_the_whole_loop_typed_at_the_repl(board):
    if board.url is None:
        term = Terminal([MPREMOTE, "connect", board.port, "repl"])
        term.expect("Connected to MicroPython", "Ctrl-] or Ctrl-x to exit")
    else:
        # mpremote 1.29's repl cannot run on socket:// (console.waitchar selects on
        # transport.serial.fd, which pyserial's socket:// Serial has not): pyserial's own
        # terminal, miniterm, is the terminal there
        term = Terminal([sys.executable, "-m", "serial.tools.miniterm", "--raw", "--eol", "CR", board.url, "115200"])
        term.expect("Miniterm on", "Quit: Ctrl+]")
    try:
        term.type("")
        term.expect(">>> ")
        term.type("import tinyenroll.app as te")
        shown = term.expect("tinyenroll on", ">>> ")
        assert "mpu6050 at 50 Hz" in shown and "nothing learned yet" in shown
        for label in ("tilt", "shake", "twist"):
            term.type('te.enroll("%s", n=2, countdown=0)' % label)
            shown = term.expect("%s 2/2" % label, "%s learned" % label, ">>> ")
            assert "Traceback" not in shown
        assert "nearest other class" in shown
        term.type("te.labels()")
        assert "tilt x2, shake x2, twist x2" in term.expect("twist x2", ">>> ")
        term.type("te.live()")
        term.expect("live: every", "Ctrl-C to stop")
        term.expect("distance", seconds=30)  # at least one answer, as it comes
        time.sleep(1.0)
        term.press(b"\x03")  # Ctrl-C
        shown = term.expect("stopped", ">>> ")
        assert "Traceback" not in shown and "KeyboardInterrupt" not in shown
        term.type("te.undo()")
        assert "twist x1" in term.expect("twist x1", ">>> ")
        term.press(b"\x04")  # Ctrl-D at the prompt: soft reboot, RAM is gone
        term.expect("soft reboot", ">>> ")
        term.type("te.labels()")
        assert "NameError" in term.expect("NameError", ">>> ")
        term.type("import tinyenroll.app as te")
        shown = term.expect("tinyenroll on", ">>> ")
        assert "knows tilt, shake, twist" in shown
        term.type("te.labels()")
        assert "tilt x2, shake x2, twist x1" in term.expect("twist x1", ">>> ")
        # lines end in CRLF on the terminal, as on a board
        assert re.search(rb"twist x1\r\n>>> ", term.screen)
        term.press(b"\x1d")  # Ctrl-]: leave mpremote
        assert term.proc.wait(10) == 0
    finally:
        term.close()
