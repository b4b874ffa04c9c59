"""Real-time cost of the whole voice pipeline per second of audio: front end + keyword model +
spotter and k-NN, measured in the real MicroPython VM and estimated for the boards.

    python -m host_tools.evaluate.bench_voice [--seconds 15] [--plain-seconds 3] [--source speech|lcg]
                                              [--no-min-heap] [--json out.json]

The pipeline is the demo's voice job (firmware/jobs/voice.py): the integer log-mel front end
(firmware/audio/logmel.py), the keyword model (host_tools/models/kws.tem through tinyenroll.model)
every `every` frames as kws.Spotter.step runs it, and the learner's k-NN over a store of 20
enrolled windows. firmware/jobs/voice_bench.py runs it in the unix port (cross-compiled, as a board
gets it) per backend: viper, plain, and ulab (model and k-NN; the front end stays viper) in the real
ulab build when ../shared/ulab-unix is there. Audio: by default one SYNTHETIC voice of the test
split (the demo's material: its three takes to enroll from, its stream to listen to), or
pseudo-random samples (--source lcg). Time per second of audio by stage: front end, model,
k-NN (learner.classify), spotter (the rest of Spotter.step: ring push, window copy, hit logic).

Heap: first at -X heapsize=96K with the package as .mpy files in /lib; the smallest heap it runs in
that way; then at 96K with the package in a ROMFS image (bench.py's route: code run in place, the
image's bytes beside the heap). The timings come from the first route that runs at 96K.

ESTIMATE per board: the work per second of audio is counted (front end: bench_audio.frame_counts;
model: bench.op_counts on the layer shapes the VM reports; k-NN: bench.op_counts's classify rule at
the store's size; spotter: its Python loops) in bench.py's CYCLES kinds, times the board's cycle
costs (bench.CYCLES), over the clock in its profile (host_tools/boards/*.json). Cross-check: each
stage's measured time in units of one viper dense MAC measured in the same VM, times the board's
cycles per int MAC ("calibrated"), as bench_audio does for the front end. Real time: the counted
estimate under 100 % of the CPU (the calibrated one is printed beside it, with its own verdict).
The machine is shared: host times are noisy, ratios less so.
"""
import argparse
import json
import os
import subprocess
import tempfile

from ..board import flash, mpy, profiles
from . import bench, bench_audio, kws_eval

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "kws.tem")
N_ENROLL = 20
CLASSES = 5
STAGES = ("frontend", "spotter", "model", "knn")
RATE = 16000
# the job, started by a one-line script (its code comes from the package, not compiled in the heap)
JOB = ("import sys\nfrom tinyenroll.jobs import voice_bench\n"
       "voice_bench.run(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5], sys.argv[6], int(sys.argv[7]), "
       "int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11]), int(sys.argv[12]), int(sys.argv[13]))\n")
# bench.py's ROMFS route: the image (sys.argv[4]) mounted at /rom, the package imported from it
assert bench.FIT_ROMFS.endswith(bench.FIT)
ROMFS_MOUNT = bench.FIT_ROMFS[:-len(bench.FIT)]


def knn_counts(n, d, c, k):
    """Work of one classify over n stored d-dim examples in c classes (k nearest per class): the
    rule of bench.op_counts's "classify" step, there fixed at its KNN_N x KNN_DIM store."""
    return {
        "viper": {"int_mac": n * d + 2 * n, "flop": 0, "py": 4 * c + k * c + 30, "ulab_call": 0, "elem": 0},
        "ulab": {"int_mac": 0, "flop": 4 * n * d + 4 * n, "py": 6 * c + k * c + 30, "ulab_call": 12 + 5 * c,
                 "elem": c * n + n + n * 6 + k * c},
        "plain": {"int_mac": 0, "flop": 0, "py": n * d + 2 * n + 4 * c + k * c + 30, "ulab_call": 0, "elem": 0},
    }


