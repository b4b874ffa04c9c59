"""The keyword recipe (host_tools/learn/kws.py) and `tinyenroll fewshot --dataset speech`
(host_tools/evaluate/speech_eval.py) on a tiny SYNTHETIC corpus synthesised here: training can
only see train voices and base words; the int8 model the firmware runs equals the reference;
the evaluation prints every row."""
import inspect

import numpy as np
import pytest

from host_tools.data import speech
from host_tools.learn import kws
from host_tools.oracle import modelfile, reference
from host_tools.oracle.errors import DataError

pytestmark = pytest.mark.skipif(speech.available() is not None, reason=str(speech.available()))

TRAIN_WORDS = speech.BASE[:4]
VAL_WORDS = speech.BASE[:2] + speech.NOVEL[:10]   # 10-way episodes need 10 novel words


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny corpus in a private cache: train 4 base words x 3, validation 12 words x 6."""
    made = {"train": speech.generate("train", per_word=3, words=TRAIN_WORDS),
            "validation": speech.generate("validation", per_word=6, words=VAL_WORDS)}
    return made, tmp_path_factory.mktemp("cache")


@pytest.fixture
def corpus(tiny, monkeypatch):
    made, cache = tiny
    monkeypatch.setenv("TINYENROLL_CACHE", str(cache))

    def load(split, per_word=None, seed=0, progress=True):
        if split not in made:
            raise AssertionError("the %s split was read" % split)   # test voices are never touched
        return made[split]
    monkeypatch.setattr(speech, "load", load)
    return made


def test_training_data_is_train_voices_and_base_words_only(corpus, monkeypatch, tmp_path):
    assert "split" not in inspect.signature(kws.train_windows).parameters   # no way to ask for another
    X, y = kws.train_windows(progress=None)
    assert X.shape == (12, kws.MELS, kws.FRAMES + 2 * kws.SLACK) and X.dtype == np.int8
    assert sorted(set(speech.BASE[i] for i in y)) == sorted(TRAIN_WORDS)
    with pytest.raises(DataError, match="validation or test"):
        kws.eval_windows("train", progress=None)
    # a corpus file that held a validation voice or a novel word is refused, not trained on
    val_voice = speech.voice_split()["validation"][0]
    bad = dict(corpus["train"], variant=np.array([val_voice] * 12))
    monkeypatch.setattr(speech, "load", lambda split, *a, **k: bad)
    monkeypatch.setenv("TINYENROLL_CACHE", str(tmp_path / "a"))
    with pytest.raises(DataError, match="not a train voice"):
        kws.train_windows(progress=None)
    novel = dict(corpus["train"], meta=dict(corpus["train"]["meta"], words=[speech.NOVEL[0]] + TRAIN_WORDS[1:]))
    monkeypatch.setattr(speech, "load", lambda split, *a, **k: novel)
    monkeypatch.setenv("TINYENROLL_CACHE", str(tmp_path / "b"))
    with pytest.raises(DataError, match="not a base word"):
        kws.train_windows(progress=None)


def test_window_is_the_board_front_end_centred_on_the_word(corpus):
    from host_tools.oracle import logmel
    x = speech.utterance(corpus["train"], 0)
    w = kws.utterance_window(x, frames=32, slack=0)
    assert w.shape == (kws.MELS, 32) and w.dtype == np.int8
    # every column is a frame of the board's front end over the (padded) recording
    pad = (32 // 2 + 2) * logmel.HOP
    a = np.concatenate([kws._background(x, pad)[::-1], x, kws._background(x, pad)])
    frames = logmel.logmel(a, offset=kws.OFFSET)
    hits = [int(np.flatnonzero((frames == w[:, t]).all(1))[0]) for t in range(32)]
    assert hits == list(range(hits[0], hits[0] + 32))
    loud = frames.astype(float).mean(1).argmax()
    assert hits[0] <= loud < hits[0] + 32          # the word is in the window


@pytest.fixture(scope="module")
def smoke_model(tiny, tmp_path_factory):
    pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")
    made, cache = tiny
    mp = pytest.MonkeyPatch()
    mp.setenv("TINYENROLL_CACHE", str(cache))
    mp.setattr(speech, "load", lambda split, *a, **k: made[split])
    path = str(tmp_path_factory.mktemp("model") / "kws.tem")
    kws.run(path, smoke=True, log=lambda *_: None)
    yield path, mp
    mp.undo()


def test_int8_model_on_the_firmware_equals_the_reference(smoke_model, corpus):
    path, _ = smoke_model
    m = modelfile.read(path)
    assert [layer["type"] for layer in m["layers"]] == ["conv1d", "relu", "conv1d", "relu", "maxpool", "dense",
                                                        "l2norm"]
    assert m["in_dim"] == kws.MELS * kws.FRAMES
    X, _, _ = kws.eval_windows("validation", progress=None)
    from host_tools.evaluate import speech_eval
    E = speech_eval.firmware_embeddings(path, X[:4])          # raises if any differs
    assert np.array_equal(E, reference.forward_batch(m, X[:4]))
    F = kws.float_forward(path, X[:4])
    cos = (E * F).sum(1) / np.linalg.norm(E, axis=1)
    assert np.median(cos) > 0.9


def test_fewshot_speech_smoke_prints_every_row(smoke_model, corpus, capsys):
    from host_tools import cli
    path, _ = smoke_model
    assert cli.main(["fewshot", "--dataset", "speech", "--model", path, "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC speech" in out and "validation" in out and "TEST" not in out
    for row in ("raw log-mel Euclid 1-NN", "raw log-mel DTW 1-NN", "mean-removed Euclid 1-NN",
                "mean-removed DTW 1-NN", "float embedding 1-NN",
                "int8 on the firmware, 1-NN"):
        assert row in out
    for col in ("1-shot", "3-shot", "5-shot"):
        assert col in out


def test_fewshot_speech_refusals(tmp_path, capsys):
    from host_tools import cli
    assert cli.main(["fewshot", "--dataset", "speech", "--model", str(tmp_path / "none.tem")]) == 2
    err = capsys.readouterr().err
    assert "no model at" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["fewshot", "--dataset", "speech", "--per-word", "1"]) == 2


def test_episodes_are_fixed_and_never_share_support_and_query():
    from host_tools.evaluate import speech_eval
    y = np.repeat(np.arange(20), 8)
    a = speech_eval.episodes(y, 3, n=5, seed=1)
    assert all(np.array_equal(s1, s2) and np.array_equal(q1, q2)
               for (s1, q1), (s2, q2) in zip(a, speech_eval.episodes(y, 3, n=5, seed=1)))
    for sup, q in a:
        assert len(sup) == 30 and not set(sup) & set(q) and len(set(y[sup])) == 10
        assert set(y[q]) == set(y[sup]) and len(q) == 50
    with pytest.raises(DataError, match="10-way"):
        speech_eval.episodes(np.repeat(np.arange(5), 8), 3)


def test_shipped_model_size_and_cost_as_readme_states():
    import json
    from host_tools.evaluate import motion_eval, speech_eval
    m = modelfile.read(speech_eval.DEFAULT_MODEL)
    assert m["in_dim"] == kws.MELS * kws.FRAMES
    assert sum(int(layer["w"].size) for layer in m["layers"] if "w" in layer) == 21760
    assert motion_eval.macs(m) == 267264
    side = json.load(open(speech_eval.DEFAULT_MODEL + ".json"))
    assert side["synthetic"] is True and side["frontend"]["offset"] == kws.OFFSET
    assert side["train"] == kws.RECIPE and side["arch"] == kws.ARCH   # the shipped file is this recipe's
    assert (side["unknown_dist"], side["confirm"]) == (kws.RULE["unknown_dist"], kws.RULE["confirm"])
    from host_tools.evaluate import kws_eval
    st = kws_eval.settings(speech_eval.DEFAULT_MODEL)                 # what kws-eval and the demo run
    assert (st["unknown_dist"], st["confirm"]) == (kws.RULE["unknown_dist"], kws.RULE["confirm"])


def test_negatives_are_drawn_from_the_training_windows_only(corpus):
    X, y, voice = kws.train_windows(slack=24, progress=None, voices=True)
    assert X.shape == (12, kws.MELS, kws.FRAMES + 48) and len(voice) == len(y) == 12
    assert all(0 <= v < len(speech.voice_split()["train"]) for v in voice)
    N, at = kws.negatives(np.random.default_rng(0), X, voice, 60, off=(22, 44), straddle=16)
    assert N.shape == (60, kws.MELS, kws.FRAMES + 48) and N.dtype == np.int8 and at.shape == (60,)
    off = np.abs(at)
    assert np.all((off == 0) | (off <= 16) | ((off >= 22) & (off <= 44)))
    views = kws.Augment(np.random.default_rng(1), **kws.RECIPE)(N, at)
    assert views.shape == (60, kws.MELS, kws.FRAMES)


@pytest.mark.parametrize("variant", [dict(neg=0), dict(negclass=1)])   # without negatives; all one class
def test_smoke_training_of_the_variants_tried(corpus, tmp_path, variant):
    pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")
    path = str(tmp_path / "v.tem")
    kws.run(path, smoke=True, log=lambda *_: None, recipe=dict(kws.RECIPE, **variant))
    m = modelfile.read(path)
    assert m["in_dim"] == kws.MELS * kws.FRAMES
