"""Power-loss-safe storage of what the board has learned, apart from the read-only model.

    s = Store("/learned", model_crc, dim)
    image = s.load()                    # the newest good generation (empty on a fresh board)
    image.read(b"LABL"); image.readinto(b"ROWS", buf)
    s.commit({b"LABL": data, b"ROWS": (part, part)})   # new generation, the old one kept
    s.previous()                        # the generation before, for rollback

Files: PREFIX.cur (newest), .prev (the one before), .tmp (a write under way), .bad (the last
corrupt newest file load() fell back from, kept as evidence; one at most). A commit writes tmp
in full, then renames cur -> prev and tmp -> cur; a power cut at any byte leaves the old or the
new state, and load() completes an interrupted commit. The first commit writes an empty
generation 1 before it, so the first change can be undone. commit(keep_prev=True) replaces cur
and keeps prev (header flag 1; the learner's guard-rail changes, so they keep the undo step).
Generations are uint32; a commit past 2**32-2 is refused. README ("Learned state") has more.
Each file (little-endian):
  "<4sBBIIH"  magic b"TNYS", version 1, flags (0, or 1: keep prev), generation, model CRC32,
              embedding size
  sections    "<4sI" tag, length, then length bytes, repeated
  "<I"        CRC32 of every byte before it
"""
import struct
import binascii
import os

from .ints import err  # errors.<kind>, imported only when one is raised


MAGIC = b"TNYS"
VERSION = 1
HEAD = "<4sBBIIH"
HEAD_SIZE = 16
SECTION = "<4sI"
CHUNK = 128
KEEP_PREV = 1
MAX_GENERATION = 0xFFFFFFFE


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


def _parts(value):
    # a section is one bytes-like object or a tuple/list of them (written back to back)
    return value if isinstance(value, (tuple, list)) else (value,)


def emit(write, generation, model_crc, dim, sections, flags=0):
    """Write a store image chunk by chunk through write(), without building it in RAM."""
    if not 0 <= generation <= MAX_GENERATION or not 0 <= model_crc <= 0xFFFFFFFF or not 0 < dim < 65536:
        raise err("StoreError", "generation %r, model CRC %r or size %r out of the header's range"
                         % (generation, model_crc, dim))
    head = struct.pack(HEAD, MAGIC, VERSION, flags, generation, model_crc, dim)
    write(head)
    crc = binascii.crc32(head)
    for tag in sorted(sections):
        parts = _parts(sections[tag])
        n = 0
        for p in parts:
            n += len(p)
        sec = struct.pack(SECTION, tag, n)
        write(sec)
        crc = binascii.crc32(sec, crc)
        for p in parts:
            write(p)
            crc = binascii.crc32(p, crc)
    write(struct.pack("<I", crc & 0xFFFFFFFF))


def encode(generation, model_crc, dim, sections, flags=0):
    """The store image as one bytearray (for tests and host tools)."""
    out = bytearray()
    emit(out.extend, generation, model_crc, dim, sections, flags)
    return out


class Image:
    """One checked generation on flash: where its sections lie, read on demand."""

    def __init__(self, path=None, generation=0, index=None, flags=0):
        self.path = path
        self.generation = generation
        self.flags = flags
        self.index = index or {}  # tag -> (offset, length)

    def __contains__(self, tag):
        return tag in self.index

    def size(self, tag):
        return self.index[tag][1] if tag in self.index else 0

    def read(self, tag, default=b""):
        """A (small) section's bytes, or default if the generation has none."""
        if tag not in self.index:
            return default
        buf = bytearray(self.index[tag][1])
        self.readinto(tag, buf)
        return bytes(buf)

    def readinto(self, tag, buf, skip=0):
        """Fill buf from the section, starting skip bytes in; returns the count read."""
        off, n = self.index[tag]
        want = min(len(buf), n - skip)
        with open(self.path, "rb") as f:
            f.seek(off + skip)
            got = f.readinto(memoryview(buf)[:want])
        if got != want:
            raise err("StoreError", "%s: section %r cut short" % (self.path, tag))
        return got

    def as_dict(self):
        """Every section as bytes (host tools and tests)."""
        return dict((tag, self.read(tag)) for tag in self.index)


