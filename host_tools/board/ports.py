"""List serial ports, say what each probably is, and find the MicroPython board (`--port auto`).

    tinyenroll ports [--no-probe] [--timeout 1.5] [--json]

Ports come from pyserial's `serial.tools.list_ports.comports()`, named as the OS names them
(COM5, /dev/cu.usbmodem1101, /dev/ttyACM0). The USB VID:PID says what the port probably is
(KNOWN_USB). The probe asks whether a MicroPython REPL answers (pyserial, the port opened
as mpremote opens it): Ctrl-C, then Ctrl-A, and a MicroPython board answers "raw REPL; CTRL-B to
exit"; Ctrl-B then leaves it at its normal REPL and prints its banner ("MicroPython v1.24.1 on ...; Raspberry Pi Pico with RP2040"). Each probe ends within
its timeout whatever the port does (silent, echoing, printing other data). Note that the probe
interrupts a program running on the board, as connecting mpremote would.

`--port auto` (every command that takes --port): the ports with a USB VID:PID are probed (all
at once, so it takes one timeout), as `mpremote connect auto` considers them; exactly one must answer. With
none, or with several (flashing the wrong board would be worse than asking), the command stops
with one line naming the candidates, and exit status 3.
"""
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# (vid, pid) -> what it probably is; (vid, None) matches any pid of that vendor
KNOWN_USB = {
    (0x303A, 0x1001): "Espressif USB-Serial/JTAG (ESP32-C3/C6/S3 built-in USB)",
    (0x303A, 0x4001): "Espressif ESP32-S2/S3 native USB (MicroPython)",
    (0x303A, None): "Espressif ESP32-S2/S3/C3/C6 native USB",
    (0x10C4, 0xEA60): "Silicon Labs CP210x USB-UART (ESP32 dev board)",
    (0x10C4, None): "Silicon Labs USB-UART",
    (0x1A86, 0x7523): "WCH CH340 USB-UART (ESP32 dev board)",
    (0x1A86, 0x55D4): "WCH CH9102 USB-UART (ESP32 dev board)",
    (0x1A86, None): "WCH USB-UART",
    (0x0403, 0x6001): "FTDI FT232R USB-UART",
    (0x0403, 0x6010): "FTDI FT2232 USB-UART",
    (0x0403, 0x6014): "FTDI FT232H USB-UART",
    (0x0403, 0x6015): "FTDI FT-X USB-UART",
    (0x0403, None): "FTDI USB-UART",
    (0x2E8A, 0x0005): "Raspberry Pi RP2040/RP2350 running MicroPython (Pico)",
    (0x2E8A, 0x0003): "Raspberry Pi RP2040 in BOOTSEL mode (copy a MicroPython .uf2 to it)",
    (0x2E8A, None): "Raspberry Pi RP2040/RP2350 (not MicroPython's USB id)",
    (0xF055, 0x9800): "MicroPython board (pyboard USB id)",
    (0xF055, None): "MicroPython board",
    (0x2341, None): "Arduino",
    (0x239A, None): "Adafruit board",
}

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PORT_HELP = ("serial port as the OS names it (COM5, /dev/cu.usbmodem1101, /dev/ttyACM0), 'auto' for the "
             "one MicroPython board connected (see `tinyenroll ports`), a pty path or socket://host:port")
EXIT_NO_BOARD = 3


class PortError(RuntimeError):
    """--port auto found no board, or several."""


def comports():
    """pyserial's list of serial ports (looked up at call time, so tests can replace it)."""
    import serial.tools.list_ports
    return sorted(serial.tools.list_ports.comports(), key=lambda p: p.device)


def usb_id(info):
    """'303a:1001' or None for a port without a USB id."""
    vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
    return None if vid is None or pid is None else "%04x:%04x" % (vid, pid)


def describe(info):
    """What the port probably is, from its USB VID:PID (else what the OS says of it)."""
    vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
    if vid is not None:
        known = KNOWN_USB.get((vid, pid)) or KNOWN_USB.get((vid, None))
        if known:
            return known
    text = getattr(info, "description", None) or getattr(info, "product", None)
    return text if text and text != "n/a" else "unknown device"


def _open(device, timeout):
    """The port opened as mpremote's SerialTransport opens it (including its DTR/RTS order for
    CP210x on Windows, which otherwise resets an ESP32), with read and write timeouts."""
    import serial
    import serial.tools.list_ports
    s = serial.serial_for_url(device, do_not_open=True, baudrate=115200, timeout=0.02,
                              write_timeout=timeout, exclusive=True)
    if sys.platform == "win32":
        info = list(serial.tools.list_ports.grep(device))
        if info and getattr(info[0], "vid", None) == 0x10C4:
            s.dtr = s.rts = False
            s.open()
            s.dtr = True
            s.rts = True
    if not s.is_open:
        s.open()
    return s


def _read_until(s, ending, deadline):
    """Bytes read until `ending` or the deadline, whichever comes first (however much arrives)."""
    got = b""
    while not got.endswith(ending) and time.monotonic() < deadline:
        got += s.read(max(1, min(s.in_waiting, 4096)))
        if ending in got:
            return got[:got.index(ending) + len(ending)]
    return got


