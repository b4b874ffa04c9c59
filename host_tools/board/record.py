"""Record labelled windows from a board's sensor into a recording folder, one take at a time.

    tinyenroll record --port /dev/ttyACM0 --label wave --count 5 --out myrec

Each take goes through the board's app (firmware/app.py: `te.capture()`, the window length and
sensor of /board.json): a countdown on this terminal, then one window read on the board and sent
back over the REPL as hex. Takes are appended to --out (host_tools/data/recording.py: windows.npy
int16 (n, samples, channels) and recording.json with rate, channel names, units and one label a
window), written to temporary names and renamed in after each take: a failure or Ctrl-C keeps
every take already recorded, and an earlier recording in the folder is never lost.
"""
import json
import sys
import time

import numpy as np

from .board_io import Board, BoardError
from .ports import PORT_HELP
from ..data import recording

EPILOG = """needs: a board flashed with `tinyenroll flash` whose /board.json names its sensor.
example:
  tinyenroll record --port /dev/ttyACM0 --label wave --count 5 --out myrec
  tinyenroll record --port auto --label rest --count 5 --out myrec --countdown 0
  tinyenroll record --port auto --label shake --count 5 --out myrec --trigger motion"""

SETUP = ("import tinyenroll.app as te, json\nte._setup()\n"
         "print(json.dumps([te.sensor.rate_hz, te.sensor.channels, te._n, te.cfg.get('sensor', {})]))")
TAKE = ("import ubinascii\n_w = te.capture(0, %r)\n"
        "print(ubinascii.hexlify(memoryview(_w)[:te._n * te.sensor.channels]).decode())")


def _countdown(seconds, log):
    for i in range(seconds, 0, -1):
        log("%d " % i, end="")
        time.sleep(1)
    if seconds:
        log("go")


def record(port, out_dir, label, count, countdown=3, log=print, trigger=None, wait=30):
    """Take `count` windows labelled `label` into out_dir; returns (taken, total in folder, error).
    Each take starts after the countdown, or with trigger 'motion' / 'button' when the board's
    sensor moves (app.motion_level of /board.json) or its button (app.button) is pressed, waiting
    at most `wait` seconds."""
    taken, total, error = 0, None, None
    try:
        with Board(port) as b:
            out = b.exec(SETUP, "starting the board's app (import tinyenroll.app)", quiet=20).strip()
            try:
                rate, channels, n, sensor = json.loads(out.splitlines()[-1])
            except (ValueError, IndexError):
                raise BoardError("starting the board's app: it answered %r" % out[-200:]) from None
            names, units = recording.describe(sensor, channels)
            log("%s: %d Hz, %d samples a window, channels %s (%s)" % (port, rate, n, " ".join(names), units))
            for i in range(count):
                quiet = max(10, 2 * n / rate + 5)
                if trigger in ("motion", "button"):
                    log("%s %d/%d: %s (up to %d s)" % (label, i + 1, count, "move to start" if trigger == "motion"
                                                       else "press the button", wait))
                    quiet += wait
                else:
                    log("%s %d/%d: get ready... " % (label, i + 1, count), end="")
                    _countdown(countdown, log)
                what = "recording take %d" % (i + 1) + (" (waiting for the %s)" % trigger if trigger else "")
                hexed = b.exec(TAKE % (trigger,), what, quiet=quiet).strip()
                try:
                    raw = bytes.fromhex(hexed.splitlines()[-1])
                except (ValueError, IndexError):
                    raise BoardError("recording take %d: the board answered %r" % (i + 1, hexed[-200:])) from None
                if len(raw) != 2 * n * channels:
                    raise BoardError("recording take %d: %d bytes, expected %d" % (i + 1, len(raw), 2 * n * channels))
                w = np.frombuffer(raw, "<i2").reshape(1, n, channels)
                total = recording.append_folder(out_dir, w, [label], rate, names, units)
                taken += 1
                log("  kept (%d windows in %s)" % (total, out_dir))
    except BoardError as e:
        error = str(e)
    except KeyboardInterrupt:
        error = "interrupted (Ctrl-C)"
    return taken, total, error


def add_arguments(p):
    p.epilog = EPILOG
    p.add_argument("--port", required=True, help=PORT_HELP)
    p.add_argument("--label", required=True, help="what the takes show (e.g. wave)")
    p.add_argument("--count", type=int, default=5, help="takes to record (default 5)")
    p.add_argument("--out", default="recording", help="recording folder to add the takes to (default recording/)")
    p.add_argument("--countdown", type=int, default=3, help="seconds of countdown before each take (default 3)")
    p.add_argument("--trigger", choices=("countdown", "motion", "button"), default="countdown",
                   help="what starts a take: the countdown (default), the sensor moving past /board.json's "
                        "app.motion_level, or app.button pressed")
    p.add_argument("--wait", type=int, default=30, help="with --trigger motion/button: seconds to wait for it (default 30)")


def run(args):
    """Exit status: 0 every take recorded; 1 the board failed; 2 bad arguments; 130 interrupted
    (takes already recorded are kept)."""
    if args.count < 1 or args.countdown < 0 or args.wait < 1 or not args.label.strip():
        print("record: --count and --wait must be at least 1, --countdown at least 0, --label not empty", file=sys.stderr)
        return 2

    def log(msg, end="\n"):
        print(msg, end=end, flush=True)

    try:
        taken, total, error = record(args.port, args.out, args.label, args.count, args.countdown, log=log,
                                     trigger=None if args.trigger == "countdown" else args.trigger, wait=args.wait)
    except ValueError as e:  # a folder holding another rate / channel set
        print("record: %s" % e, file=sys.stderr)
        return 2
    if error:
        kept = "%d takes recorded in %s" % (taken, args.out) if taken else "nothing was written"
        print("record %s: %s (%s)" % ("stopped" if "interrupted" in error else "failed", error, kept), file=sys.stderr)
        return 130 if "interrupted" in error else 1
    print("recorded %d takes of %s: %d windows in %s" % (taken, args.label, total, args.out))
    return 0
