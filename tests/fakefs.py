"""An in-memory filesystem that loses power after a given number of bytes and operations."""
import io


class PowerCut(Exception):
    pass


class FakeFS:
    def __init__(self):
        self.files = {}
        self.budget = None  # bytes written + renames/removes left before the power goes

    def copy(self):
        other = FakeFS()
        other.files = {k: bytearray(v) for k, v in self.files.items()}
        return other

    def _spend(self, n):
        if self.budget is None:
            return n
        take = min(n, self.budget)
        self.budget -= take
        return take

    # the parts of os and open() that firmware/store.py uses
    def stat(self, path):
        if path not in self.files:
            raise OSError(2, "ENOENT")
        return (0, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)

    def remove(self, path):
        if path not in self.files:
            raise OSError(2, "ENOENT")
        if self._spend(1) < 1:
            raise PowerCut()
        del self.files[path]

    def rename(self, a, b):
        if a not in self.files:
            raise OSError(2, "ENOENT")
        if self._spend(1) < 1:
            raise PowerCut()
        self.files[b] = self.files.pop(a)

    def open(self, path, mode="rb"):
        if "r" in mode:
            if path not in self.files:
                raise OSError(2, "ENOENT")
            return io.BytesIO(bytes(self.files[path]))
        self.files[path] = bytearray()
        return _Writer(self, path)


class _Writer:
    def __init__(self, fs, path):
        self.fs, self.path = fs, path

    def write(self, data):
        take = self.fs._spend(len(data))
        self.fs.files[self.path] += bytes(data[:take])
        if take < len(data):
            raise PowerCut()
        return take

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def install(monkeypatch, fs):
    """Make firmware/store.py use fs instead of the real filesystem."""
    from tinyenroll import store
    monkeypatch.setattr(store, "os", fs)
    monkeypatch.setattr(store, "open", fs.open, raising=False)
