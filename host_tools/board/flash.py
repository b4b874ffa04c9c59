"""Install the firmware, a model and a board profile on a board, never leaving half a package.

    tinyenroll flash --port /dev/ttyACM0 --board rp2040_pico [--model model.tem]

The firmware is cross-compiled to .mpy for the board (mpy-cross, the profile's mpy_arch) and
staged in /lib/tinyenroll.new: files whose sha256 matches the installed copy are copied on the
board, the rest are sent. Every staged file's hash is checked on the board, then two renames
swap the staging folder in. A disconnect before the swap leaves the installed package in use
(and the next flash starts over); model and profile are written beside and renamed in.

Before anything on the board changes: the model (--model, or the profile's default) must be
one the host reader accepts, and the board's sys.implementation must be able to load what is
sent (.mpy version 6.3, the profile's architecture; a unix port - the virtual board - always
gets its host's architecture). Besides the package it installs /model.tem, /board.json (the
profile plus the model's front-end settings from its .json sidecar, which the app reads), the
recording a replaying sensor plays, and /main.py (which runs tinyenroll.standalone on boot:
it does nothing unless /board.json's app.autostart says so).

Other install routes (README: "Install routes and the heap they hold"): write_mip_mpy (a .mpy
package for `mpremote mip install`) and write_romfs (a ROMFS image: code run in place from flash).
"""
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time

from mpremote import romfs

from . import profiles, mpy
from .board_io import Board, BoardError
from .ports import PORT_HELP
from ..oracle import modelfile

LIB = "/lib"
PKG = LIB + "/tinyenroll"
NEW = PKG + ".new"
OLD = PKG + ".old"
MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
MAIN = b"from tinyenroll import standalone\nstandalone.run()\n"
# sys.implementation._mpy >> 10, as MicroPython numbers native architectures
ARCHS = [None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
         "xtensa", "xtensawin", "rv32imc", "rv64imc"]
MPY_VERSION = (6, 3)  # what mpy-cross 1.29 writes

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
    if _isdir(top):
        for p in _walk(top):
            print(p, _sha(top + p))
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
    # a file in / already there with the same hash is left as it is (a model or a recording is
    # most of the bytes of an update); else write beside, check the hash, rename over the old
    name = path.lstrip("/")
    if "/" not in name and b.eval("_sha(%r) if %r in os.listdir('/') else None" % (path, name),
                                  "hashing the installed " + path) == sha(data):
        return
    b.put(data, path + ".new")
    got = b.eval("_sha(%r)" % (path + ".new",), "hashing " + path)
    if got != sha(data):
        raise BoardError("%s: hash on the board %s differs from the host's %s" % (path, got, sha(data)))
    b.exec("os.rename(%r, %r)" % (path + ".new", path), "installing " + path)


def board_arch(b, profile):
    """The mpy-cross architecture to build for the board at b, checked against the profile."""
    mpy_bits, platform = b.eval("(__import__('sys').implementation._mpy, __import__('sys').platform)",
                                "reading sys.implementation")
    return check_arch(mpy_bits, platform, profile)


def check_arch(mpy_bits, platform, profile):
    """Architecture from sys.implementation._mpy and sys.platform; BoardError if this package
    cannot run there or the profile names another board."""
    version, sub, arch = mpy_bits & 0xFF, (mpy_bits >> 8) & 3, ARCHS[mpy_bits >> 10] if mpy_bits >> 10 < len(ARCHS) else "?"
    if (version, sub) != MPY_VERSION:
        raise BoardError("the board's firmware loads .mpy %d.%d; this package is built as %d.%d "
                         "(MicroPython %s to 1.29 read it, native code included: update the firmware)"
                         % ((version, sub) + MPY_VERSION + (profile.get("min_firmware", "1.23"),)))
    if platform == "linux":
        return arch  # the unix port (virtual board): its host's architecture, whatever the profile
    if arch != profile["mpy_arch"]:
        raise BoardError("the board is %s (%s), profile %r is for %s: wrong --board?"
                         % (arch, platform, profile["name"], profile["mpy_arch"]))
    return arch


