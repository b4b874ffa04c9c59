"""The SYNTHETIC speech corpus generator (host_tools/data/speech.py): libespeak-ng from the
espeakng-loader wheel through ctypes, fixed voice and word splits, deterministic by seed."""
import numpy as np
import pytest

from host_tools.data import speech

pytestmark = pytest.mark.skipif(speech.available() is not None, reason=str(speech.available()))


def test_splits_are_fixed_and_disjoint():
    split = speech.voice_split()
    assert [len(split[s]) for s in speech.SPLITS] == [73, 15, 15]
    assert not set(split["train"]) & set(split["validation"])
    assert not set(split["train"]) & set(split["test"])
    assert not set(split["validation"]) & set(split["test"])
    assert speech.voice_split() == split
    assert not set(speech.BASE) & set(speech.NOVEL)
    assert speech.split_words("train") == speech.BASE     # novel words never reach training
    assert all(v in split["train"] for v in {t[2] for t in speech.plan("train", 3)})
    assert {t[0] for t in speech.plan("test", 1)} == set(speech.WORDS)


def test_synthesis_through_ctypes():
    x = speech.synth("seven", "en-us+m3")
    assert x.dtype == np.int16 and 0.2 < x.size / speech.ESPEAK_RATE < 1.5
    assert np.abs(x).max() > 3000
    assert speech.espeak_version().startswith("1.52")
    with pytest.raises(ValueError, match="no voice"):
        speech.synth("seven", "xx-nonexistent")


def test_generate_is_deterministic_and_labelled_synthetic(tmp_path):
    kw = dict(per_word=2, seed=3, words=["seven", "lantern"])
    a = speech.generate("validation", **kw)
    b = speech.generate("validation", **kw)
    assert speech.digest(a) == speech.digest(b)
    assert speech.digest(speech.generate("validation", per_word=2, seed=4, words=["seven", "lantern"])) != speech.digest(a)
    assert a["meta"]["synthetic"] is True and "SYNTHETIC" in a["meta"]["what"]
    assert a["meta"]["novel_words"] == ["lantern"] and a["meta"]["base_words"] == ["seven"]
    assert a["audio"].dtype == np.int16 and len(a["offsets"]) == 5
    for i in range(4):
        u = speech.utterance(a, i)
        assert 0.4 < u.size / speech.RATE < 2.5          # the word plus 150 ms either side
        assert np.abs(u).max() <= 32767 * 10 ** (-3 / 20) * 1.5
    assert all(v in speech.voice_split()["validation"] for v in a["variant"])
    speech.write_wav(tmp_path / "u.wav", speech.utterance(a, 0))
    from tinyenroll.audio import wav
    m = wav.WavMic(str(tmp_path / "u.wav"), speed=0)
    assert m.rate_hz == 16000 and m.count == speech.utterance(a, 0).size


def test_augmentation_is_seeded_and_bounded():
    x = np.sin(np.arange(8000) * 0.1)
    y1, p1 = speech.augment(x, np.random.default_rng(1))
    y2, p2 = speech.augment(x, np.random.default_rng(1))
    assert np.array_equal(y1, y2) and p1 == p2
    for kind in ("white", "pink", "brown"):
        n = speech.colored_noise(np.random.default_rng(0), 4096, kind)
        assert abs(np.sqrt(np.mean(n ** 2)) - 1) < 1e-6
