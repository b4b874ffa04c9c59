"""Stream sensor windows to the host as frames that cannot be silently lost or corrupted.

Frame (little-endian): b"\\xa5\\x5a", "<IBH" sequence number, kind, payload length, payload,
"<I" CRC32 of sequence..payload. Kinds: 1 WINDOW (payload "<BH" channels, samples, then
channels*samples int16, channel-interleaved), 2 END (payload "<I" frames sent before it).
Sequence numbers count from 0 with no gaps, so the host can tell a dropped frame from a
duplicated or corrupted one. host_tools/stream.py reads them. Boards are little-endian, so
an array('h') is sent as it lies in RAM, without a copy.
"""
import array
import binascii
import struct
import sys

SYNC = b"\xa5\x5a"
WINDOW, END = 1, 2


def send_frame(out, seq, kind, *parts):
    n = 0
    for p in parts:
        n += len(p) * (2 if isinstance(p, array.array) else 1)
    head = struct.pack("<IBH", seq, kind, n)
    crc = binascii.crc32(head)
    for p in parts:
        crc = binascii.crc32(p, crc)
    out.write(SYNC)
    out.write(head)
    for p in parts:
        out.write(p)
    out.write(struct.pack("<I", crc & 0xFFFFFFFF))


def send_windows(sensor, count, samples, out=None):
    """Read `count` windows of `samples` samples from sensor and send each as a frame."""
    out = out or sys.stdout.buffer
    c = sensor.channels
    buf = array.array("h", bytes(2 * c * samples))
    shape = struct.pack("<BH", c, samples)
    for seq in range(count):
        sensor.read_window(buf, samples)
        send_frame(out, seq, WINDOW, shape, buf)
    send_frame(out, count, END, struct.pack("<I", count))
