"""Real-time cost of the audio front end (firmware/audio/logmel.py) per second of audio.

    python -m host_tools.evaluate.bench_audio [--seconds 4] [--json out.json]

Measured in the real MicroPython VM (the unix port, cross-compiled firmware, heap 96K) for the
viper and plain backends: time to turn one second of 16 kHz audio into log-mel frames (62.5
frames of 512 samples at hop 256), and the heap the front end holds. Then an ESTIMATE for the
boards with the cost model of bench.py (CYCLES): the work is counted per frame as viper
"int MAC equivalents" and plain-Python loop iterations, and turned into cycles per second of
audio and a share of the CPU. The viper count is cross-checked with a calibration measured in
the same VM: the front end's time divided by the time of one viper dense MAC (kernels_viper),
i.e. how many dense MACs it costs; both are printed. The machine is shared: absolute host times
are noisy, the ratios less so.
"""
import argparse
import json
import os
import tempfile

from ..board import mpy, profiles
from .bench import CYCLES

SCRIPT = """
import array, gc, sys, time
from tinyenroll.audio import logmel
from tinyenroll import kernels_viper
seconds = int(sys.argv[1])
hop = 256
# pseudo-random speech-level audio (an LCG), one hop at a time: no second of audio in RAM
seed = 12345
buf = array.array('h', [0] * hop)
def fill(buf, seed):
    for i in range(hop):
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        buf[i] = (seed >> 16) - 16384
    return seed
out = {}
fe = None
for backend in ('viper', 'plain'):
    fe = None
    gc.collect()
    before = gc.mem_alloc()
    fe = logmel.LogMel(backend=backend)
    gc.collect()
    held = gc.mem_alloc() - before
    n = seconds * 16000 // hop if backend == 'viper' else 16000 // hop
    frames = 0
    spent = 0
    for _ in range(n):
        seed = fill(buf, seed)
        t = time.ticks_us()
        if fe.step(buf) is not None:
            frames += 1
        spent += time.ticks_diff(time.ticks_us(), t)
    out[backend] = (spent, n * hop, frames, held)
# calibration: one viper dense MAC (256 -> 64, 16384 MACs per call)
w = bytes(256 * 64)
bias = array.array('i', [1 << 24] * 64)
sh = bytes(64)
x = bytes(256)
y = bytearray(64)
t = time.ticks_us()
for _ in range(200):
    kernels_viper._dense(w, x, 0, bias, sh, y, 256, 64, -128)
mac_us = time.ticks_diff(time.ticks_us(), t) / (200 * 256 * 64)
for b, (spent, samples, frames, held) in out.items():
    print(b, spent, samples, frames, held)
print('mac_us', mac_us)
"""


def frame_counts(n_fft=512, hop=256, n_mels=40):
    """Work of one frame: viper int-MAC equivalents and plain loop iterations (see CYCLES).

    A butterfly (4 multiplies, 6 adds, 4 int16 loads and stores, 2 twiddle loads) is counted as
    6 MAC equivalents; a window or power/mel step as 2; pre-emphasis and a ring copy as 1;
    the log as 20 (its leading-bit loop). Plain: one loop iteration each (the butterfly's is
    a long one: counted as 3).
    """
    stages = n_fft.bit_length() - 1
    butterflies = n_fft // 2 * stages
    nbins = n_fft // 2 + 1
    viper = 6 * butterflies + 2 * n_fft + 2 * nbins + hop + n_fft + 20 * n_mels
    plain = 3 * butterflies + 2 * n_fft + nbins + hop + n_fft + 10 * n_mels
    return {"butterflies": butterflies, "viper_mac_equiv": viper, "plain_iterations": plain}


