"""Record sensor windows streamed by a board, accounting for every frame.

    tinyenroll stream --port /dev/ttyACM0 --out rec/ --count 100 --samples 64

The board sends frames (firmware/stream.py: sync, sequence number, kind, length, payload,
CRC32). FrameReader checks each one: a CRC mismatch or impossible length is counted as
corrupted and skipped (the reader resynchronises on the next sync bytes), a sequence number
seen before is a duplicate and is not recorded again, a gap is counted as dropped frames.
Nothing is accepted silently: the report lists every problem by sequence number.

Written to --out when at least one window arrived (each file written to a temporary name and
renamed in, also when the stream breaks or is interrupted with Ctrl-C: what arrived is kept; a
run that received nothing - a bad port, a missing sensor - leaves the folder as it was). The
folder is a recording (host_tools/data/recording.py), as `tinyenroll record` writes, plus:
  windows.npy   int16 (n, samples, channels): the accepted windows, in sequence order
  recording.json  rate, channel names, units, labels (null: streamed windows are unlabelled)
  seq.npy       int64 (n,): their sequence numbers
  report.json   counts (received, dropped, duplicated, corrupted), the missing sequence
                numbers and whether the END frame arrived
"""
import io
import json
import re
import struct
import sys
import time
import zlib

import numpy as np
from tqdm import tqdm

from .board_io import Board, BoardError
from .ports import PORT_HELP
from ..data import recording

SYNC = b"\xa5\x5a"
WINDOW, END = 1, 2
MAX_PAYLOAD = 3 + 2 * 255 * 4096


class FrameReader:
    """Feed bytes in; take checked windows out; every problem is counted."""

    def __init__(self):
        self.buf = bytearray()
        self.windows = []  # (seq, int16 array (samples, channels))
        self.expected = 0
        self.seen = set()
        self.corrupted = 0
        self.duplicated = []
        self.missing = []
        self.ended = None  # frame count announced by END
        self.noise = 0

    def feed(self, data):
        self.buf += data
        out = []
        while self.ended is None:  # after END, what follows is the REPL's, left in buf
            at = self.buf.find(SYNC)
            if at < 0:
                keep = 1 if self.buf.endswith(SYNC[:1]) else 0
                self.noise += len(self.buf) - keep
                del self.buf[:len(self.buf) - keep]
                return out
            self.noise += at
            del self.buf[:at]
            if len(self.buf) < 9:
                return out
            seq, kind, n = struct.unpack_from("<IBH", self.buf, 2)
            if kind not in (WINDOW, END) or n > MAX_PAYLOAD:
                self.corrupted += 1
                del self.buf[:2]
                continue
            total = 2 + 7 + n + 4
            if len(self.buf) < total:
                return out
            body = bytes(self.buf[2:9 + n])
            (crc,) = struct.unpack_from("<I", self.buf, 9 + n)
            if zlib.crc32(body) & 0xFFFFFFFF != crc:
                self.corrupted += 1
                del self.buf[:2]
                continue
            del self.buf[:total]
            got = self._accept(seq, kind, body[7:])
            if got is not None:
                out.append(got)
        return out

    def finish(self):
        """The line went quiet: a frame still waiting for bytes never completed (a cut frame
        whose length field runs past the end); count it corrupted and read what follows."""
        out = self.feed(b"")
        while self.ended is None and self.buf.find(SYNC) >= 0:
            del self.buf[:self.buf.find(SYNC) + 2]
            self.corrupted += 1
            out += self.feed(b"")
        return out

    def _accept(self, seq, kind, payload):
        if kind == END:
            (count,) = struct.unpack("<I", payload)
            self.ended = count
            self.missing.extend(range(self.expected, count))
            self.expected = max(self.expected, count)
            return None
        if seq in self.seen or seq < self.expected:
            self.duplicated.append(seq)
            return None
        if seq > self.expected:
            self.missing.extend(range(self.expected, seq))
        self.expected = seq + 1
        self.seen.add(seq)
        channels, samples = struct.unpack_from("<BH", payload, 0)
        if len(payload) != 3 + 2 * channels * samples:
            self.corrupted += 1
            self.missing.append(seq)
            return None
        w = np.frombuffer(payload, "<i2", offset=3).reshape(samples, channels)
        self.windows.append((seq, w))
        return seq, w

    def report(self):
        missing = sorted(set(self.missing) - self.seen)
        return {"received": len(self.windows), "dropped": len(missing), "missing": missing,
                "duplicated": len(self.duplicated), "duplicate_seq": sorted(self.duplicated),
                "corrupted": self.corrupted, "end_frame": self.ended is not None,
                "announced": self.ended, "complete": self.ended is not None and not missing
                and self.corrupted == 0 and not self.duplicated}


