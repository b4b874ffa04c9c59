"""A small audit log on flash: one line per change (when, generation, what, why), bounded in size.

    T gen=G what why=W     a commit: the store is at generation G (also fallbacks and recoveries)
    T at=G what why=W      not a commit (a refusal), written while the store was at generation G

Lines are appended to PATH; when PATH would pass max_bytes it becomes PATH.1 (the older half is
dropped), so the log never takes more than about 2 * max_bytes of flash.
A refusal identical to the one before it (same generation, same text: a stream of the same near
miss) is counted, not written; the count goes in before the next line as
    T at=G repeated N more times
so a run of refusals cannot push the commit lines out. A power cut loses only that count.
"""
import os
import time


class AuditLog:
    def __init__(self, path, max_bytes=4096):
        self.path = path
        self.max_bytes = max_bytes
        self.cut = False  # set at start (rails.last_generation) if the last line has no end
        self.rep = None    # [line, n, generation]: the last refusal written, n identical ones since

    def write(self, generation, what, why=None, kind="gen"):
        """Append one entry, what + " why=" + why (why None: what alone): a commit ("gen=G"), or
        kind="at" for one that is not (a refusal)."""
        if why is not None:
            what = "%s why=%s" % (what, why)
        r = self.rep
        if r and kind == "at" and r[0] == what and r[2] == generation:
            r[1] += 1
            return
        self.flush()
        self.rep = [what, 0, generation] if kind == "at" else None
        self._append("%d %s=%d %s\n" % (int(time.time()), kind, generation, what.replace("\n", " ")))

    def flush(self):
        """Write the count of identical refusals not written yet (audit() calls it first)."""
        r = self.rep
        if r and r[1]:
            self._append("%d at=%d repeated %d more times\n" % (int(time.time()), r[2], r[1]))
            r[1] = 0

    def _append(self, line):
        try:
            size = os.stat(self.path)[6]
        except OSError:
            size = 0
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
