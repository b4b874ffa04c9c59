"""kws-eval's scoring, stream builder and one stream end to end through the firmware spotter
(a stand-in model: each mel band's loudest frame; the trained keyword model is issue 15's)."""
import json

import numpy as np
import pytest

from host_tools.data import speech
from host_tools.evaluate import kws_eval
from host_tools.learn import quantize
from host_tools.oracle import logmel, modelfile
from host_tools.oracle.errors import DataError

HOP, NFFT = logmel.HOP, logmel.N_FFT


def test_score_counts_each_target_once_and_the_rest_as_false_accepts():
    spans = [(16000, 24000), (64000, 72000)]          # two targets, 0.5 s each
    f0 = (16000 - NFFT) // HOP + 1
    f1 = (64000 - NFFT) // HOP + 1
    end0 = (24000 - NFFT) // HOP + 1
    # a hit inside target 0, a second hit still inside it (false), one long after (false),
    # one inside target 1
    assert kws_eval.score([f0 + 5, f0 + 20, end0 + 64 + 1, f1 + 3], spans, 64) == (2, 2)
    assert kws_eval.score([], spans, 64) == (0, 0)
    assert kws_eval.score([end0 + 64], spans, 64) == (1, 0)    # the last frame the word is in the window


def _model(tmp_path, frames=64, mels=40):
    calib = np.random.default_rng(0).integers(-128, 128, (20, mels * frames))
    m = quantize.quantize_layers([("maxpool", frames)], calib, 1.0, in_channels=mels, l2norm=True, pct=100)
    path = str(tmp_path / "k.tem")
    modelfile.write(path, m)
    (tmp_path / "k.tem.json").write_text(json.dumps({"frames": frames, "mels": mels, "offset": -41}))
    return path


@pytest.mark.skipif(speech.available() is not None, reason="needs the [speech] extra (espeakng-loader)")
def test_one_stream_end_to_end(tmp_path):
    rng = np.random.default_rng(3)
    voice = "en-us+" + speech.voice_split()["validation"][0]
    takes, stream, spans = kws_eval.build_stream(voice, "lantern", ["yes", "no", "seven"], rng, n_words=6, n_targets=2)
    assert len(takes) == 3 and len(spans) == 2 and stream.dtype == np.int16
    assert all(0 < a < b <= stream.size for a, b in spans)
    path = _model(tmp_path)
    st = kws_eval.settings(path)
    assert (st["frames"], st["mels"], st["offset"]) == (64, 40, -41)
    res = kws_eval.run_stream(modelfile.read(path), st, takes, stream, spans, str(tmp_path / "store"))
    assert res is not None and len(res["takes"]) == 3, res
    assert 0 <= res["found"] <= 2 and res["false"] == len(res["hits"]) - res["found"]
    assert all(label == "word" for _, label, _ in res["hits"])


def test_refuses_a_split_other_than_validation_or_test(tmp_path):
    with pytest.raises(DataError, match="validation or test"):
        kws_eval.evaluate(_model(tmp_path), split="train")


def test_choose_takes_the_most_detections_within_the_false_accept_limit_ties_to_the_tighter():
    def row(rule, c, det, fa, relabel=False):
        return {"rule": rule, "confirm": c, "detected": det, "fa_per_hour": fa, "relabel": relabel}
    rows = [row("unknown_dist 1000", 1, 10, 0.0), row("unknown_dist 2000", 1, 30, 0.0), row("unknown_dist 2000", 2, 30, 0.0),
            row("unknown_dist 3000", 2, 30, 0.5), row("unknown_dist 4000", 1, 50, 5.6),
            row("unknown_dist 5000", 1, 60, 0.0, relabel=True), row("unknown_pct 150", 1, 59, 0.0)]
    best = kws_eval.choose(rows)
    assert (best["rule"], best["confirm"]) == ("unknown_dist 2000", 2)
    assert kws_eval.choose([row("unknown_dist 4000", 1, 50, 5.6)]) is None


def test_choose_refuses_the_test_voices(capsys):
    from host_tools import cli
    assert cli.main(["kws-eval", "--choose", "--final-test"]) == 2
    assert "never on the test voices" in capsys.readouterr().err
