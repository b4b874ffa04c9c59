"""The host tools' error vocabulary (the firmware's is tinyenroll.errors).

    HostError       base of every error the host tools raise on purpose
    DataError       the data or arguments a command was given are wrong (format, shape, values,
                    a file that is not there): a ValueError
    ModelFileError  a model file cannot be read (truncated, corrupt, malformed): a ValueError
    ExportError     a model cannot be written without breaking the firmware's bounds: a ValueError
    BoardError      a board, its profile or the link to it failed: a RuntimeError

modelfile.from_bytes raises only ModelFileError, whatever the bytes (hypothesis-fuzzed in
tests/test_errors.py); board_io, flash, stream and profiles raise only BoardError. The CLI
reports these (and the firmware's tinyenroll.errors, and OSError) in one line; any other
exception is a bug and keeps its traceback.
"""


class HostError(Exception):
    """Base of every error the host tools raise on purpose."""


class DataError(HostError, ValueError):
    """The data or arguments a command was given are wrong; the message names what and where."""


class ModelFileError(HostError, ValueError):
    """A model file cannot be read; the message names the defect."""


class ExportError(HostError, ValueError):
    """The model cannot be exported without breaking the firmware's exactness bounds."""


class BoardError(HostError, RuntimeError):
    """A board, its profile or the connection to it failed; the message says what and where."""
