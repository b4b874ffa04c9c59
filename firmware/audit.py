"""A small audit log on flash: one line per change (when, generation, what, why), bounded in size.

Lines are appended to PATH; when PATH would pass max_bytes it becomes PATH.1 (the older half is
dropped), so the log never takes more than about 2 * max_bytes of flash.
"""
import os
import time


class AuditLog:
    def __init__(self, path, max_bytes=4096):
        self.path = path
        self.max_bytes = max_bytes

    def _size(self):
        try:
            return os.stat(self.path)[6]
        except OSError:
            return 0

    def write(self, generation, what, why="user"):
        """Append one entry; `what` and `why` are short texts (newlines are replaced)."""
        line = "%d gen=%d %s why=%s\n" % (int(time.time()), generation,
                                          str(what).replace("\n", " "), str(why).replace("\n", " "))
        if self._size() + len(line) > self.max_bytes:
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

    def lines(self):
        """Every kept entry, oldest first."""
        out = []
        for path in (self.path + ".1", self.path):
            try:
                with open(path) as f:
                    for line in f:
                        out.append(line.rstrip("\n"))
            except OSError:
                pass
        return out
