# micropython-lib style manifest: freezes this package into a firmware image as `tinyenroll`
# (frozen bytecode and constants stay in flash: no heap for code). In a board build:
#     make BOARD=... FROZEN_MANIFEST=/path/to/tinyenroll/firmware/manifest.py
# (or include("/path/to/tinyenroll/firmware/manifest.py") from the board's own manifest).
# package() freezes a folder under its own name, and this folder is named `firmware`, so the
# sources are first copied as tinyenroll/ into build/freeze beside it (the manifest runs as
# Python, in this folder). This file and package.json are not part of the package.
import os
import shutil

_here = os.path.abspath(os.getcwd())
with open(os.path.join(_here, "__init__.py")) as _f:
    _version = _f.read().split('__version__ = "')[1].split('"')[0]
metadata(description="tinyenroll: few-shot enrollment and anomaly detection on int8 embeddings",  # noqa: F821
         version=_version)
_stage = os.path.join(os.path.dirname(_here), "build", "freeze")
shutil.rmtree(os.path.join(_stage, "tinyenroll"), ignore_errors=True)
for _root, _dirs, _names in os.walk(_here):
    _dirs[:] = [d for d in _dirs if d != "__pycache__"]
    for _n in _names:
        _rel = os.path.relpath(os.path.join(_root, _n), _here)
        if _n.endswith(".py") and _rel != "manifest.py":
            _dst = os.path.join(_stage, "tinyenroll", _rel)
            os.makedirs(os.path.dirname(_dst), exist_ok=True)
            shutil.copyfile(os.path.join(_root, _n), _dst)
package("tinyenroll", base_path=_stage)  # noqa: F821