def run(seconds=4):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench_audio.py")
        with open(path, "w") as f:
            f.write(SCRIPT)
        got = mpy.run(path, heap="96K", args=[seconds], timeout=600)
    if got.returncode != 0:
        raise RuntimeError("bench_audio failed in micropython:\n" + got.stderr + got.stdout)
    res = {"measured": {}}
    for line in got.stdout.splitlines():
        parts = line.split()
        if parts[0] == "mac_us":
            res["viper_dense_mac_us"] = float(parts[1])
        else:
            spent, samples, frames, held = map(int, parts[1:])
            res["measured"][parts[0]] = {
                "us_per_audio_second": round(spent * 16000 / samples), "frames": frames,
                "us_per_frame": round(spent / max(frames, 1), 1), "heap_held_bytes": held,
                "real_time_fraction_host": round(spent / (samples / 16000 * 1e6), 4)}
    counts = frame_counts()
    fps = 16000 / 256
    m = res["measured"]
    calibrated = m["viper"]["us_per_audio_second"] / res["viper_dense_mac_us"]  # dense MACs per audio second
    res["counts_per_frame"] = counts
    res["viper_dense_mac_equiv_per_audio_second"] = {"counted": round(counts["viper_mac_equiv"] * fps),
                                                    "calibrated": round(calibrated)}
    res["boards"] = {}
    for name, cyc in CYCLES.items():
        mhz = profiles.load(name)["cpu_mhz"]
        est = {}
        for how, macs in res["viper_dense_mac_equiv_per_audio_second"].items():
            cycles = macs * cyc["int_mac"]
            est["viper_" + how] = {"Mcycles_per_audio_second": round(cycles / 1e6, 2),
                                   "cpu_share": round(cycles / (mhz * 1e6), 4)}
        cycles = counts["plain_iterations"] * fps * cyc["py"]
        est["plain_counted"] = {"Mcycles_per_audio_second": round(cycles / 1e6, 1), "cpu_share": round(cycles / (mhz * 1e6), 2)}
        res["boards"][name] = {"cpu_mhz": mhz, "cycles": cyc, "estimate": est}
    return res


def report(res):
    out = ["Audio front end: 16 kHz, 512-sample frames, hop 256 (62.5 frames/s), 40 mel bands; "
           "real MicroPython VM, heap 96K (host, shared machine)"]
    for b, m in res["measured"].items():
        out.append("  %-5s %8d us per second of audio (%.1f %% of real time on this host), %6.1f us/frame, "
                   "front end holds %d B of heap" % (b, m["us_per_audio_second"], 100 * m["real_time_fraction_host"],
                                                     m["us_per_frame"], m["heap_held_bytes"]))
    v, p = res["measured"]["viper"], res["measured"]["plain"]
    out.append("  plain / viper: %.1fx" % (p["us_per_audio_second"] / v["us_per_audio_second"]))
    e = res["viper_dense_mac_equiv_per_audio_second"]
    out.append("  viper work per second of audio in dense-MAC equivalents: counted %d, calibrated on this host %d "
               "(front-end time / one viper dense MAC %.4f us)" % (e["counted"], e["calibrated"], res["viper_dense_mac_us"]))
    out.append("ESTIMATE per board (bench.py CYCLES; not measured on a board):")
    for name, b in res["boards"].items():
        est = b["estimate"]
        out.append("  %-12s %d MHz: viper %.1f-%.1f Mcycles per audio second = %.1f-%.1f %% of the CPU; plain %.0f Mcycles "
                   "= %.0f %% (%s)" % (
                       name, b["cpu_mhz"], est["viper_counted"]["Mcycles_per_audio_second"],
                       est["viper_calibrated"]["Mcycles_per_audio_second"],
                       100 * est["viper_counted"]["cpu_share"], 100 * est["viper_calibrated"]["cpu_share"],
                       est["plain_counted"]["Mcycles_per_audio_second"], 100 * est["plain_counted"]["cpu_share"],
                       "real time" if est["plain_counted"]["cpu_share"] < 1 else "plain is NOT real time: use viper"))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=4, help="seconds of audio for the viper timing (plain: 1)")
    ap.add_argument("--json", help="also write the numbers here")
    a = ap.parse_args(argv)
    res = run(a.seconds)
    print(report(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