def save(reader, out_dir, rate_hz=None, channels=None, units=None):
    """Write the recording folder (windows.npy, recording.json: host_tools/data/recording.py)
    plus seq.npy and report.json into out_dir: each to a temporary name first, then renamed over
    the old file. A run that received no window writes nothing, so a failed run (bad port, no
    sensor) never replaces an earlier recording."""
    report = reader.report()
    if not reader.windows:
        report["written"] = False
        return report
    windows = np.stack([w for _, w in reader.windows]).astype(np.int16)
    seq = np.array([s for s, _ in reader.windows], dtype=np.int64)
    report["written"] = True
    names = channels or ["ch%d" % i for i in range(windows.shape[2])]
    if len(names) != windows.shape[2]:
        names = ["ch%d" % i for i in range(windows.shape[2])]
    buf = io.BytesIO()
    np.save(buf, seq)
    recording.write_folder(out_dir, windows, [None] * len(windows), rate_hz or 0, names,
                           units or recording.RAW_UNITS,
                           extra=(("seq.npy", buf.getvalue()),
                                  ("report.json", json.dumps(report, indent=1).encode())))
    return report


def stream(port, out_dir, count, samples, timeout=30.0, progress=True):
    """Have the board stream `count` windows from its profile's sensor; returns the report
    (with "error" when the run broke, "interrupted" on Ctrl-C: what arrived is kept).

    The board may be silent at most `timeout` seconds, and if it sends data that holds no valid
    frame for `timeout` seconds the run stops too."""
    reader = FrameReader()
    pending = bytearray()
    last_frame = [time.monotonic()]
    bar = tqdm(total=count, unit="win", disable=not progress)

    def flush():
        if pending:
            got = reader.feed(bytes(pending))
            pending.clear()
            if got:
                bar.update(len(got))
                last_frame[0] = time.monotonic()

    def consumer(b):
        pending.extend(b)
        if len(pending) >= 512:
            flush()
            if reader.ended is None and time.monotonic() > last_frame[0] + timeout:
                raise BoardError("the board sends data but no valid frame for %.0f s" % timeout)

    def ended(tail):
        flush()
        if reader.ended is not None:  # after the END frame: the raw REPL's \x04 error \x04
            m = re.match(rb"\x04([^\x04]*)\x04", bytes(reader.buf))
            return m.group(1).decode("utf-8", "replace").strip() if m else None
        m = re.search(rb"\x04(Traceback[^\x04]*)\x04$", tail)  # the run stopped before its END frame
        return m.group(1).decode("utf-8", "replace").strip() if m else None

    error = interrupted = None
    meta = {}
    try:
        with Board(port) as b:
            b.exec("from tinyenroll import sensors, stream\n_s = sensors.from_profile()", "opening the sensor")
            try:
                rate, chans, sensor = b.eval("[_s.rate_hz, _s.channels, __import__('json').load("
                                             "open('/board.json')).get('sensor', {})]", "reading the sensor's settings")
                meta["rate_hz"] = rate
                meta["channels"], meta["units"] = recording.describe(sensor, chans)
            except BoardError:
                pass  # the board has no /board.json: channels ch0.., raw units
            err = b.follow("stream.send_windows(_s, %d, %d)" % (count, samples), consumer, "the stream",
                           quiet=timeout, ended=ended)
            if err:
                raise BoardError("the board reported: %s" % err.splitlines()[-1])
    except BoardError as e:
        error = str(e)
    except KeyboardInterrupt:
        interrupted = error = "interrupted (Ctrl-C)"
    flush()
    reader.finish()  # a frame cut by the break is counted, not waited for
    bar.close()
    report = save(reader, out_dir, **meta)
    if error:
        report["error"] = error
    if interrupted:
        report["interrupted"] = True
    return report


EPILOG = """needs: a board flashed with `tinyenroll flash` whose /board.json names its sensor.
example:
  tinyenroll stream --port /dev/ttyACM0 --out rec/ --count 100 --samples 64"""


def add_arguments(p):
    p.epilog = EPILOG
    p.add_argument("--port", required=True, help=PORT_HELP)
    p.add_argument("--out", required=True, help="recording folder: windows.npy, recording.json, seq.npy, report.json")
    p.add_argument("--count", type=int, default=20, help="windows to record")
    p.add_argument("--samples", type=int, default=64, help="samples per window")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds the board may be silent, or send no valid frame, before the run stops (default 30)")


def run(args):
    """Exit status: 0 complete; 1 the board or port failed (windows received are kept);
    2 bad arguments, or frames were lost or damaged; 130 interrupted (windows received are kept)."""
    if args.count < 1 or args.samples < 1:
        print("stream: --count and --samples must be at least 1", file=sys.stderr)
        return 2
    report = stream(args.port, args.out, args.count, args.samples, timeout=args.timeout,
                    progress=sys.stderr.isatty())
    kept = ("the %d windows received are saved in %s" % (report["received"], args.out) if report["written"]
            else "nothing was written, %s is unchanged" % args.out)
    if report.get("error"):
        print("stream %s: %s (%s)" % ("stopped" if report.get("interrupted") else "failed", report["error"], kept))
        return 130 if report.get("interrupted") else 1
    print("received %(received)d, dropped %(dropped)d, duplicated %(duplicated)d, corrupted %(corrupted)d"
          % report + ("" if report["end_frame"] else ", no END frame"))
    return 0 if report["complete"] else 2
