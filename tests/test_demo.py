"""The demo's anomaly part end to end on the virtual board (the full demo is `make demo`)."""
import json

from host_tools.evaluate import demo


def test_demo_anomaly_part(tmp_path):
    lines = []
    s = demo.demo(out_dir=str(tmp_path), speed=32, log=lines.append, parts=("anomaly",))
    a = s["anomaly"]
    assert s["ok"] and a["scores_equal"] == a["windows"] > 60
    assert a["caught"] == a["episodes"] == 4
    assert a["false_alarms"] < a["normal_windows"] // 5
    assert (tmp_path / "anomaly_scores.png").stat().st_size > 10000
    assert json.loads((tmp_path / "summary.json").read_text())["ok"]
    assert any("board and reference agree exactly" in line for line in lines)


def test_demo_gesture_part(tmp_path):
    s = demo.demo(out_dir=str(tmp_path), speed=64, log=lambda *_: None, parts=("gestures",))
    g = s["gestures"]
    assert s["ok"] and g["embeddings_equal"] == g["windows"] == 40 and g["decisions_equal"] == 25
    assert g["accuracy"] > 0.5  # 5 gestures the model never saw, 3 shots each
    assert (tmp_path / "gesture_confusion.png").stat().st_size > 10000


def test_demo_anomaly_part_over_a_serial_link_that_is_not_a_pty(tmp_path):
    """Issue 13: over a USB board (here socket://, which mpremote does not treat as a pty) the
    anomaly job is silent for its whole learning phase (~14 s at x3), longer than mpremote's
    default 10 s; the demo gives that call its own timeout."""
    lines = []
    s = demo.demo(out_dir=str(tmp_path), speed=3, log=lines.append, parts=("anomaly",), link="socket")
    assert s["port"].startswith("socket://") and s["ok"]
    assert s["anomaly"]["scores_equal"] == s["anomaly"]["windows"] > 60
