"""A maker installs a built wheel, not this checkout: the wheel carries the board profiles, the
shipped models and the firmware; installed into a fresh venv, its `tinyenroll` command answers
--help, flashes a virtual board whose app starts, and runs the demo."""
import os
import re
import subprocess
import sys
import sysconfig
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WANT = ("host_tools/boards/virtual.json", "host_tools/boards/esp32.json", "host_tools/boards/rp2040_pico.json",
        "host_tools/models/motion.tem", "host_tools/models/recording.ter", "host_tools/models/wiimote.tem",
        "tinyenroll/kernels.py", "tinyenroll/sensors/mpu6050.py", "tinyenroll/audio/logmel.py",
        "tinyenroll/jobs/demo.py", "tinyenroll/package.json", "host_tools/cli.py")

APP = r"""
import sys
from host_tools.board.board_io import Board
from host_tools.board.virtual_board import VirtualBoard
with VirtualBoard("virtual", sys.argv[1]) as vb:
    out = __import__("subprocess").run(["tinyenroll", "flash", "--port", vb.device, "--board", "virtual"],
                                       capture_output=True, text=True)
    print(out.returncode, out.stdout.replace("\n", " | "), out.stderr)
    with Board(vb.device) as b:
        print(b.exec("import tinyenroll.app as te", quiet=60).strip().splitlines()[0])
"""


def _fresh_venv(tmp_path):
    """A venv without this checkout: the wheel's dependencies come from the test's own
    environment through a .pth line (which does not run that environment's editable hook)."""
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    return venv, py


def test_a_wheel_in_a_fresh_venv_flashes_and_runs_the_demo(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), REPO], check=True, capture_output=True, timeout=300)
    (wheel,) = list(wheels.glob("tinyenroll-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [w for w in WANT if w not in names]

    venv, py = _fresh_venv(tmp_path)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # the fresh venv's bin first; the micropython interpreter comes from the dependencies' bin
    env = dict(os.environ, PATH=os.pathsep.join([str(venv / "bin"), os.path.dirname(sys.executable),
                                                  os.environ.get("PATH", "")]))
    env.pop("PYTHONPATH", None)
    where = subprocess.run([str(py), "-c", "import host_tools, tinyenroll; print(host_tools.__file__, tinyenroll.__file__)"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert where.returncode == 0 and where.stdout.count(str(venv)) == 2, where.stdout + where.stderr

    helped = subprocess.run(["tinyenroll", "--help"], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert helped.returncode == 0 and "flash" in helped.stdout and "demo" in helped.stdout

    script = tmp_path / "app.py"
    script.write_text(APP)
    p = subprocess.run([str(py), str(script), str(tmp_path / "flash")], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    flashed, banner = p.stdout.splitlines()[:2]
    assert flashed.startswith("0 "), flashed
    assert "model 384 -> 32" in banner, banner

    demo = subprocess.run(["tinyenroll", "demo", "--parts", "motion", "--speed", "10", "--out", str(tmp_path / "demo")],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert re.search(r"board and reference agree|equal", demo.stdout), demo.stdout[-2000:]
