"""Drive tests/mpy_learner_worker.py in real micropython (or CPython) over a pipe."""
import json
import os
import subprocess
import sys

from host_tools.board import mpy

SCRIPT = os.path.join(os.path.dirname(__file__), "mpy_learner_worker.py")
_DIR = []


def _compiled_worker():
    if not _DIR:
        import atexit
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="tinyenroll-worker-")
        atexit.register(shutil.rmtree, d, True)
        subprocess.run([mpy.mpy_cross_path(), "-o", os.path.join(d, "mpy_learner_worker.mpy"), SCRIPT], check=True)
        _DIR.append(d)
    return _DIR[0]


class LearnerWorker:
    def __init__(self, interpreter="micropython", heap="96K"):
        if interpreter == "micropython":
            # the worker itself precompiled, as a board application is: compiling it on a 96K
            # heap would take RAM that the firmware measured here does not get on a board
            argv, env = mpy.command(SCRIPT, heap)
            env["MICROPYPATH"] += ":" + _compiled_worker()
            self.proc = subprocess.Popen(argv[:-1] + ["-m", "mpy_learner_worker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                         bufsize=1)
        else:
            self.proc = subprocess.Popen([sys.executable, SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self, op, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line and not line.startswith("{"):
            raise RuntimeError("worker said: " + line + self.proc.stdout.read(2000))
        if not line:
            raise RuntimeError("worker died: " + self.proc.stderr.read())
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
