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
