"""The one error vocabulary of the package: every error it raises on purpose is one of these.

    TinyError     base of them all (a ValueError, so `except ValueError` still catches them)
    InputError    a bad argument: wrong type, size, range, an unknown or malformed label
    ModelError    a model file is unusable (the message names what is wrong)
    StoreError    a store file or section is unusable (also: learned with another model, which
                  is refused, never discarded)
    Refused       a guard rail refused a change to what is learned; nothing changed.
                  Frozen: learning is frozen; StoreFull: a cap is reached; the behaviour
                  gate's refusals (a canary would change) and blocked labels are Refused itself

All under ValueError: MicroPython allows one built-in base per class, so a wrong type is
InputError too. OSError (flash I/O) and MemoryError pass through unchanged.
"""


class TinyError(ValueError):
    """Base of every error tinyenroll raises on purpose."""


class InputError(TinyError):
    """A bad argument (type, size, range, label); nothing changed."""


class ModelError(TinyError):
    """The model file is unusable; the message names what is wrong."""


class StoreError(TinyError):
    """A store file is unusable; the message says which file and why."""


class Refused(TinyError):
    """A guard rail refused a change to what is learned; the state is unchanged."""


class Frozen(Refused):
    """Learning is frozen: unfreeze() first."""


class StoreFull(Refused):
    """No room for another class or example under the configured caps."""
