# Runs inside the real micropython interpreter: one request per stdin line,
# "<backend> <model hex> <input hex>" -> "OK <embedding hex>" or "ERR <message>".
import sys
import gc
import binascii
from tinyenroll import kernels, model

while True:
    line = sys.stdin.readline()
    if not line:
        break
    parts = line.split()
    try:
        kernels.select(parts[0])
        m = model.Model(bytearray(binascii.unhexlify(parts[1])))
        out = m.embed(binascii.unhexlify(parts[2]))
        print("OK", binascii.hexlify(bytes(out)).decode())
    except Exception as e:
        print("ERR", type(e).__name__, e)
    m = None
    gc.collect()
