"""The learner's rarely used calls, imported on first use (a board keeps no RAM for them until
then). Learner(...).undo() etc. reach them through Learner.__getattr__ as L.name(args): the
first argument here is the learner. The rules: README's guard-rail table.

    rollback(why) = undo(why)   one step back over what is learned
    reset(why)                  factory reset
    protect(label, window=None, embedding=None, factory=False, why)   a canary (gate.py)
    unprotect(index, why); canaries(); audit()   the audit log's kept lines
    auto_enroll(label, embedding, t, why)   enroll() plus the caps on automatic learning
start(L, boot) loads the newest generation into a new learner (what is learned, the guard rails,
the undo step) and, at boot, checks that the audit log's last commit line names the store's
generation, writing the line a power cut or a fallback left out. The learner drops this module
from sys.modules after start(), so a board pays its RAM only while it runs."""
import struct

from . import kernels
from .enroll import check_label
from .ints import err  # errors.<kind>, imported only when one is raised
from .store import Image

LEARNED_TAGS = (b"LABL", b"ROWS", b"GARD", b"UNDO", b"AUDL", b"CANR", b"AUTO", b"RATE")


def names(data):
    # the labels of "\n"-joined text (a store's classes or block-list), each checked
    try:
        out = data.decode().split("\n") if data else []
        for lab in out:
            check_label(lab)
            if out.count(lab) > 1:
                raise err("InputError", "%r twice" % lab)
    except (UnicodeError, ValueError) as e:  # errors.InputError is a ValueError
        raise err("StoreError", "store labels: %s" % e)
    return out

def apply(L, image):
    # what is learned (not the guard rails) from a generation; a bad one raises StoreError
    # (then the caller restores the saved state, or the learner does not start)
    e = L.knn
    d = e.dim
    labels = names(image.read(b"LABL"))
    size = image.size(b"ROWS")
    count = 0
    if size:
        head = bytearray(2)
        image.readinto(b"ROWS", head)
        count = head[0] | head[1] << 8
    gard = image.read(b"GARD", b"\x00\xff\xff\xff\xff")
    manual = struct.unpack_from("<i", gard, 1)[0] if len(gard) >= 5 else -2
    if (size and size != 2 + count * (d + 1)) or count > e.capacity or len(labels) > e.max_classes \
            or manual < -1:
        raise err("StoreError", "store: %d examples (%d bytes), %d classes, threshold %d: not within "
                         "this learner's caps" % (count, size, len(labels), manual))
    if b"AUTO" in image or b"CANR" in image or b"RATE" in image:
        L._gate().check_sections(image, labels)
    if count:
        image.readinto(b"ROWS", memoryview(e.lab)[:count], 2)
        image.readinto(b"ROWS", memoryview(e.rows)[:count * d], 2 + count)
    e.labels = labels
    e.count = count
    e.manual = None if manual < 0 else manual
    e._dirty = True
    n = [0] * len(labels)
    for i in range(count):
        c = e.lab[i]
        if c >= len(labels) or n[c] >= e.max_per_class:
            e.count = 0
            raise err("StoreError", "store: row %d has class %d of %d, or its class holds more than "
                             "max_per_class=%d" % (i, c, len(labels), e.max_per_class))
        n[c] += 1
        e.norms[i] = kernels.sumsq(e._row(i), d)
    L.extra = {}
    for tag in image.index:
        if tag not in LEARNED_TAGS:
            L.extra[tag] = image.read(tag)
    if L.gate is not None:
        L.gate.load_learned(image, labels)



def rollback(L, why="user"):
    L._learning("undo")
    if not L._undo:
        raise err("Refused", "nothing to undo: undo is one step, and the last change was an undo or a reset")
    image = L.store.previous()
    try:
        apply(L, image)
    except ValueError:  # errors.StoreError
        apply(L, L.store.load())
        raise
    L._undo = False
    if L.gate is not None:
        msg = L.gate.check()
        if msg:
            L._undo = True
            apply(L, L.store.load())
            L._refused(err("Refused", "undo refused by the behaviour gate: %s" % msg), why)
    L._commit("undo (back to generation %d)" % image.generation, why)


def reset(L, why="user"):
    L._learning("reset")
    apply(L, Image())
    if L.gate is not None:
        L.gate.reset()
    L._undo = False
    L._commit("factory reset", why, write=L.store.wipe)
    if L.gate is not None and not L.gate.c_lab and not L.gate.times:
        L.gate = None  # it guards nothing now: the learner frees gate.py's RAM too


def start(L, boot):
    image = L.store.load()
    apply(L, image)
    gard = image.read(b"GARD", b"\x00")
    L.blocked = names(gard[5:])
    L.frozen = gard[0] != 0
    # a store written before the UNDO section existed: its previous generation is a target
    L._undo = image.read(b"UNDO", b"\x01" if image.generation else b"\x00") != b"\x00"
    if L.gate is not None:
        L.gate.load_guard(image)
    L.problems = L.store.problems
    gen = L.store.generation
    if boot and (L.store.kept is not None or (gen and last_generation(L.log) != gen)):
        recover_log(L, image)


def last_generation(log):
    """The generation of the log's last commit entry ("gen=G"), or -1 if there is none; notes
    in log.cut whether its last line was cut short (the next entry then starts a new line)."""
    last = -1
    for path in (log.path + ".1", log.path):
        try:
            with open(path) as f:
                for line in f:
                    log.cut = not line.endswith("\n")
                    i = line.find(" gen=")
                    if i < 0 or " " in line[:i]:
                        continue
                    j = line.find(" ", i + 5)
                    try:
                        last = int(line[i + 5:j if j > 0 else len(line)])
                    except ValueError:
                        pass  # a line cut short by a power cut
        except OSError:
            pass
    return last


def recover_log(L, image):
    gen = L.store.generation
    if L.store.kept is not None:
        L.log.write(gen, "fallback: %s; the corrupt file is kept as %s" % ("; ".join(L.problems), L.store.kept),
                    "start")
    else:
        try:
            text = image.read(b"AUDL").decode() or "factory state why=start"
        except UnicodeError:
            text = "(its line is unreadable)"
        L.log.write(gen, text + " (recovered: saved before a power cut, logged after)")


undo = rollback


def protect(L, label, window=None, embedding=None, factory=False, why="user"):
    """Make a window a canary: every later change to what is learned must keep its answer
    (label, or None for unknown) and most of its margin; returns its index."""
    return L._gate().protect(L, label, L._embed(window, embedding), factory, why)


def unprotect(L, index, why="user"):
    """Drop canary `index` (a factory canary stays)."""
    L._gate().unprotect(L, index, why)


def canaries(L):
    """[(expected answer, least margin kept, factory?)]."""
    return [] if L.gate is None else L.gate.listing()


def audit(L):
    """Every kept audit-log entry, oldest first."""
    L.log.flush()
    out = []
    for path in (L.log.path + ".1", L.log.path):
        try:
            with open(path) as f:
                for line in f:
                    out.append(line.rstrip("\n"))
        except OSError:
            pass
    return out


def auto_enroll(L, label, embedding, t, why="auto"):
    """An enrollment nobody asked for: enroll() plus the caps on automatic learning (gate.py),
    each refusal audited; t: the time in seconds (uint32)."""
    return L._gate().auto_enroll(L, label, embedding, t, why)
