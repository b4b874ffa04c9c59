"""firmware/package.json lists every firmware file, and `mpremote mip install` works with it."""
import json
import os
import subprocess
import sys

from host_tools.board import flash, mpy
from host_tools.board.virtual_board import VirtualBoard

PKG = os.path.join(mpy.FIRMWARE, "package.json")


def test_package_json_lists_every_firmware_file():
    with open(PKG) as f:
        pkg = json.load(f)
    assert sorted(src for _, src in pkg["urls"]) == flash.firmware_sources(), "run: python -m host_tools.board.flash"
    assert all(dest == "tinyenroll/" + src for dest, src in pkg["urls"])
    init = open(os.path.join(mpy.FIRMWARE, "__init__.py")).read()
    assert '__version__ = "%s"' % pkg["version"] in init


def test_mip_install_on_the_virtual_board(tmp_path):
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    with VirtualBoard("virtual", str(tmp_path / "flash")) as vb:
        out = subprocess.run([mpremote, "connect", vb.device, "mip", "install", "--target", "/lib", PKG],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        got = subprocess.run([mpremote, "connect", vb.device, "exec",
                              "import tinyenroll; from tinyenroll import learner; print(tinyenroll.__version__)"],
                             capture_output=True, text=True, timeout=60)
        assert got.stdout.strip() == json.load(open(PKG))["version"], got.stderr


HEAP_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heap_routes.py")
WIIMOTE = os.path.join(mpy.REPO, "host_tools", "models", "wiimote.tem")


def _install_and_measure(vb, pkg):
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    out = subprocess.run([mpremote, "connect", vb.device, "mip", "install", "--target", "/lib", pkg],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run([mpremote, "connect", vb.device, "cp", WIIMOTE, ":/model.tem"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([mpremote, "connect", vb.device, "run", HEAP_SCRIPT], capture_output=True, text=True,
                         timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith(("HEAP", "MODULES"))]
    assert lines, out.stdout + out.stderr
    return lines


def test_mip_install_of_mpy_and_the_heap_each_route_holds(tmp_path):
    """The .mpy route (python -m host_tools.board.flash --mpy DIR; mpremote mip install
    DIR/package.json) on the virtual board at 96K, with the heap README states; the .py route
    (firmware/package.json) cannot even import learner + model there (the ROMFS route: below)."""
    pkg = flash.write_mip_mpy(str(tmp_path / "mip"), "virtual")
    assert all(src.endswith(".mpy") and dest == src for dest, src in pkg["urls"])
    assert pkg["version"] == json.load(open(PKG))["version"]
    with VirtualBoard("virtual", str(tmp_path / "flash_mpy")) as vb:
        heap, modules = _install_and_measure(vb, str(tmp_path / "mip" / "package.json"))
    fields = dict(f.split("=") for f in heap.split()[1:])
    imp, total = int(fields["import"]), int(fields["total"])
    print(".mpy route at 96K: import %d B, + model + 200 examples %d B (%s)" % (imp, total, modules))
    assert imp < 48000 and total < 66000, heap           # README: ~44 KB and ~61 KB
    with VirtualBoard("virtual", str(tmp_path / "flash_py")) as vb:
        heap_py = _install_and_measure(vb, PKG)[0]
    assert "MemoryError" in heap_py, heap_py              # README: .py does not fit 96K


def test_romfs_image_runs_the_package_in_place_and_holds_less_heap(tmp_path):
    """The ROMFS route (python -m host_tools.board.flash --romfs FILE; mpremote romfs deploy FILE):
    the image mpremote's writer builds mounts in the real MicroPython (VfsRom), the package
    imports from /rom/lib, and runs the same steps as the .mpy route with 96 KB beside the image
    (whose bytes stand in for the board's flash) holding the heap README states; the bytecode
    runs in place, so it holds far less than the .mpy route's ~44 / ~61 KB."""
    image = str(tmp_path / "tinyenroll.romfs")
    size = flash.write_romfs(image, "virtual")
    assert size == os.path.getsize(image) and open(image, "rb").read(3) == b"\xd2\xcd\x31"
    heap = "%dK" % (96 + (size + 1023) // 1024)
    env = dict(os.environ, MICROPYPATH=".frozen")  # the package only from the image
    out = subprocess.run([mpy.micropython_path(), "-X", "heapsize=" + heap, HEAP_SCRIPT, image, WIIMOTE],
                         capture_output=True, text=True, timeout=300, cwd=str(tmp_path), env=env)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert lines.get("FROM", "").startswith("/rom/lib/tinyenroll/"), out.stdout + out.stderr
    fields = dict(f.split("=") for f in lines["HEAP"].split())
    imp, total = int(fields["import"]), int(fields["total"])
    print("ROMFS route, 96 KB beside a %d B image: import %d B, + model + 200 examples %d B" % (size, imp, total))
    assert imp < 28000 and total < 45000, lines["HEAP"]   # README: ~25 KB and ~41 KB


def test_freeze_manifest_stages_the_package_as_tinyenroll(tmp_path):
    """firmware/manifest.py, run as MicroPython's manifestfile runs it (exec in its own folder
    with package()/metadata() provided), freezes every firmware file as tinyenroll/... and
    nothing else; the staged files compile with mpy-cross (what the freeze step does)."""
    calls = []
    here = os.getcwd()
    src = open(os.path.join(mpy.FIRMWARE, "manifest.py")).read()
    try:
        os.chdir(mpy.FIRMWARE)
        exec(src, {"package": lambda *a, **k: calls.append(("package", a, k)),
                   "metadata": lambda **k: calls.append(("metadata", (), k))})
    finally:
        os.chdir(here)
    meta = [c for c in calls if c[0] == "metadata"]
    pkgs = [c for c in calls if c[0] == "package"]
    assert meta[0][2]["version"] == json.load(open(PKG))["version"]
    assert len(pkgs) == 1 and pkgs[0][1] == ("tinyenroll",)
    stage = pkgs[0][2]["base_path"]
    staged = sorted(os.path.relpath(os.path.join(r, n), os.path.join(stage, "tinyenroll")).replace(os.sep, "/")
                    for r, _, names in os.walk(os.path.join(stage, "tinyenroll")) for n in names)
    assert staged == flash.firmware_sources()
    assert "manifest.py" not in staged
    mpy.compile_firmware(str(tmp_path / "frozen"), "xtensawin", os.path.join(stage, "tinyenroll"))
