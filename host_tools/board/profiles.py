"""Board profiles (host_tools/boards/*.json): heap, float precision, kernel backend, mpy arch, sensor wiring."""
import json
import os

from ..oracle.errors import BoardError  # noqa: F401  (re-exported)

# data installed with the package (a wheel too), next to host_tools/models
BOARDS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "boards")
REQUIRED = {"name": str, "heap": str, "float_bits": int, "mpy_arch": str, "backend": str,
            "fallback_backend": str, "sensor": dict, "sample_rate_hz": int}
BACKENDS = ("ulab", "viper", "plain")


def names():
    return sorted(f[:-5] for f in os.listdir(BOARDS_DIR) if f.endswith(".json"))


def load(name):
    """The profile of board `name`, checked; BoardError names what is wrong."""
    path = os.path.join(BOARDS_DIR, name + ".json")
    if not os.path.exists(path):
        raise BoardError("unknown board %r (have: %s)" % (name, ", ".join(names())))
    with open(path) as f:
        try:
            profile = json.load(f)
        except ValueError as e:
            raise BoardError("%s: not JSON (%s)" % (path, e)) from None
    for key, kind in REQUIRED.items():
        if not isinstance(profile.get(key), kind):
            raise BoardError("%s: %r must be a %s" % (path, key, kind.__name__))
    if profile["float_bits"] not in (32, 64):
        raise BoardError("%s: float_bits must be 32 or 64" % path)
    for key in ("backend", "fallback_backend"):
        if profile[key] not in BACKENDS:
            raise BoardError("%s: %s must be one of %s" % (path, key, ", ".join(BACKENDS)))
    steps = profile.get("backends", {})
    if not isinstance(steps, dict) or any(k not in ("embed", "classify", "anomaly") or v not in BACKENDS
                                          for k, v in steps.items()):
        raise BoardError("%s: backends must map embed/classify/anomaly to one of %s" % (path, ", ".join(BACKENDS)))
    if not profile["heap"].rstrip("K").isdigit():
        raise BoardError("%s: heap must look like '96K'" % path)
    return profile


def heap_bytes(profile):
    return int(profile["heap"].rstrip("K")) * 1024
