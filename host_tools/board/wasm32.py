"""A real 32-bit MicroPython for the host: the WebAssembly port under node.

The unix port the other tests use is 64-bit: its small ints hold 62 bits, so a value a board
would have to allocate as a big int (anything outside -2**30 .. 2**30-1 on ESP32/RP2040) goes
unnoticed there. The npm package `@micropython/micropython-webassembly-pyscript` (MicroPython
1.27, wasm32, pinned below) is MicroPython's own webassembly port: 32-bit words and 31-bit small
ints, as on the boards. It has no native emitter (no viper) and no ulab, and its heap grows on
demand (a 96 KB first heap, then more), so it checks integers and allocation, not heap size.

    path = wasm32.ensure()            # installs it into build/wasm with npm if missing; None if no npm/node
    p = wasm32.run(script, files={"/data/x.json": host_path})   # CompletedProcess (this port has no sys.argv)

The firmware is copied into the interpreter's in-memory file system as /lib/tinyenroll (.py
sources: this port loads bytecode-only .mpy too, but compiling on import is free of heap limits here).
"""
import json
import os
import shutil
import subprocess
import tempfile

from . import mpy

PACKAGE = "@micropython/micropython-webassembly-pyscript"
VERSION = "1.27.0"
DIR = os.path.join(mpy.REPO, "build", "wasm")
MODULE = os.path.join(DIR, "node_modules", *PACKAGE.split("/"), "micropython.mjs")

RUNNER = r"""
import { readFileSync } from "fs";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadMicroPython } = await import(job.module);
const out = [], err = [];
const mp = await loadMicroPython({ heapsize: job.heap, stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
for (const [dest, src] of job.files) {
  mp.FS.mkdirTree(dest.substring(0, dest.lastIndexOf("/")) || "/");
  mp.FS.writeFile(dest, readFileSync(src));
}
let rc = 0;
try {
  mp.runPython(readFileSync(job.script, "utf8"));
} catch (e) {
  err.push(String(e.message || e));
  rc = 1;
}
process.stdout.write(out.map((l) => l + "\n").join(""));
process.stderr.write(err.map((l) => l + "\n").join(""));
process.exit(rc);
"""


def node():
    return shutil.which("node")


def installed():
    return os.path.exists(MODULE) and _installed_version() == VERSION


def _installed_version():
    try:
        with open(os.path.join(os.path.dirname(MODULE), "package.json")) as f:
            return json.load(f).get("version")
    except OSError:
        return None


def install(log=print):
    """npm install the pinned package into build/wasm; returns MODULE. Raises RuntimeError."""
    npm = shutil.which("npm")
    if npm is None or node() is None:
        raise RuntimeError("node and npm are needed for the 32-bit MicroPython (%s@%s)" % (PACKAGE, VERSION))
    os.makedirs(DIR, exist_ok=True)
    pkg = os.path.join(DIR, "package.json")
    if not os.path.exists(pkg):
        with open(pkg, "w") as f:
            f.write('{"private": true, "description": "tinyenroll test tools (build area, not committed)"}\n')
    log("installing %s@%s into %s" % (PACKAGE, VERSION, DIR))
    p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--save-exact", "%s@%s" % (PACKAGE, VERSION)],
                       cwd=DIR, capture_output=True, text=True, timeout=600)
    if p.returncode != 0 or not installed():
        raise RuntimeError("npm install %s@%s failed: %s" % (PACKAGE, VERSION, (p.stderr or p.stdout)[-2000:]))
    return MODULE


def ensure(log=print):
    """MODULE, installing it if needed; None (with the reason in `why`) when it cannot be had."""
    global why
    if installed() and node():
        return MODULE
    try:
        return install(log)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        why = str(e)
        return None


why = None


def firmware_files(prefix="/lib/tinyenroll", source=mpy.FIRMWARE):
    files = []
    for root, _, names in os.walk(source):
        for n in sorted(names):
            if n.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, n), source).replace(os.sep, "/")
                files.append([prefix + "/" + rel, os.path.join(root, n)])
    return files


def run(script, files=None, heap=96 * 1024, timeout=600):
    """Run the MicroPython source file `script` in the 32-bit interpreter with the firmware as
    /lib/tinyenroll and `files` ({memfs path: host path}) copied in; CompletedProcess (text)."""
    if not installed():
        raise RuntimeError("32-bit MicroPython not installed: wasm32.ensure()")
    with tempfile.TemporaryDirectory() as tmp:
        runner = os.path.join(tmp, "run.mjs")
        with open(runner, "w") as f:
            f.write(RUNNER)
        job = {"module": "file://" + MODULE, "heap": heap, "script": os.path.abspath(script),
               "files": firmware_files() + [[d, os.path.abspath(s)] for d, s in (files or {}).items()]}
        with open(os.path.join(tmp, "job.json"), "w") as f:
            json.dump(job, f)
        return subprocess.run([node(), runner, os.path.join(tmp, "job.json")], capture_output=True, text=True,
                              timeout=timeout)


if __name__ == "__main__":
    import sys
    sys.exit(0 if ensure() else "32-bit MicroPython unavailable: %s" % why)
