import binascii
import os

import pytest
from hypothesis import HealthCheck, settings

from tinyenroll import kernels

settings.register_profile(
    "default", deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
settings.register_profile(
    "ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_configure(config):
    """tmp_path under a folder whose path has the same length on every machine and run (pytest's
    own, /tmp/pytest-of-USER/pytest-N/, grows with the user name and the run number N): tests
    hand these paths to micropython at 96K, where a path a few bytes longer on its heap moved
    allocations into or out of a hole (host_tools/board/mpy.py, command()). One folder per checkout,
    so two checkouts' runs do not clear each other's; pytest clears it at the start of a run."""
    from host_tools.board import mpy
    if mpy.FIXED_TMP and config.option.basetemp is None:
        tag = binascii.crc32(os.path.dirname(os.path.abspath(__file__)).encode())
        config.option.basetemp = os.path.join(mpy.FIXED_TMP, "tinyenroll-pytest-%08x" % tag)


@pytest.fixture
def backend(request):
    """The kernel backend named by indirect parametrisation; plain again afterwards."""
    kernels.select(request.param)
    yield request.param
    kernels.select("plain")


@pytest.fixture(params=[32, 64], ids=["float32", "float64"])
def ulab_standin(request):
    """The ulab backend on the stand-in, with a board's (32) and the unix port's (64) float."""
    from host_tools.board import ulab_env
    with ulab_env.use_standin(request.param):
        kernels.select("ulab")
        yield request.param
        kernels.select("plain")