def _board_hashes(b, top, what):
    """{relative path: sha256 hex} of the files under top on the board, a line each: the board
    never holds the whole table (on a 96 KB heap its repr did not always fit)."""
    out = {}
    for line in b.exec("_hashes(%r)" % top, what).splitlines():
        if line.strip():
            path, _, digest = line.strip().rpartition(" ")
            out[path] = digest
    return out


def model_and_info(profile, model):
    """(model bytes, front-end settings for /board.json) checked by the host reader, or (None, {})."""
    if model is None:
        name = profile.get("model")
        if not name:
            return None, {}
        model = os.path.join(MODELS, name)
    if not os.path.exists(model):
        raise BoardError("model file %s does not exist" % model)
    with open(model, "rb") as f:
        data = f.read()
    try:
        m = modelfile.from_bytes(data)
    except ValueError as e:
        raise BoardError("%s is not a model this package can run (%s); nothing was changed on the board"
                         % (model, e)) from None
    info = {"path": "/model.tem", "in_dim": m["in_dim"], "crc": m["crc"]}
    if os.path.exists(model + ".json"):
        with open(model + ".json") as f:
            try:
                side = json.load(f)
            except ValueError as e:
                raise BoardError("%s.json: not JSON (%s); nothing was changed on the board" % (model, e)) from None
        for key in ("channels", "length", "groups", "unknown_pct", "unknown_dist"):
            if key in side:
                info[key] = side[key]
    return data, info


def flash(port, board, model=None, log=print, source=mpy.FIRMWARE):
    """Install firmware (+ model, + profile) on the board at port; returns a summary dict."""
    profile = profiles.load(board)
    start = time.time()
    model_bytes, model_info = model_and_info(profile, model)
    recording = None
    rec_name = profile["sensor"].get("file")
    if rec_name and os.path.exists(os.path.join(MODELS, rec_name)):
        with open(os.path.join(MODELS, rec_name), "rb") as f:
            recording = f.read()
    with Board(port) as b:
        arch = board_arch(b, profile)
        with tempfile.TemporaryDirectory() as tmp:
            files = package_files(dict(profile, mpy_arch=arch), os.path.join(tmp, "tinyenroll"), source)
        b.exec(HELPERS, "loading flash helpers")
        # a swap cut between its two renames leaves only the .old package: put it back
        b.exec("_isdir(%r) or not _isdir(%r) or os.rename(%r, %r)" % (PKG, OLD, OLD, PKG), "recovering")
        installed = _board_hashes(b, PKG, "reading installed hashes")
        b.exec("_rmtree(%r); _rmtree(%r); _mkdirs(%r)" % (NEW, OLD, NEW), "preparing staging")
        sent = skipped = 0
        dirs = sorted({os.path.dirname(p) for p in files if os.path.dirname(p) != "/"})
        for d in dirs:
            b.exec("_mkdirs(%r)" % (NEW + d), "making " + d)
        for i, (rel, data) in enumerate(sorted(files.items())):
            if installed.get(rel) == sha(data):
                b.exec("_copy(%r, %r)" % (PKG + rel, NEW + rel), "copying " + rel)
                skipped += 1
            else:
                b.put(data, NEW + rel)
                sent += 1
            if log is print and sys.stdout.isatty():  # progress on a terminal only
                print("  %-60s" % ("%d/%d %s" % (i + 1, len(files), rel)), end="\r", flush=True)
        staged = _board_hashes(b, NEW, "verifying")
        want = {rel: sha(data) for rel, data in files.items()}
        if staged != want:
            bad = sorted(set(staged.items()) ^ set(want.items()))
            raise BoardError("staged package does not match the host's (%s); the installed package "
                             "is still in use" % ", ".join(sorted({p for p, _ in bad})))
        b.exec("_isdir(%r) and os.rename(%r, %r)\nos.rename(%r, %r)\n_rmtree(%r)"
               % (PKG, PKG, OLD, NEW, PKG, OLD), "swapping the package in")
        if model_bytes is not None:
            _put_verified(b, model_bytes, "/model.tem")
        if recording is not None:
            _put_verified(b, recording, "/" + rec_name)
        installed_profile = dict(profile, model=model_info) if model_info else profile
        _put_verified(b, json.dumps(installed_profile).encode(), "/board.json")
        _put_verified(b, MAIN, "/main.py")
    summary = {"port": port, "board": board, "arch": arch, "files": len(files), "sent": sent, "unchanged": skipped,
               "model": model_bytes is not None, "seconds": round(time.time() - start, 2)}
    log("flashed %(board)s (%(arch)s) on %(port)s: %(files)d files (%(sent)d sent, %(unchanged)d unchanged)%(m)s "
        "in %(seconds).1f s" % dict(summary, m=", model" if model_bytes is not None else ""))
    return summary


