# Runs inside the real micropython interpreter: one request per stdin line,
# "<backend> <model hex> <input hex>" -> "OK <embedding hex>" or "ERR <message>".
# The line is read as bytes and its hex fields decoded through memoryview slices, so a large
# model is held as its hex line and its bytes only (split() copies made 1000 requests fragment a
# 96 KB heap until a 9 KB field no longer fitted).
import sys
import gc
import binascii
from tinyenroll import kernels, model

inp = getattr(sys.stdin, "buffer", sys.stdin)
while True:
    gc.collect()
    line = inp.readline()
    if not line:
        break
    end = len(line) - 1 if line[-1] in (10, "\n") else len(line)
    a = line.find(b" " if isinstance(line, bytes) else " ")
    b = line.find(b" " if isinstance(line, bytes) else " ", a + 1)
    mv = memoryview(line) if isinstance(line, bytes) else line
    m = None
    try:
        kernels.select(str(line[:a], "ascii") if isinstance(line, bytes) else line[:a])
        m = model.Model(bytearray(binascii.unhexlify(mv[a + 1:b])))
        out = m.embed(binascii.unhexlify(mv[b + 1:end]))
        print("OK", binascii.hexlify(bytes(out)).decode())
    except Exception as e:
        print("ERR", type(e).__name__, e)
    m = mv = line = None
