"""Host side of mpy_embed_worker.py: a micropython process at a board's heap size answering
embedding requests (model bytes and input hex in, the embedding out)."""
import binascii
import os
import subprocess

import numpy as np

from host_tools.board import mpy
from host_tools.oracle import modelfile

HERE = os.path.dirname(os.path.abspath(__file__))


class EmbedWorker:
    """mpy_embed_worker.py in a micropython interpreter (default: the PyPI unix port)."""

    def __init__(self, interpreter=None, heap="96K"):
        argv, env = mpy.command(os.path.join(HERE, "mpy_embed_worker.py"), heap=heap)
        if interpreter:
            argv[0] = interpreter
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, bufsize=1)

    def embed(self, backend, m, x):
        line = "%s %s %s\n" % (backend, modelfile.to_bytes(m).hex(), x.tobytes().hex())
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise AssertionError("micropython died: " + self.proc.stderr.read())
        status, rest = answer.split(" ", 1)
        assert status == "OK", answer
        return np.frombuffer(binascii.unhexlify(rest.strip()), dtype=np.int8)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