def spotter_counts(n_mels, frames):
    """Spotter.step's own work (firmware/audio/kws.py), the same on every backend: per frame the
    ring push (a Python loop over the n_mels values) and a few statements; per window the copy
    (a Python loop over the bands, two memoryview slice copies each: `frames` bytes a band copied
    in C, counted as CYCLES' "elem") and the hit logic."""
    return {"frame": {"py": n_mels + 8}, "window": {"py": 2 * n_mels + 10, "elem": n_mels * frames}}


def _kinds(d):
    return {kind: d.get(kind, 0) for kind in ("int_mac", "flop", "py", "ulab_call", "elem")}


def _scale(d, f):
    return {kind: v * f for kind, v in d.items()}


def counts(job, backend):
    """Work per second of audio by stage, in CYCLES kinds, for one backend's run (job: what the
    VM reported: layer shapes, hop, n_fft, n_mels, frames, every, store size, classes)."""
    fps = RATE / job["hop"]
    wps = fps / job["every"]
    fc = bench_audio.frame_counts(job["n_fft"], job["hop"], job["n_mels"])
    fe = {"int_mac": fc["viper_mac_equiv"]} if job["frontend_backend"] == "viper" else {"py": fc["plain_iterations"]}
    ops = bench.op_counts(job["layers"])
    dim = job["layers"][-1][2]
    sp = spotter_counts(job["n_mels"], job["frames"])
    return {
        "frontend": _scale(_kinds(fe), fps),
        "spotter": {kind: sp["frame"].get(kind, 0) * fps + sp["window"].get(kind, 0) * wps
                    for kind in _kinds({})},
        "model": _scale(_kinds(ops["embed"][backend]), wps),
        "knn": _scale(_kinds(knn_counts(job["enrolled"], dim, job["classes"], job["k"])[backend]), wps),
        "macs_per_window": ops["macs"], "frames_per_second": fps, "windows_per_second": wps,
    }


def estimate(work, measured=None, mac_us=None):
    """Per board: cycles per second of audio by stage (counted work x CYCLES), the share of the
    profile's clock, and (measured, mac_us given) the calibrated cross-check."""
    out = {}
    for name, cyc in bench.CYCLES.items():
        mhz = profiles.load(name)["cpu_mhz"]
        hz = mhz * 1e6
        st = {s: sum(work[s][kind] * cyc[kind] for kind in cyc) for s in STAGES}
        total = sum(st.values())
        b = {"cpu_mhz": mhz, "cycles_per_audio_second": {s: round(v) for s, v in st.items()},
             "cpu_share": {s: v / hz for s, v in st.items()}, "total_cycles": round(total), "total_share": total / hz,
             "real_time": total < hz}
        if measured and mac_us:
            cal = {s: measured[s] / mac_us * cyc["int_mac"] for s in STAGES}
            b["calibrated_share"] = {s: v / hz for s, v in cal.items()}
            b["calibrated_total_share"] = sum(cal.values()) / hz
        out[name] = b
    return out


def _parse(stdout):
    job = {"layers": []}
    for line in stdout.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "layer":
            job["layers"].append([f[1]] + [int(v) for v in f[2:]])
        elif f[0] == "shape":
            job.update(hop=int(f[1]), n_fft=int(f[2]), n_mels=int(f[3]), frames=int(f[4]), every=int(f[5]),
                       k=int(f[6]), frontend_backend=f[7])
        elif f[0] == "enrolled":
            job["enrolled"], job["classes"] = int(f[1]), int(f[2])
        elif f[0] in ("held", "step", "free", "gc_us"):
            job[f[0]] = int(f[1])
            if f[0] == "held":
                job["free_after_setup"] = int(f[2])
        elif f[0] == "time":
            job["samples"], job["windows"], job["hits"] = (int(x) for x in f[1:4])
        elif f[0] == "stage":
            job.setdefault("us", {})[f[1]] = int(f[2])
            job.setdefault("median_us", {})[f[1]] = int(f[3])
        elif f[0] == "mac_us":
            job["mac_us"] = float(f[1])
        elif f[0] == "done":
            job["done"] = True
    return job


