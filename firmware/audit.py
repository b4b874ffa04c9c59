"""A small audit log on flash: one line per change (when, generation, what, why), bounded in size.

    T gen=G what why=W     a commit: the store is at generation G (also fallbacks and recoveries)
    T at=G what why=W      not a commit (a refusal), written while the store was at generation G

Lines are appended to PATH; when PATH would pass max_bytes it becomes PATH.1 (the older half is
dropped), so the log never takes more than about 2 * max_bytes of flash.
"""
import os
import time


class AuditLog:
    def __init__(self, path, max_bytes=4096):
        self.path = path
        self.max_bytes = max_bytes
        self.cut = False  # set at start (rails.last_generation) if the last line has no end

    def _size(self):
        try:
            return os.stat(self.path)[6]
        except OSError:
            return 0

    def write(self, generation, what, why="user", kind="gen"):
        """Append one entry: a commit ("gen=G"), or kind="at" for one that is not (a refusal)."""
        self.write_entry(generation, "%s why=%s" % (what, why), kind)

    def write_entry(self, generation, text, kind="gen"):
        self._append("%d %s=%d %s\n" % (int(time.time()), kind, generation, text.replace("\n", " ")))

    def _append(self, line):
        size = self._size()
        if self.cut:
            line = "\n" + line     # the last line was cut short by a power cut: start a new one
            self.cut = False
        if size + len(line) > self.max_bytes:
            old = self.path + ".1"
            try:
                os.remove(old)
            except OSError:
                pass
            try:
                os.rename(self.path, old)
            except OSError:
                pass
        with open(self.path, "a") as f:
            f.write(line)
