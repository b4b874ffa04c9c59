"""Fake serial ports for the port finder's tests: ptys that stay silent, echo, chat, or answer
like a MicroPython REPL, and pyserial ListPortInfo entries that carry a USB VID:PID for them.

(The real MicroPython REPL is the project's virtual board; FakeRepl answers only the few keys the
probe sends, for tests that need two boards or no interpreter.)
"""
import os
import pty
import select
import threading
import tty

from serial.tools.list_ports_common import ListPortInfo


class FakePort:
    """A pty whose far end runs `behave(data) -> reply` on what the host writes, or stays silent."""

    chatter = None  # bytes written every 20 ms, whatever the host does

    def __init__(self):
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        self.device = os.ttyname(self._slave)
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def behave(self, data):
        return b""

    def _loop(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.02)
                if ready:
                    data = os.read(self.master, 1024)
                    self.received += data
                    reply = self.behave(data)
                    if reply:
                        os.write(self.master, reply)
                if self.chatter:
                    os.write(self.master, self.chatter)
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class SilentPort(FakePort):
    """Reads everything, answers nothing (a board that hangs, or a device that waits for a command)."""


class EchoPort(FakePort):
    """Sends back every byte (a terminal echoing, a loop-back adapter)."""

    def behave(self, data):
        return data


class ChattyPort(FakePort):
    """Prints unrelated data all the time (a GPS, an Arduino sketch logging) and ignores input."""

    chatter = b"T=21.5C H=40% >> ok\r\n"


class FakeRepl(FakePort):
    """Answers the probe's keys as a MicroPython REPL does (Ctrl-A raw REPL, Ctrl-B banner)."""

    banner = b"MicroPython v1.24.1 on 2024-11-29; Fake Pico with RP2040\r\nType \"help()\" for more information.\r\n>>> "

    def behave(self, data):
        out = b""
        for c in data:
            if c == 0x01:
                out += b"\r\nraw REPL; CTRL-B to exit\r\n>"
            elif c == 0x02:
                out += b"\r\n" + self.banner
            elif c == 0x03:
                out += b"\r\n>>> "
        return out


def port_info(device, vid=None, pid=None, description="n/a"):
    """A pyserial ListPortInfo as comports() returns it, for a fake port."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, description
    return info