def run_job(backend, heap, tmp, sources, seconds, image=None, interpreter=None):
    """One VM run of jobs/voice_bench at `heap` (with image: the ROMFS route); the parsed lines, or
    {"fits": False, "error": ...}. The front end's settings and the unknown rule are the model's
    (its sidecar, as the demo reads them)."""
    st = kws_eval.settings(MODEL)
    script = os.path.join(tmp, "voice_bench_%s.py" % ("romfs" if image else "mpy"))
    with open(script, "w") as f:
        f.write(ROMFS_MOUNT + JOB if image else JOB)
    argv, env = mpy.command(script, heap=heap)
    if interpreter:
        argv[0] = interpreter
    if image:  # as bench.fit_run: the image's bytes are read into the heap, so they come on top
        argv[argv.index("heapsize=" + heap)] = "heapsize=%dK" % (int(heap.rstrip("K")) + (os.path.getsize(image) + 1023) // 1024)
        env["MICROPYPATH"] = ".frozen"  # the package only from the image
    store = os.path.join(tmp, "st-%s-%s" % (backend, heap))
    args = [MODEL, backend, store, image or "-", sources[0], sources[1], seconds, N_ENROLL, CLASSES, st["frames"], st["mels"],
            st["offset"], st["unknown_pct"]]
    p = subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True, env=env, timeout=1800)
    job = _parse(p.stdout)
    if p.returncode != 0 or not job.get("done"):
        return {"fits": False, "error": (p.stdout + p.stderr).strip()[-300:]}
    job["fits"] = True
    return job


def min_heap(backend, tmp, sources, image=None, interpreter=None):
    """The smallest heap (4K steps) the pipeline runs in: 16K steps up from 96K until it runs, then
    halving down to 4K."""
    ok = None
    for kb in range(96, 257, 16):
        if run_job(backend, "%dK" % kb, tmp, sources, 1, image, interpreter)["fits"]:
            ok = kb
            break
    if ok is None:
        return None
    lo, hi = (ok - 16, ok) if ok > 96 else (32, 96)
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        if run_job(backend, "%dK" % mid, tmp, sources, 1, image, interpreter)["fits"]:
            hi = mid
        else:
            lo = mid
    return hi


def audio(tmp, source):
    """(enroll source, listen source) for the job: WAV paths of the demo's SYNTHETIC voice (its
    takes, its stream) or pseudo-random samples."""
    if source == "lcg":
        return ("lcg:1", "lcg:2"), "pseudo-random samples at speech level (LCG)"
    from ..data import speech
    from . import demo_voice
    takes, stream, spans, voice = demo_voice.material()
    paths = os.path.join(tmp, "enroll.wav"), os.path.join(tmp, "listen.wav")
    speech.write_wav(paths[0], takes)
    speech.write_wav(paths[1], stream)
    return paths, "SYNTHETIC speech, test voice %s: %d windows of its %.1f s of takes enrolled, its %.1f s " \
                  "stream listened to" % (voice, N_ENROLL, takes.size / RATE, stream.size / RATE)


