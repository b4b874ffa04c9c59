"""The ulab stand-in agrees with real ulab 6.12, expression by expression (tests/ulab_probe.py).

Two checks of the same expression list:
- against tests/ulab_answers.json, the answers recorded from the real float32 and float64 builds
  (runs everywhere);
- against the real builds themselves, when they are present (micropython-ulab-single/-double,
  found through $TINYENROLL_ULAB_UNIX or a `shared/ulab-unix` folder next to the checkout).

An expression the stand-in does not model raises NotImplementedError there; DECLINED lists
those, each with the reason, so the stand-in cannot quietly give up on more.

Re-record the table after changing the probe: python tests/test_ulab_standin_differential.py --record
"""
import hashlib
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulab_probe  # noqa: E402

from host_tools.board import ulab_env  # noqa: E402

TABLE = os.path.join(HERE, "ulab_answers.json")
BUILDS = {32: "micropython-ulab-single", 64: "micropython-ulab-double"}
NYI = "EXC:NotImplementedError"


def _declined_reason(name):
    """Why the stand-in raises NotImplementedError for this case (None: it must agree)."""
    if name.startswith("pair ") and "//" in name:
        return "// : ulab 6.12's integer floor division gives inconsistent results (7 // 7 == -1)"
    if name in ("unary abs u8", "unary abs u16", "unary abs b"):
        return "abs() of unsigned arrays: ulab 6.12 reads them as floats (garbage)"
    if name == "unary -b":
        return "negating a bool array keeps 255 under a bool flag"
    if name in ("reduce sum 1-D axis", "reduce sum bool"):
        return "reductions with an axis on 1-D arrays and of bool arrays are not modelled"
    if name == "cast float->int16 huge":
        return "float -> int outside int32 is undefined in C (x86 gives 0, boards differ)"
    if name == "cast to bool":
        return "array(int array, dtype=bool) is all False in ulab 6.12"
    if name in ("arange float", "linspace", "exp"):
        return "not used by the firmware; not modelled"
    return None


def _machine_dirs():
    env = os.environ.get("TINYENROLL_ULAB_UNIX")
    if env is not None:  # set (even to nothing): only there
        yield env
        return
    root = os.path.dirname(HERE)
    for up in (os.pardir, os.path.join(os.pardir, os.pardir)):
        yield os.path.normpath(os.path.join(root, up, "shared", "ulab-unix"))


def _build(bits):
    for d in _machine_dirs():
        path = os.path.join(d, BUILDS[bits])
        if os.access(path, os.X_OK):
            return path
    return None


def run_real(bits):
    """{name: answer} from a real ulab build running the probe."""
    exe = _build(bits)
    out = subprocess.run([exe, "-X", "heapsize=32M", os.path.join(HERE, "ulab_probe.py")],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


def run_standin(bits):
    with ulab_env.use_standin(bits) as np:
        return {name: ans for name, _code, ans in ulab_probe.run_all(np)}


def disagreements(standin, real):
    """(differing, declined) case names: a decline only counts as one where DECLINED says so."""
    differ, declined = [], []
    for name, _code in ulab_probe.cases():
        got, want = standin[name], real[name]
        if got == want:
            continue
        if got == NYI and _declined_reason(name):
            declined.append(name)
        else:
            differ.append("%s: stand-in %s, ulab %s" % (name, got, want))
    return differ, declined


def probe_digest():
    """A digest of every (name, code) pair, so a changed probe cannot reuse old answers."""
    return hashlib.sha256(repr(ulab_probe.cases()).encode()).hexdigest()[:16]


def load_table():
    """{name: {32: answer, 64: answer}} from the recorded table (one line per case:
    name -> [float32 answer, float64 answer or null when it is the same])."""
    with open(TABLE) as fh:
        data = json.load(fh)
    return data["probe"], {n: {32: a, 64: a if b is None else b} for n, (a, b) in data["cases"].items()}


def test_table_holds_every_probe_expression():
    digest, table = load_table()
    assert digest == probe_digest() and list(table) == [n for n, _ in ulab_probe.cases()], \
        "tests/ulab_answers.json is stale: re-record it (see this file's docstring)"


@pytest.mark.parametrize("bits", [32, 64], ids=["float32", "float64"])
def test_standin_agrees_with_recorded_ulab(bits):
    real = {n: c[bits] for n, c in load_table()[1].items()}
    differ, declined = disagreements(run_standin(bits), real)
    assert differ == []
    assert len(declined) == len([n for n, _ in ulab_probe.cases() if _declined_reason(n)])


@pytest.mark.parametrize("bits", [32, 64], ids=["float32", "float64"])
def test_standin_agrees_with_real_ulab_build(bits):
    if _build(bits) is None:
        pytest.skip("no real ulab build here (%s in $TINYENROLL_ULAB_UNIX or ../shared/ulab-unix): "
                    "the recorded table is checked instead" % BUILDS[bits])
    real = run_real(bits)
    assert {n: c[bits] for n, c in load_table()[1].items()} == real, \
        "the real build no longer answers as recorded: re-record tests/ulab_answers.json"
    differ, _ = disagreements(run_standin(bits), real)
    assert differ == []


def record():
    answers = {bits: run_real(bits) for bits in (32, 64)}
    lines = ["%s: %s" % (json.dumps(name), json.dumps(
        [answers[32][name], None if answers[64][name] == answers[32][name] else answers[64][name]]))
        for name, _code in ulab_probe.cases()]
    with open(TABLE, "w") as fh:
        fh.write('{"recorded_from": %s,\n"probe": "%s",\n"cases": {\n%s\n}}\n' % (
            json.dumps("ulab 6.12.0 (d1614433) in the MicroPython 1.29 unix port: "
                       + " and ".join(BUILDS.values())), probe_digest(), ",\n".join(lines)))
    print("recorded %d cases to %s" % (len(lines), TABLE))


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        record()
    else:
        sys.exit(__doc__)
