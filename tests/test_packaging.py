"""A maker installs a built wheel, not this checkout: the wheel carries the board profiles, the
shipped models and the firmware, and the installed copy (found through the package, not a repo
path) flashes a virtual board whose app starts."""
import os
import subprocess
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FROM_THE_WHEEL = r"""
import os, sys
target = sys.argv[1]
import host_tools, tinyenroll
from host_tools.board import flash, mpy, profiles
from host_tools.board.board_io import Board
from host_tools.board.virtual_board import VirtualBoard
for mod in (host_tools, tinyenroll):
    assert mod.__file__.startswith(target), mod.__file__
assert mpy.FIRMWARE.startswith(target) and profiles.BOARDS_DIR.startswith(target), (mpy.FIRMWARE, profiles.BOARDS_DIR)
print("profiles", ",".join(profiles.names()))
with VirtualBoard("virtual", os.path.join(sys.argv[2], "flash")) as vb:
    done = flash.flash(vb.device, "virtual", log=lambda *a: None)
    with Board(vb.device) as b:
        print(b.exec("import tinyenroll.app as te", quiet=60).strip().splitlines()[0])
"""


def test_an_installed_wheel_flashes_a_board_whose_app_starts(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), REPO], check=True, capture_output=True, timeout=300)
    (wheel,) = list(wheels.glob("tinyenroll-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for want in ("host_tools/boards/virtual.json", "host_tools/boards/esp32.json", "host_tools/models/motion.tem",
                 "host_tools/models/recording.ter", "host_tools/models/wiimote.tem", "tinyenroll/kernels.py",
                 "tinyenroll/sensors/mpu6050.py", "tinyenroll/package.json", "host_tools/cli.py"):
        assert want in names, want

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    script = tmp_path / "from_the_wheel.py"
    script.write_text(FROM_THE_WHEEL)
    env = dict(os.environ, PYTHONPATH=str(target))
    p = subprocess.run([sys.executable, str(script), str(target), str(tmp_path)], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "profiles esp32,rp2040_pico,virtual"
    assert "model 384 -> 32" in lines[1], lines