def add_arguments(p):
    p.add_argument("--port", required=True, help=PORT_HELP)
    p.add_argument("--board", required=True, help="board profile: " + ", ".join(profiles.names()))
    p.add_argument("--model", help="model file to install as /model.tem (default: the profile's model)")


def run(args):
    """Exit status: 0 flashed; 1 the board failed or refused; 2 bad arguments (an unknown
    --board, a --model that does not exist), reported before anything is sent."""
    import sys
    if args.board not in profiles.names():
        print("flash: unknown board %r (have: %s)" % (args.board, ", ".join(profiles.names())), file=sys.stderr)
        return 2
    if args.model and not os.path.isfile(args.model):
        print("flash: model file %s does not exist" % args.model, file=sys.stderr)
        return 2
    try:
        flash(args.port, args.board, args.model)
    except BoardError as e:  # one class: profiles, board_io, flash
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


def write_romfs(path, board="virtual", arch=None):
    """A ROMFS image (MicroPython 1.25+, firmware built with MICROPY_VFS_ROM) holding the firmware
    as lib/tinyenroll/*.mpy for the board's arch (or arch): the board mounts it at /rom, puts
    /rom/lib on sys.path, and runs the bytecode in place from flash, as frozen code runs, so it
    costs no heap. Deploy with: mpremote romfs deploy PATH. Returns the image's size in bytes."""
    profile = dict(profiles.load(board))
    if arch:
        profile["mpy_arch"] = arch
    with tempfile.TemporaryDirectory() as tmp:
        package_files(profile, os.path.join(tmp, "lib", "tinyenroll"))
        with contextlib.redirect_stdout(io.StringIO()):  # make_romfs prints the tree it packs
            image = romfs.make_romfs(tmp, mpy_cross=False)
    with open(path, "wb") as f:
        f.write(image)
    return len(image)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(prog="python -m host_tools.board.flash",
                                 description="regenerate firmware/package.json (.py sources), or with --mpy DIR "
                                             "write a .mpy package for `mpremote mip install DIR/package.json`")
    ap.add_argument("--mpy", metavar="DIR", help="write DIR/package.json + DIR/tinyenroll/*.mpy")
    ap.add_argument("--romfs", metavar="FILE", help="write a ROMFS image of the .mpy package (deploy: mpremote romfs deploy FILE)")
    ap.add_argument("--board", default="virtual", help="profile whose mpy_arch to compile for: " + ", ".join(profiles.names()))
    a = ap.parse_args()
    if a.romfs:
        n = write_romfs(a.romfs, a.board)
        print("wrote %s: %d bytes, the package as .mpy for %s under lib/tinyenroll (needs MicroPython 1.25+ "
              "built with ROMFS; deploy: mpremote romfs deploy %s)" % (a.romfs, n, profiles.load(a.board)["mpy_arch"], a.romfs))
    elif a.mpy:
        p = write_mip_mpy(a.mpy, a.board)
        print("wrote %s/package.json: %d .mpy files for %s (install: mpremote mip install --target /lib %s/package.json)"
              % (a.mpy, len(p["urls"]), p["mpy_arch"], a.mpy))
    else:
        write_package_json()
