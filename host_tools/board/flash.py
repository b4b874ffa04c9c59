"""Install the firmware, a model and a board profile on a board, never leaving half a package.

    tinyenroll flash --port /dev/ttyACM0 --board rp2040_pico [--model model.tem]

The firmware is cross-compiled to .mpy for the board (mpy-cross, the profile's mpy_arch) and
staged in /lib/tinyenroll.new: files whose sha256 matches the installed copy are copied on the
board, the rest are sent. Every staged file's hash is checked on the board, then two renames
swap the staging folder in. A disconnect before the swap leaves the installed package in use
(and the next flash starts over); model and profile are written beside and renamed in.
"""
import hashlib
import json
import os
import tempfile
import time

from . import profiles, mpy
from .board_io import Board, BoardError

LIB = "/lib"
PKG = LIB + "/tinyenroll"
NEW = PKG + ".new"
OLD = PKG + ".old"

# board-side helpers, sent once per session
HELPERS = """
import os, hashlib, binascii
def _isdir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False
def _walk(top, rel=''):
    out = []
    for name in os.listdir(top + rel):
        p = rel + '/' + name
        if _isdir(top + p):
            out.extend(_walk(top, p))
        else:
            out.append(p)
    return out
def _sha(p):
    h = hashlib.sha256()
    b = bytearray(256)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(memoryview(b)[:n])
    return binascii.hexlify(h.digest()).decode()
def _hashes(top):
    if not _isdir(top):
        return {}
    return dict((p, _sha(top + p)) for p in _walk(top))
def _rmtree(p):
    if not _isdir(p):
        try:
            os.remove(p)
        except OSError:
            pass
        return
    for name in os.listdir(p):
        _rmtree(p + '/' + name)
    os.rmdir(p)
def _mkdirs(p):
    cur = ''
    for part in p.strip('/').split('/'):
        cur += '/' + part
        if not _isdir(cur):
            os.mkdir(cur)
def _copy(a, b):
    buf = bytearray(256)
    with open(a, 'rb') as fa, open(b, 'wb') as fb:
        while True:
            n = fa.readinto(buf)
            if not n:
                break
            fb.write(memoryview(buf)[:n])
"""


def package_files(profile, out_dir, source=mpy.FIRMWARE):
    """{relative path: bytes} of the firmware as the board gets it (.mpy for its arch)."""
    mpy.compile_firmware(out_dir, profile["mpy_arch"], source)
    files = {}
    for root, _, names in os.walk(out_dir):
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = "/" + os.path.relpath(path, out_dir).replace(os.sep, "/")
            with open(path, "rb") as f:
                files[rel] = f.read()
    return files


def sha(data):
    return hashlib.sha256(data).hexdigest()


def _put_verified(b, data, path):
    # write beside, check the hash on the board, then rename over the old file
    b.put(data, path + ".new")
    got = b.eval("_sha(%r)" % (path + ".new",), "hashing " + path)
    if got != sha(data):
        raise BoardError("%s: hash on the board %s differs from the host's %s" % (path, got, sha(data)))
    b.exec("os.rename(%r, %r)" % (path + ".new", path), "installing " + path)


def flash(port, board, model=None, log=print, source=mpy.FIRMWARE):
    """Install firmware (+ model, + profile) on the board at port; returns a summary dict."""
    profile = profiles.load(board)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        files = package_files(profile, os.path.join(tmp, "tinyenroll"), source)
    with Board(port) as b:
        b.exec(HELPERS, "loading flash helpers")
        # a swap cut between its two renames leaves only the .old package: put it back
        b.exec("_isdir(%r) or not _isdir(%r) or os.rename(%r, %r)" % (PKG, OLD, OLD, PKG), "recovering")
        installed = b.eval("_hashes(%r)" % PKG, "reading installed hashes")
        b.exec("_rmtree(%r); _rmtree(%r); _mkdirs(%r)" % (NEW, OLD, NEW), "preparing staging")
        sent = skipped = 0
        dirs = sorted({os.path.dirname(p) for p in files if os.path.dirname(p) != "/"})
        for d in dirs:
            b.exec("_mkdirs(%r)" % (NEW + d), "making " + d)
        for rel, data in sorted(files.items()):
            if installed.get(rel) == sha(data):
                b.exec("_copy(%r, %r)" % (PKG + rel, NEW + rel), "copying " + rel)
                skipped += 1
            else:
                b.put(data, NEW + rel)
                sent += 1
        staged = b.eval("_hashes(%r)" % NEW, "verifying")
        want = {rel: sha(data) for rel, data in files.items()}
        if staged != want:
            bad = sorted(set(staged.items()) ^ set(want.items()))
            raise BoardError("staged package does not match the host's (%s); the installed package "
                             "is still in use" % ", ".join(sorted({p for p, _ in bad})))
        b.exec("_isdir(%r) and os.rename(%r, %r)\nos.rename(%r, %r)\n_rmtree(%r)"
               % (PKG, PKG, OLD, NEW, PKG, OLD), "swapping the package in")
        if model:
            with open(model, "rb") as f:
                _put_verified(b, f.read(), "/model.tem")
        _put_verified(b, json.dumps(profile).encode(), "/board.json")
    summary = {"port": port, "board": board, "files": len(files), "sent": sent, "unchanged": skipped,
               "model": bool(model), "seconds": round(time.time() - start, 2)}
    log("flashed %(board)s on %(port)s: %(files)d files (%(sent)d sent, %(unchanged)d unchanged)%(m)s "
        "in %(seconds).1f s" % dict(summary, m=", model" if model else ""))
    return summary