def run(seconds=15, plain_seconds=3, source="speech", find_min_heap=True, backends=("viper", "plain"), ulab=True):
    """Measure each backend; returns the results (see report)."""
    with tempfile.TemporaryDirectory() as tmp:
        sources, what = audio(tmp, source)
        image = os.path.join(tmp, "tinyenroll.romfs")
        flash.write_romfs(image, arch=mpy.HOST_ARCH)
        res = {"audio": what, "n_enroll": N_ENROLL, "classes": CLASSES, "model": os.path.basename(MODEL),
               "romfs_bytes": os.path.getsize(image), "backends": {}}
        vms = [(b, None) for b in backends]
        interp = bench.ulab_interpreter("single") if ulab else None
        if interp:
            vms.append(("ulab", interp))
        for backend, vm in vms:
            secs = plain_seconds if backend == "plain" else seconds
            r = {"vm": "ulab-single" if vm else "micropython", "heap": {}}
            got = None
            mpy96 = run_job(backend, "96K", tmp, sources, secs, None, vm)
            r["heap"]["mpy_96k"] = mpy96["fits"]
            if mpy96["fits"]:
                got, r["route"] = mpy96, "mpy files, 96K"
            rom96 = run_job(backend, "96K", tmp, sources, secs if got is None else 1, image, vm)
            r["heap"]["romfs_96k"] = rom96["fits"]
            if got is None and rom96["fits"]:
                got, r["route"] = rom96, "ROMFS image, 96K"
            if not rom96["fits"]:
                r["heap"]["romfs_error"] = rom96["error"].splitlines()[-1]
            if find_min_heap:
                r["heap"]["mpy_min_kb"] = min_heap(backend, tmp, sources, None, vm)
                r["heap"]["romfs_min_kb"] = min_heap(backend, tmp, sources, image, vm)
            if got is None:
                kb = r["heap"].get("mpy_min_kb") or 256
                got = run_job(backend, "%dK" % kb, tmp, sources, secs, None, vm)
                r["route"] = "mpy files, %dK" % kb
                if not got["fits"]:
                    r["error"] = got["error"]
                    res["backends"][backend] = r
                    continue
            r["job"] = got
            r["heap"].update(held=got["held"], free_after_setup=got["free_after_setup"], window_alloc=got["step"],
                             free=got["free"], gc_us=got["gc_us"])
            audio_s = got["samples"] / RATE
            wps = RATE / got["hop"] / got["every"]
            # per second of audio: the typical window's (median over the run's windows, robust to the
            # shared machine's spikes) and the run's mean; the cross-check uses the medians, as the
            # calibration is a median too
            per_s = {s: got["median_us"][s] * wps for s in STAGES}
            mean_s = {s: got["us"][s] / audio_s for s in STAGES}
            r["us_per_audio_second"] = {s: round(v) for s, v in per_s.items()}
            r["us_per_audio_second_total"] = round(sum(per_s.values()))
            r["us_per_audio_second_mean"] = {s: round(v) for s, v in mean_s.items()}
            r["us_per_audio_second_mean_total"] = round(sum(mean_s.values()))
            r["real_time_factor_host"] = sum(mean_s.values()) / 1e6
            r["audio_seconds"] = audio_s
            r["work"] = counts(got, backend)
            r["boards"] = estimate(r["work"], per_s, got["mac_us"])
            res["backends"][backend] = r
    return res


