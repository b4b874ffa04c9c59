"""Power-loss-safe storage of what the board has learned, apart from the read-only model.

    s = Store("/learned", model_crc, dim)
    sections = s.load()                 # {b"ROWS": bytes, ...}, or {} for a fresh board
    s.commit(sections)                  # new generation; the one before is kept for rollback
    s.rollback()                        # the previous generation's sections, now current

Files: PREFIX.cur (newest), PREFIX.prev (the generation before), PREFIX.tmp (a write under way).
A commit writes PREFIX.tmp completely, then renames cur -> prev and tmp -> cur. A power cut at
any byte leaves a valid cur, or a valid tmp holding the complete new state, or (between the
renames) a valid prev with tmp; load() takes the highest valid generation, so it always finds
the old or the new state, never a mixture. Each file (little-endian):
  "<4sBBIIH"  magic b"TNYS", version 1, flags 0, generation, model CRC32, embedding size
  sections    "<4sI" tag, length, then length bytes, repeated
  "<I"        CRC32 of every byte before it
"""
import struct
import binascii
import os

MAGIC = b"TNYS"
VERSION = 1
HEAD = "<4sBBIIH"
HEAD_SIZE = 16
SECTION = "<4sI"


class StoreError(ValueError):
    """A store file is unusable; the message says which file and why."""


class StoreMismatch(StoreError):
    """The store was learned with another model (or embedding size): not silently discarded."""


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def encode(generation, model_crc, dim, sections):
    """Serialise sections (dict tag -> bytes) into one store file image."""
    out = bytearray(struct.pack(HEAD, MAGIC, VERSION, 0, generation, model_crc, dim))
    for tag in sorted(sections):
        data = sections[tag]
        out += struct.pack(SECTION, tag, len(data))
        out += data
    out += struct.pack("<I", binascii.crc32(out) & 0xFFFFFFFF)
    return out


def decode(buf, model_crc, dim, name="store"):
    """(generation, sections) of a store image; raises StoreError naming the defect."""
    size = len(buf)
    if size < HEAD_SIZE + 4:
        raise StoreError("%s: truncated (%d bytes)" % (name, size))
    magic, version, _, gen, crc_model, d = struct.unpack_from(HEAD, buf, 0)
    if magic != MAGIC:
        raise StoreError("%s: bad magic, not a tinyenroll store" % name)
    if version != VERSION:
        raise StoreError("%s: unknown store version %d" % (name, version))
    if binascii.crc32(memoryview(buf)[:size - 4]) & 0xFFFFFFFF != struct.unpack_from("<I", buf, size - 4)[0]:
        raise StoreError("%s: CRC mismatch (corrupt or cut short)" % name)
    if crc_model != model_crc:
        raise StoreMismatch("%s: learned with another model (model CRC %08x, this model %08x)" % (name, crc_model, model_crc))
    if d != dim:
        raise StoreMismatch("%s: embedding size %d, this model gives %d" % (name, d, dim))
    sections = {}
    off = HEAD_SIZE
    while off < size - 4:
        if off + 8 > size - 4:
            raise StoreError("%s: section header cut short" % name)
        tag, n = struct.unpack_from(SECTION, buf, off)
        off += 8
        if off + n > size - 4:
            raise StoreError("%s: section %r overruns the file" % (name, tag))
        sections[bytes(tag)] = bytes(buf[off:off + n])
        off += n
    return gen, sections


class Store:
    """Generations of learned state in files beside each other; see the module docstring."""

    def __init__(self, prefix, model_crc, dim):
        self.prefix = prefix
        self.model_crc = model_crc
        self.dim = dim
        self.generation = 0
        self.problems = []  # what load() found wrong and skipped, as readable strings

    def _path(self, which):
        return self.prefix + "." + which

    def _read(self, which):
        path = self._path(which)
        if not _exists(path):
            return None
        with open(path, "rb") as f:
            buf = f.read()
        return decode(buf, self.model_crc, self.dim, path)

    def _candidates(self):
        found = []
        self.problems = []
        for which in ("cur", "tmp", "prev"):
            try:
                got = self._read(which)
            except StoreMismatch:
                if which == "cur":
                    raise
                continue
            except (StoreError, OSError) as e:
                if which != "tmp":
                    self.problems.append(str(e))
                continue
            if got is not None:
                found.append((got[0], which, got[1]))
        found.sort(key=lambda g: -g[0])
        return found

    def load(self):
        """Sections of the newest valid generation ({} if none); problems lists what was skipped."""
        found = self._candidates()
        if not found:
            self.generation = 0
            return {}
        gen, which, sections = found[0]
        self.generation = gen
        if which != "cur":
            self._finish(which)
        return sections

    def _finish(self, which):
        # a commit was cut between its steps: complete it so the newest state is in cur
        cur = self._path("cur")
        if which == "tmp":
            if _exists(cur):
                _remove(self._path("prev"))
                os.rename(cur, self._path("prev"))
            os.rename(self._path("tmp"), cur)
        else:
            _remove(self._path("tmp"))
            _remove(cur)
            os.rename(self._path("prev"), cur)

    def commit(self, sections):
        """Write sections as the next generation, atomically; returns the new generation."""
        gen = self.generation + 1
        image = encode(gen, self.model_crc, self.dim, sections)
        tmp = self._path("tmp")
        with open(tmp, "wb") as f:
            f.write(image)
        cur = self._path("cur")
        prev = self._path("prev")
        if _exists(cur):
            _remove(prev)
            os.rename(cur, prev)
        os.rename(tmp, cur)
        self.generation = gen
        return gen

    def previous(self):
        """Sections of the generation before the current one; StoreError if there is none."""
        found = self._candidates()
        older = [g for g in found if g[0] < self.generation]
        if not older:
            raise StoreError("%s: no previous generation to roll back to" % self.prefix)
        return older[0][2]

    def rollback(self):
        """Make the previous generation current again (as a new generation, so it can be undone)."""
        sections = self.previous()
        self.commit(sections)
        return sections

    def wipe(self, sections):
        """Factory reset: commit sections (the state to start from), then drop the generation
        before it, so nothing older can come back; returns the new generation."""
        gen = self.commit(sections)
        _remove(self._path("prev"))
        return gen