def _probe(device, timeout):
    # pyserial directly, not mpremote's SerialTransport: its read_until checks the overall
    # timeout only while the line is quiet, so a port that keeps printing would never time out.
    import serial

    deadline = time.monotonic() + timeout
    try:
        s = _open(device, timeout)
    except (serial.SerialException, OSError, ValueError) as e:
        return False, "cannot open: %s" % (str(e) or type(e).__name__)
    try:
        s.write(b"\r\x03\x03")  # Ctrl-C twice: interrupt a running program
        _read_until(s, b"\x00never", min(deadline, time.monotonic() + 0.05))  # drop what it printed
        s.write(b"\r\x01")  # Ctrl-A: raw REPL
        if not _read_until(s, RAW_BANNER, deadline).endswith(RAW_BANNER):
            return False, "no MicroPython REPL answered"
        s.write(b"\r\x02")  # Ctrl-B: back to the normal REPL, which prints its banner
        got = _read_until(s, b">>> ", max(deadline, time.monotonic() + 0.05))
        banner = [ln for ln in got.decode("utf-8", "replace").splitlines() if "MicroPython" in ln]
        return True, banner[0].strip() if banner else "MicroPython REPL"
    except (serial.SerialException, OSError) as e:
        return False, "lost the port: %s" % (str(e) or type(e).__name__)
    finally:
        try:
            s.rts = s.dtr = False  # as mpremote closes: no ESP32 reset when Windows drops DTR first
        except (serial.SerialException, OSError, ValueError):
            pass
        try:
            s.close()
        except (serial.SerialException, OSError):
            pass


def probe(device, timeout=1.5):
    """(answers, detail): whether a MicroPython REPL answers on device, within timeout seconds."""
    out = [(False, "no answer within %.1f s (the port hangs)" % timeout)]

    def work():
        out[0] = _probe(device, timeout)

    th = threading.Thread(target=work, daemon=True)  # a guard: a port that blocks a write or
    th.start()                                        # an open cannot hold the command
    th.join(timeout + 1.0)
    return out[0]


def probe_all(devices, timeout=1.5):
    """probe() of every device at once (each port is its own line): [(answers, detail)] in order."""
    if not devices:
        return []
    with ThreadPoolExecutor(min(len(devices), 16)) as pool:
        return list(pool.map(lambda d: probe(d, timeout), devices))


def survey(do_probe=True, timeout=1.5):
    """One dict per serial port: device, usb (vid:pid or None), kind, micropython (True/False/None), detail."""
    infos = comports()
    found = probe_all([i.device for i in infos], timeout) if do_probe else [(None, "")] * len(infos)
    return [{"device": i.device, "usb": usb_id(i), "kind": describe(i), "micropython": ok, "detail": detail}
            for i, (ok, detail) in zip(infos, found)]


def find_board(timeout=1.5, log=None):
    """Device of the one MicroPython board among the USB serial ports; PortError otherwise."""
    candidates = [p for p in comports() if usb_id(p) is not None]
    if not candidates:
        raise PortError("--port auto: no USB serial port found (is the board plugged in with a data cable? "
                        "`tinyenroll ports` lists all ports)")
    answered, silent = [], []
    for info, (ok, detail) in zip(candidates, probe_all([c.device for c in candidates], timeout)):
        (answered if ok else silent).append((info, detail))
    if len(answered) == 1:
        info, detail = answered[0]
        if log:
            log("--port auto: using %s (%s; %s)" % (info.device, describe(info), detail))
        return info.device
    if not answered:
        raise PortError("--port auto: no MicroPython REPL answered on %s" % ", ".join(
            "%s (%s: %s)" % (i.device, describe(i), d) for i, d in silent))
    raise PortError("--port auto: several MicroPython boards answer: %s; choose one with --port" % ", ".join(
        "%s (%s)" % (i.device, describe(i)) for i, _ in answered))


def resolve(port, log=None):
    """port as given, or the found board's device for 'auto'."""
    if port is not None and port.strip().lower() == "auto":
        return find_board(log=log)
    return port


def add_arguments(p):
    p.add_argument("--no-probe", action="store_true", help="only list the ports, send nothing to them")
    p.add_argument("--timeout", type=float, default=1.5, help="seconds each probe may take (default 1.5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args):
    if args.timeout <= 0:
        print("tinyenroll ports: --timeout must be positive", file=sys.stderr)
        return 2
    rows = survey(not args.no_probe, args.timeout)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no serial ports found (is the board plugged in with a data cable, and its USB driver installed?)")
        return 0
    width = max(len(r["device"]) for r in rows)
    for r in rows:
        mp = {True: "MicroPython: " + r["detail"], False: "not MicroPython (%s)" % r["detail"], None: ""}[r["micropython"]]
        print("%-*s  %-9s  %s%s" % (width, r["device"], r["usb"] or "-", r["kind"], "  " + mp if mp else ""))
    return 0