def report(res):
    out = ["Voice pipeline per second of audio (front end + keyword model %s every 4th frame + spotter + k-NN over "
           "%d enrolled windows, %d labels); real MicroPython VM (host, shared machine); audio: %s; the ROMFS image "
           "is %d bytes" % (res["model"], res["n_enroll"], res["classes"], res["audio"], res["romfs_bytes"])]
    out.append("MEASURED on this host, us per second of audio (by stage: the median window x windows a second; "
               "total: their sum, and the run's mean; host RT = the run's mean / 1 s):")
    out.append("  %-6s %-22s %9s %9s %9s %9s %10s %10s %8s" % ("backend", "route", "frontend", "model", "k-NN", "spotter",
                                                              "total", "run mean", "host RT"))
    for b, r in res["backends"].items():
        if "us_per_audio_second" not in r:
            out.append("  %-6s DOES NOT RUN: %s" % (b, r.get("error", "?")))
            continue
        u = r["us_per_audio_second"]
        out.append("  %-6s %-22s %9d %9d %9d %9d %10d %10d %7.1f%%" % (
            b, r["route"], u["frontend"], u["model"], u["knn"], u["spotter"], r["us_per_audio_second_total"],
            r["us_per_audio_second_mean_total"], 100 * r["real_time_factor_host"]))
    out.append("  (%s; ulab's front end is viper: logmel has no ulab backend)" % ", ".join(
        "%s %.1f s of audio, %d windows" % (b, r["audio_seconds"], r["job"]["windows"])
        for b, r in res["backends"].items() if "job" in r))
    out.append("Heap (64-bit unix port, an upper bound for a 32-bit board):")
    for b, r in res["backends"].items():
        h = r["heap"]
        line = "  %-6s .mpy files at 96K: %s" % (b, "runs" if h["mpy_96k"] else "DOES NOT RUN")
        if h.get("mpy_min_kb"):
            line += " (smallest heap it runs in: %dK)" % h["mpy_min_kb"]
        line += "; ROMFS at 96K: %s" % ("runs" if h["romfs_96k"] else "DOES NOT RUN (%s)" % h.get("romfs_error", ""))
        if h.get("romfs_min_kb"):
            line += " (smallest: %dK)" % h["romfs_min_kb"]
        if "held" in h:
            line += "; timed run (%s) holds %d B after set-up, one window's 4 frames allocate %d B with the GC off, " \
                    "%d B free at the end; one gc.collect() %d us" % (r["route"], h["held"], h["window_alloc"], h["free"],
                                                                     h["gc_us"])
        out.append(line)
    out.append("ESTIMATE per board (counted work x bench.py CYCLES / the profile's clock; not measured on a board). "
               "%% of the CPU by stage; calibrated = measured host time in viper dense MACs (%s) x cycles per int MAC:"
               % ", ".join("%s %.4f us" % (b, r["job"]["mac_us"]) for b, r in res["backends"].items() if "job" in r))
    for b, r in res["backends"].items():
        if "boards" not in r:
            continue
        w = r["work"]
        for name, e in r["boards"].items():
            s = e["cpu_share"]
            out.append("  %-6s %-12s %3d MHz: front end %5.1f %%, model %6.1f %%, k-NN %5.2f %%, spotter %5.2f %%: "
                       "total %6.1f %% (%.1f Mcycles/s) -> real time: %s; calibrated %6.1f %% (%s)" % (
                           b, name, e["cpu_mhz"], 100 * s["frontend"], 100 * s["model"], 100 * s["knn"],
                           100 * s["spotter"], 100 * e["total_share"], e["total_cycles"] / 1e6,
                           "yes" if e["real_time"] else "NO", 100 * e.get("calibrated_total_share", float("nan")),
                           "real time" if e.get("calibrated_total_share", 1) < 1 else "NOT real time"))
            if "calibrated_share" in e:
                c = e["calibrated_share"]
                out.append("  %-6s %-12s          calibrated: front end %5.1f %%, model %6.1f %%, k-NN %5.2f %%, spotter "
                           "%5.2f %%" % ("", "", 100 * c["frontend"], 100 * c["model"], 100 * c["knn"], 100 * c["spotter"]))
        out.append("         (%d MACs a window, %.3g windows a second)" % (w["macs_per_window"], w["windows_per_second"]))
    out.append("  (calibrated assumes the host's cost ratios hold on the board: not for ulab on the RP2040, whose float "
               "maths is software; the run mean has the shared machine's spikes and the GC pauses, the by-stage "
               "medians mostly not)")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=15, help="seconds of audio listened to (viper, ulab)")
    ap.add_argument("--plain-seconds", type=int, default=3, help="seconds of audio for plain (slow)")
    ap.add_argument("--source", choices=("speech", "lcg"), default="speech")
    ap.add_argument("--no-min-heap", action="store_true", help="skip the search for the smallest heap")
    ap.add_argument("--no-ulab", action="store_true", help="skip the real ulab build even when present")
    ap.add_argument("--json", help="also write the numbers here")
    a = ap.parse_args(argv)
    res = run(a.seconds, a.plain_seconds, a.source, not a.no_min_heap, ulab=not a.no_ulab)
    print(report(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
