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
