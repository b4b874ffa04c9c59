# Runs in MicroPython (and CPython): the streaming log-mel front end over cases listed in a file.
# Each line: "n_fft hop n_mels melhex|- backend path"; path holds int16 little-endian samples.
# Prints one hex line per frame, and "end" after each case.
import array
import binascii
import sys

from tinyenroll.audio import logmel

for line in open(sys.argv[1]):
    n_fft, hop, n_mels, mel, backend, path = line.split()
    n_fft, hop, n_mels = int(n_fft), int(hop), int(n_mels)
    fe = logmel.LogMel(n_fft, hop, n_mels, None if mel == "-" else binascii.unhexlify(mel), backend)
    buf = array.array("h", [0] * hop)
    with open(path, "rb") as f:
        while f.readinto(buf) == 2 * hop:
            o = fe.step(buf)
            if o is not None:
                print(binascii.hexlify(o).decode())
    print("end")
