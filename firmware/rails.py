"""The learner's rarely used calls, imported on first use (a board keeps no RAM for them until
then): undo, factory reset, and writing the audit log's line after a power cut or a fallback.
The rules are learner.py's (its module doc and README's guard-rail table)."""
from .errors import Refused, StoreError
from .store import Image


def rollback(L, why):
    L._learning("undo")
    if not L._undo:
        raise Refused("nothing to undo: undo is one step, and the last change was an undo or a reset")
    image = L.store.previous()
    try:
        L._apply(image)
    except StoreError:
        L._restore()
        raise
    L._undo = False
    if L.gate is not None:
        msg = L.gate.check()
        if msg:
            L._undo = True
            L._restore()
            L._refused(Refused("undo refused by the behaviour gate: %s" % msg), why)
    L._commit("undo (back to generation %d)" % image.generation, why)


def reset(L, why):
    L._learning("reset")
    L._apply(Image())
    if L.gate is not None:
        L.gate.reset()
    L._undo = False
    L._commit("factory reset", why, write=L.store.wipe)


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
        L.log.write_entry(gen, text + " (recovered: saved before a power cut, logged after)")