def add_arguments(p):
    p.add_argument("--port", required=True, help="serial device, pty path or socket://host:port")
    p.add_argument("--board", required=True, help="board profile: " + ", ".join(profiles.names()))
    p.add_argument("--model", help="model file to install as /model.tem")


def run(args):
    try:
        flash(args.port, args.board, args.model)
    except (BoardError, profiles.BoardError) as e:
        print("flash failed: %s" % e)
        return 1
    return 0


def firmware_sources():
    """Every firmware .py file, relative to firmware/ with '/' separators, sorted."""
    files = []
    for root, _, names in os.walk(mpy.FIRMWARE):
        for n in names:
            if n.endswith(".py") and not (root == mpy.FIRMWARE and n == "manifest.py"):  # the freeze manifest
                files.append(os.path.relpath(os.path.join(root, n), mpy.FIRMWARE).replace(os.sep, "/"))
    return sorted(files)


def write_package_json():
    """Regenerate firmware/package.json (for `mpremote mip install`) from the firmware files."""
    files = firmware_sources()
    init = open(os.path.join(mpy.FIRMWARE, "__init__.py")).read()
    version = init.split('__version__ = "')[1].split('"')[0]
    pkg = {"urls": [["tinyenroll/" + f, f] for f in sorted(files)], "version": version, "deps": []}
    with open(os.path.join(mpy.FIRMWARE, "package.json"), "w") as f:
        f.write(json.dumps(pkg, indent=2) + "\n")
    return pkg


def write_mip_mpy(out_dir, board="virtual"):
    """A folder for `mpremote mip install`: the firmware cross-compiled to .mpy for the board's
    arch under out_dir/tinyenroll/ and out_dir/package.json listing them (mip copies .mpy files
    as they are). Install with: mpremote mip install --target /lib OUT_DIR/package.json.
    Returns the package dict."""
    profile = profiles.load(board)
    files = package_files(profile, os.path.join(out_dir, "tinyenroll"))
    init = open(os.path.join(mpy.FIRMWARE, "__init__.py")).read()
    version = init.split('__version__ = "')[1].split('"')[0]
    urls = [["tinyenroll" + rel, "tinyenroll" + rel] for rel in sorted(files)]
    pkg = {"urls": urls, "version": version, "deps": [], "mpy_arch": profile["mpy_arch"]}
    with open(os.path.join(out_dir, "package.json"), "w") as f:
        f.write(json.dumps(pkg, indent=2) + "\n")
    return pkg


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(prog="python -m host_tools.board.flash",
                                 description="regenerate firmware/package.json (.py sources), or with --mpy DIR "
                                             "write a .mpy package for `mpremote mip install DIR/package.json`")
    ap.add_argument("--mpy", metavar="DIR", help="write DIR/package.json + DIR/tinyenroll/*.mpy")
    ap.add_argument("--board", default="virtual", help="profile whose mpy_arch to compile for: " + ", ".join(profiles.names()))
    a = ap.parse_args()
    if a.mpy:
        p = write_mip_mpy(a.mpy, a.board)
        print("wrote %s/package.json: %d .mpy files for %s (install: mpremote mip install --target /lib %s/package.json)"
              % (a.mpy, len(p["urls"]), p["mpy_arch"], a.mpy))
    else:
        write_package_json()
