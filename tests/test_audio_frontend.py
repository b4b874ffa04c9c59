"""The streaming integer log-mel front end (firmware/audio/logmel.py) equals its numpy int64 twin
(host_tools/oracle/logmel.py) bit for bit: plain Python in CPython, plain and viper in the real
MicroPython at 96K. The twin asserts the range proof (nothing reaches 2**31) on every value."""
import array
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from host_tools.oracle import logmel as ref
from tinyenroll.audio import logmel

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = pathlib.Path(__file__).resolve().parent / "mpy_logmel_worker.py"


def board(x, n_fft=512, hop=256, n_mels=40, mel=None, backend="plain"):
    fe = logmel.LogMel(n_fft, hop, n_mels, mel, backend)
    out = []
    x = np.asarray(x)
    for h in range(len(x) // hop):
        o = fe.step(array.array("h", x[h * hop:(h + 1) * hop].tolist()))
        if o is not None:
            out.append(np.frombuffer(bytes(o), np.int8).copy())
    return np.array(out, np.int8).reshape(-1, n_mels)


@st.composite
def streams(draw, max_hops=10):
    """A config (frame, hop, bands) and an int16 stream: noise, tones, square waves, clicks,
    silence and full-scale extremes, mixed and clipped."""
    n_fft = draw(st.sampled_from([16, 64, 128, 512, 512]))
    hop = n_fft // draw(st.sampled_from([1, 2, 4]))
    n_mels = draw(st.sampled_from([8, 20, 40])) if n_fft == 512 else draw(st.integers(2, 8))
    n = hop * draw(st.integers(0, max_hops)) + draw(st.integers(0, hop - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    kind = draw(st.sampled_from(["noise", "tone", "square", "click", "extreme", "mix"]))
    amp = draw(st.sampled_from([0, 1, 3, 100, 3000, 32767, 40000]))
    t = np.arange(n)
    if kind == "noise":
        x = rng.integers(-amp, amp + 1, n)
    elif kind == "tone":
        x = amp * np.sin(2 * np.pi * rng.uniform(0, 0.5) * t + rng.uniform(0, 6))
    elif kind == "square":
        x = amp * np.where((t // int(rng.integers(1, 300))) % 2 == 0, 1, -1)
    elif kind == "click":
        x = np.zeros(n)
        if n:
            x[rng.integers(0, n, 5)] = amp * rng.choice([-1, 1], 5)
    elif kind == "extreme":
        x = rng.choice([-32768, 32767], n)
    else:
        x = rng.integers(-amp, amp + 1, n) + amp * np.sin(0.05 * t) * (t > n // 2)
    x = np.clip(np.round(x), -32768, 32767).astype(np.int64)
    mel = None if n_fft == 512 and n_mels == 40 else ref.mel_table(n_fft, n_mels=n_mels)
    return x, n_fft, hop, n_mels, mel


def test_tables_file_is_generated():
    assert (ROOT / "firmware" / "audio" / "tables.py").read_text() == ref.firmware_tables_source()


def test_default_mel_bands_all_have_weight():
    w = ref.band_weights(ref.mel_table(), 40)
    assert (w > 0).sum(axis=1).min() >= 3


@settings(max_examples=150)
@given(streams())
def test_plain_matches_twin(case):
    x, n_fft, hop, n_mels, mel = case
    want = ref.logmel(x, n_fft, hop, mel, n_mels, check=True)
    assert want.shape[0] == ref.n_frames(len(x), n_fft, hop)
    assert np.array_equal(board(x, n_fft, hop, n_mels, mel), want)


def worst_cases():
    """Inputs that push each bound: full-scale square waves at many periods (the largest
    windowed values and FFT magnitudes), a full-scale tone at a band centre, alternating
    extremes, steps and single clicks."""
    t = np.arange(4096)
    out = [np.where((t // p) % 2 == 0, 32767, -32768) for p in (1, 2, 3, 5, 8, 16, 64, 256)]
    out += [np.round(32767 * np.sin(2 * np.pi * f * t / 16000)).astype(np.int64) for f in (100, 1000, 3990, 7000)]
    step = np.full(4096, -32768)
    step[2000:] = 32767
    click = np.zeros(4096, np.int64)
    click[1500] = -32768
    return out + [step, click]


def test_worst_cases_stay_in_bounds_and_match():
    for x in worst_cases():
        want, d = ref.logmel(x, check=True, details=True)
        assert np.array_equal(board(x), want)
    # a full-scale 3 kHz tone lands near the top of int8, unclipped
    tone = ref.logmel(np.round(32767 * np.sin(2 * np.pi * 3000 * np.arange(4096) / 16000)).astype(int))
    assert 100 <= tone.max() < 127
    # the offset moves the int8 window along the level scale, the same on both sides
    x = worst_cases()[9]
    fe = logmel.LogMel(offset=-30)
    got = [fe.step(array.array("h", x[h * 256:(h + 1) * 256].tolist())) for h in range(16)]
    got = np.array([np.frombuffer(bytes(o), np.int8) for o in got if o is not None])
    assert np.array_equal(got, ref.logmel(x, offset=-30))


def test_frame_schedule_and_errors():
    fe = logmel.LogMel()
    hop = array.array("h", [0] * 256)
    assert fe.step(hop) is None and fe.step(hop) is not None  # first frame after 512 samples
    assert bytes(fe.step(hop)) == bytes([128] * 40)             # silence: every band -128
    with pytest.raises(ValueError, match="step takes 256 samples"):
        fe.step(array.array("h", [0] * 100))
    with pytest.raises(ValueError, match="power of 2"):
        logmel.LogMel(300, 100)
    with pytest.raises(ValueError, match="hop must divide"):
        logmel.LogMel(512, 300)
    with pytest.raises(ValueError, match="give the mel table"):
        logmel.LogMel(256, 128)
    with pytest.raises(ValueError, match="mel table has"):
        logmel.LogMel(512, 256, mel=b"\x00" * 10)


def _mpy_cases(tmp_path, cases, backends=("plain", "viper")):
    lines, want = [], []
    for i, (x, n_fft, hop, n_mels, mel) in enumerate(cases):
        path = tmp_path / ("x%d.bin" % i)
        np.asarray(x, "<i2").tofile(path)
        expect = ref.logmel(x, n_fft, hop, mel, n_mels)
        for b in backends:
            lines.append("%d %d %d %s %s %s\n" % (n_fft, hop, n_mels, mel.hex() if mel else "-", b, path))
            want.append(expect)
    (tmp_path / "cases.txt").write_text("".join(lines))
    got = mpy.run(str(WORKER), heap="96K", args=[tmp_path / "cases.txt"])
    assert got.returncode == 0, got.stderr
    blocks = got.stdout.split("end\n")[:-1]
    assert len(blocks) == len(want)
    for block, w, line in zip(blocks, want, lines):
        frames = np.array([np.frombuffer(bytes.fromhex(h), np.int8) for h in block.split()], np.int8)
        assert np.array_equal(frames.reshape(w.shape), w), line


def test_micropython_worst_cases(tmp_path):
    _mpy_cases(tmp_path, [(x, 512, 256, 40, None) for x in worst_cases()])


@settings(max_examples=5)
@given(st.lists(streams(max_hops=6), min_size=4, max_size=4))
def test_micropython_matches_twin(tmp_path_factory, cases):
    _mpy_cases(tmp_path_factory.mktemp("logmel"), cases)
