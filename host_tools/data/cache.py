"""Files fetched once from PyPI into a local cache, hash-checked before first use.

    path = cache.pypi_file("aeon==1.6.0", "aeon-1.6.0-py3-none-any.whl", SHA256)

Only the named distribution is downloaded (`pip download --no-deps`), nothing is installed or
imported from it. The download lands in a temporary folder beside the cache and is renamed in
only after its sha256 matched, so an interrupted or tampered download never enters the cache.
"""
import hashlib
import os
import subprocess
import sys
import tempfile


def cache_dir():
    d = os.environ.get("TINYENROLL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tinyenroll")
    os.makedirs(d, exist_ok=True)
    return d


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pypi_file(requirement, filename, sha256, extra_args=()):
    """Path of `filename` (the file pip downloads for `requirement`) in the cache."""
    path = os.path.join(cache_dir(), filename)
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *extra_args,
                        requirement, "-d", tmp], check=True)
        got = os.path.join(tmp, filename)
        if not os.path.exists(got):
            raise RuntimeError("pip download %s gave %s, not %s" % (requirement, os.listdir(tmp), filename))
        digest = sha256_of(got)
        if digest != sha256:
            raise RuntimeError("%s has sha256 %s, expected %s" % (filename, digest, sha256))
        os.replace(got, path)
    return path