class Store:
    """Generations of learned state in files beside each other; see the module docstring."""

    def __init__(self, prefix, model_crc, dim):
        self.prefix = prefix
        self.model_crc = model_crc
        self.dim = dim
        self.generation = 0
        self.problems = []  # what load() found wrong and skipped, as readable strings
        self.kept = None    # where load() kept a corrupt newest file aside, if it did
        self._buf = bytearray(CHUNK)

    def _path(self, which):
        return self.prefix + "." + which

    def check(self, which):
        """Image of one file after checking header and CRC; StoreError names the defect."""
        path = self._path(which)
        size = os.stat(path)[6]
        buf = self._buf
        mv = memoryview(buf)
        with open(path, "rb") as f:
            if size < HEAD_SIZE + 4 or f.readinto(mv[:HEAD_SIZE]) != HEAD_SIZE:
                raise err("StoreError", "%s: truncated (%d bytes)" % (path, size))
            magic, version, flags, gen, crc_model, dim = struct.unpack_from(HEAD, buf, 0)
            if magic != MAGIC:
                raise err("StoreError", "%s: bad magic, not a tinyenroll store" % path)
            if version != VERSION:
                raise err("StoreError", "%s: unknown store version %d" % (path, version))
            if flags > KEEP_PREV or gen > MAX_GENERATION:
                raise err("StoreError", "%s: flags %d / generation %d out of range" % (path, flags, gen))
            crc = binascii.crc32(mv[:HEAD_SIZE])
            left = size - 4 - HEAD_SIZE
            while left > 0:
                n = f.readinto(mv[:min(CHUNK, left)])
                if not n:
                    raise err("StoreError", "%s: cut short" % path)
                crc = binascii.crc32(mv[:n], crc)
                left -= n
            if f.readinto(mv[:4]) != 4 or struct.unpack_from("<I", buf, 0)[0] != crc & 0xFFFFFFFF:
                raise err("StoreError", "%s: CRC mismatch (corrupt or cut short)" % path)
            if crc_model != self.model_crc:
                self.mismatch = True
                raise err("StoreError", "%s: learned with another model (model CRC %08x, this model %08x)"
                                    % (path, crc_model, self.model_crc))
            if dim != self.dim:
                self.mismatch = True
                raise err("StoreError", "%s: embedding size %d, this model gives %d" % (path, dim, self.dim))
            index = {}
            off = HEAD_SIZE
            while off < size - 4:
                f.seek(off)
                if off + 8 > size - 4 or f.readinto(mv[:8]) != 8:
                    raise err("StoreError", "%s: section header cut short" % path)
                tag, n = struct.unpack_from(SECTION, buf, 0)
                if off + 8 + n > size - 4:
                    raise err("StoreError", "%s: section %r overruns the file" % (path, tag))
                index[bytes(tag)] = (off + 8, n)
                off += 8 + n
        return Image(path, gen, index, flags)

    def _generations(self):
        # [(generation, which)] from the headers alone, newest first
        found = []
        head = memoryview(self._buf)[:HEAD_SIZE]
        for which in ("cur", "tmp", "prev"):
            path = self._path(which)
            if not _exists(path):
                continue
            gen = -1
            try:
                with open(path, "rb") as f:
                    if f.readinto(head) == HEAD_SIZE and bytes(head[:4]) == MAGIC:
                        gen = struct.unpack_from(HEAD, head, 0)[3]
            except OSError:
                pass
            found.append((gen, which))
        found.sort(key=lambda g: -g[0])
        return found

    def _newest(self, below=None):
        # (which, Image) of the newest valid file, optionally older than generation `below`
        self.problems = []
        found = self._generations()
        for gen, which in found:
            if gen < 0 and which != "tmp":
                try:
                    self.check(which)
                except (ValueError, OSError) as e:  # errors.StoreError is a ValueError
                    self.problems.append(str(e))
        for gen, which in found:
            if gen < 0 or (below is not None and below <= gen):
                continue
            self.mismatch = False
            try:
                return which, self.check(which)
            except (ValueError, OSError) as e:  # errors.StoreError is a ValueError
                if self.mismatch and which == "cur":
                    raise  # learned with another model: refused, not discarded
                if which != "tmp":
                    self.problems.append(str(e))
        return None, None

    def empty(self):
        """True when no generation file is on flash (a new or wiped store)."""
        for which in ("cur", "tmp", "prev"):
            if _exists(self._path(which)):
                return False
        return True

    def load(self):
        """The newest valid generation (an empty Image if none); problems lists what was skipped."""
        which, image = self._newest()
        self.kept = None
        if image is None:
            self.generation = 0
            return Image()
        self.generation = image.generation
        if which != "cur":
            try:
                self._finish(which, image.flags)
                image.path = self._path("cur")
            except OSError:
                pass  # still readable where it is; the next load tries again
        return image

    def _finish(self, which, flags=0):
        # a commit was cut between its steps: complete it so the newest state is in cur
        cur = self._path("cur")
        if which == "tmp":
            if _exists(cur):
                if flags & KEEP_PREV:
                    os.remove(cur)
                else:
                    _remove(self._path("prev"))
                    os.rename(cur, self._path("prev"))
            os.rename(self._path("tmp"), cur)
        else:
            _remove(self._path("tmp"))
            if _exists(cur):
                # cur is corrupt (a valid one would have been newer): keep it aside, one at most
                bad = self._path("bad")
                _remove(bad)
                os.rename(cur, bad)
                self.kept = bad
            os.rename(self._path("prev"), cur)

    def commit(self, sections, keep_prev=False):
        """Write sections as the next generation, atomically; returns the new generation.
        keep_prev: replace cur, leaving prev (the undo target) as it is."""
        if self.generation >= MAX_GENERATION - 1:
            raise err("StoreError", "%s: generation %d, the last a store can count to" % (self.prefix, self.generation))
        if self.generation == 0 and sections and not keep_prev:
            self._write({})  # generation 1 is the factory state, so the first change can be undone
        return self._write(sections, keep_prev)

    def _write(self, sections, keep_prev=False):
        gen = self.generation + 1
        tmp = self._path("tmp")
        cur = self._path("cur")
        prev = self._path("prev")
        try:
            with open(tmp, "wb") as f:
                emit(f.write, gen, self.model_crc, self.dim, sections, KEEP_PREV if keep_prev else 0)
            if _exists(cur):
                if keep_prev:
                    os.remove(cur)
                else:
                    _remove(prev)
                    os.rename(cur, prev)
            os.rename(tmp, cur)
        except OSError:
            _remove(tmp)  # a failed write (full flash, I/O error) must not come back later
            raise
        self.generation = gen
        return gen

    def previous(self):
        """Image of the generation before the current one; StoreError if there is none."""
        _, image = self._newest(below=self.generation)
        if image is None:
            raise err("StoreError", "%s: no previous generation to roll back to" % self.prefix)
        return image

    def wipe(self, sections):
        """Factory reset: commit sections (the state to start from), then drop the generation
        before it, so nothing older can come back; returns the new generation."""
        gen = self.commit(sections)
        _remove(self._path("prev"))
        return gen
