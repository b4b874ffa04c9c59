"""Drive tests/mpy_learner_worker.py in real micropython (or CPython) over a pipe."""
import json
import os
import subprocess
import sys

from host_tools.board import mpy

SCRIPT = os.path.join(os.path.dirname(__file__), "mpy_learner_worker.py")


class LearnerWorker:
    def __init__(self, interpreter="micropython", heap="96K"):
        if interpreter == "micropython":
            self.proc = mpy.start(SCRIPT, heap=heap)
        else:
            self.proc = subprocess.Popen([sys.executable, SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self, op, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("worker died: " + self.proc.stderr.read())
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
