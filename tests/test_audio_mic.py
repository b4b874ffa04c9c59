"""The I2S microphone driver against a fake machine.I2S (tests/fake_i2s.py: 32-bit slots, the
sample in the top bits, DMA-style blocking readinto), and the WAV replay mic, in CPython and in
the real MicroPython at 96K (plain and viper conversion)."""
import array
import pathlib
import time
import wave

import numpy as np
import pytest

from host_tools.board import mpy
from fake_i2s import FakeI2S
from tinyenroll.audio import mic, wav

HERE = pathlib.Path(__file__).resolve().parent


def expected(samples, bits, shift):
    v = (np.asarray(samples, np.int64) << (32 - bits)) >> shift
    return np.clip(v, -32768, 32767)


@pytest.mark.parametrize("kind,bits", [("inmp441", 24), ("sph0645", 18)])
@pytest.mark.parametrize("shift", [16, 14, 8])
def test_i2s_mic_shift_and_saturation(kind, bits, shift):
    rng = np.random.default_rng(bits + shift)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    src = np.concatenate([[lo, hi, 0, -1, 1], rng.integers(lo, hi + 1, 3000)]).tolist()
    fake = FakeI2S(src, kind, loop=True)
    m = mic.I2SMic(i2s=fake, shift=shift, chunk=128, ring=512)
    buf = array.array("h", [0] * 1000)
    got = []
    for n in (1000, 1000, 1000):     # windows that straddle DMA chunks and ring wrap-arounds
        m.read_window(buf, n)
        got += list(buf[:n])
    frame = array.array("h", [0])
    got += [m.read_into(frame)[0] for _ in range(5)]
    assert got == expected(src, bits, shift)[:3005].tolist()
    assert fake.reads == -(-3005 // 128)    # whole DMA chunks, read only when the ring is empty
    m.close()
    assert fake.deinited


def test_i2s_mic_refuses_bad_settings():
    with pytest.raises(ValueError, match="power of 2"):
        mic.I2SMic(i2s=FakeI2S([]), ring=1000)
    with pytest.raises(ValueError, match="shift"):
        mic.I2SMic(i2s=FakeI2S([]), shift=20)


MIC_SCRIPT = """
import sys, array
sys.path.append(%r)
from fake_i2s import FakeI2S
from tinyenroll.audio import mic
src = array.array('i', [0] * %d)
open(%r, 'rb').readinto(src)
m = mic.I2SMic(i2s=FakeI2S(src, %r, loop=True), shift=%d, chunk=256, ring=1024)
print('plain' if mic._convert is mic._convert_plain else 'viper')
buf = array.array('h', [0] * 700)
out = []
for _ in range(len(src) // 700):
    m.read_window(buf, 700)
    print(' '.join(str(v) for v in buf))
"""


@pytest.mark.parametrize("kind,bits", [("inmp441", 24), ("sph0645", 18)])
def test_i2s_mic_in_micropython(tmp_path, kind, bits):
    rng = np.random.default_rng(7)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    src = np.concatenate([[lo, hi, 0, -1], rng.integers(lo, hi + 1, 2796)])
    src.astype("<i4").tofile(tmp_path / "src.bin")
    script = tmp_path / "m.py"
    script.write_text(MIC_SCRIPT % (str(HERE), len(src), str(tmp_path / "src.bin"), kind, 14))
    got = mpy.run(str(script), heap="96K")
    assert got.returncode == 0, got.stderr
    lines = got.stdout.splitlines()
    assert lines[0] == "viper"
    values = [int(v) for line in lines[1:] for v in line.split()]
    assert values == expected(src, bits, 14).tolist()


def write_wav(path, x, rate=16000, extra_chunk=True):
    x = np.asarray(x, "<i2")
    if not extra_chunk:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(x.tobytes())
        return
    # a LIST chunk (odd size, padded) before "data", as many editors write
    fmt = b"fmt " + (16).to_bytes(4, "little") + np.array([1, 1], "<u2").tobytes() + \
        np.array([rate, 2 * rate], "<u4").tobytes() + np.array([2, 16], "<u2").tobytes()
    lst = b"LIST" + (5).to_bytes(4, "little") + b"INFOx\x00"
    data = b"data" + len(x.tobytes()).to_bytes(4, "little") + x.tobytes()
    body = b"WAVE" + fmt + lst + data
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)


def test_wav_mic_reads_and_loops(tmp_path):
    x = np.random.default_rng(1).integers(-32768, 32768, 1000)
    for extra in (True, False):
        write_wav(tmp_path / "a.wav", x, extra_chunk=extra)
        m = wav.WavMic(str(tmp_path / "a.wav"), loop=True, speed=0)
        assert m.rate_hz == 16000 and m.count == 1000
        buf = array.array("h", [0] * 300)
        got = []
        for _ in range(5):
            got += list(m.read_window(buf, 300))
        frame = array.array("h", [0])
        got.append(m.read_into(frame)[0])
        assert got == np.concatenate([x, x])[:1501].tolist()
    m = wav.WavMic(str(tmp_path / "a.wav"), speed=0)
    m.read_window(array.array("h", [0] * 1000), 1000)
    with pytest.raises(EOFError):
        m.read_window(buf, 1)


def test_wav_mic_plays_at_real_rate(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(4000))
    m = wav.WavMic(str(tmp_path / "a.wav"))
    buf = array.array("h", [0] * 400)
    t = time.monotonic()
    for _ in range(10):
        m.read_window(buf, 400)
    assert 0.22 <= time.monotonic() - t < 0.6   # 4000 samples at 16 kHz: 0.25 s (first read free)


def test_wav_mic_refuses_other_formats(tmp_path):
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00" * 40)
    with pytest.raises(ValueError, match="mono"):
        wav.WavMic(str(tmp_path / "s.wav"))
    (tmp_path / "n.wav").write_bytes(b"RIFX" + b"\x00" * 40)
    with pytest.raises(ValueError, match="RIFF"):
        wav.WavMic(str(tmp_path / "n.wav"))


WAV_SCRIPT = """
import array, gc, time, hashlib, binascii
from tinyenroll.audio import wav
gc.collect()
free = gc.mem_free()
m = wav.WavMic(%r, speed=%d)
buf = array.array('h', [0] * 256)
h = hashlib.sha256()
t = time.ticks_ms()
for _ in range(m.count // 256):
    m.read_window(buf, 256)
    h.update(buf)
print(binascii.hexlify(h.digest()).decode(), time.ticks_diff(time.ticks_ms(), t), free - gc.mem_free())
"""


def test_wav_mic_in_micropython_streams_a_file_larger_than_the_heap(tmp_path):
    import hashlib
    x = np.random.default_rng(3).integers(-32768, 32768, 16000 * 8 // 256 * 256)  # 8 s = 256 KB
    write_wav(tmp_path / "big.wav", x)
    script = tmp_path / "w.py"
    script.write_text(WAV_SCRIPT % (str(tmp_path / "big.wav"), 0))
    got = mpy.run(str(script), heap="96K")
    assert got.returncode == 0, got.stderr
    digest, _, _ = got.stdout.split()
    assert digest == hashlib.sha256(np.asarray(x, "<i2").tobytes()).hexdigest()
    # real rate: 0.5 s of audio takes 0.5 s
    write_wav(tmp_path / "short.wav", x[:8192])
    script.write_text(WAV_SCRIPT % (str(tmp_path / "short.wav"), 1))
    got = mpy.run(str(script), heap="96K")
    assert got.returncode == 0, got.stderr
    ms = int(got.stdout.split()[1])
    assert 490 <= ms < 900
