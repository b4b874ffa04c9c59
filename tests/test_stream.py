"""Streaming frames: every dropped, duplicated or corrupted frame is found, none accepted."""
import array
import io

import numpy as np
from hypothesis import given, settings, strategies as st

from host_tools.board.stream import FrameReader
from tinyenroll import stream


def frames(n, samples=8, channels=3):
    out = []
    for seq in range(n):
        buf = array.array("h", [(seq * 31 + i * 7) % 2000 - 1000 for i in range(samples * channels)])
        f = io.BytesIO()
        stream.send_frame(f, seq, stream.WINDOW, bytes([channels, samples, 0]), buf)
        out.append((seq, f.getvalue(), np.array(buf, np.int16).reshape(samples, channels)))
    f = io.BytesIO()
    stream.send_frame(f, n, stream.END, n.to_bytes(4, "little"))
    return out, f.getvalue()


@settings(max_examples=300)
@given(st.data())
def test_damaged_streams_are_fully_accounted(data):
    n = data.draw(st.integers(1, 25))
    made, end = frames(n)
    wire = bytearray()
    intact = set()
    fates = data.draw(st.lists(st.sampled_from(["ok", "drop", "dup", "flip", "cut"]), min_size=n, max_size=n))
    for (seq, raw, _), fate in zip(made, fates):
        if fate == "drop":
            continue
        if fate == "flip":
            bad = bytearray(raw)
            bad[data.draw(st.integers(2, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
            wire += bad
            continue
        if fate == "cut":
            wire += raw[:data.draw(st.integers(1, len(raw) - 1))]
            continue
        wire += raw
        intact.add(seq)
        if fate == "dup":
            wire += raw
    wire += end
    r = FrameReader()
    chunk = data.draw(st.integers(1, 64))
    for i in range(0, len(wire), chunk):
        r.feed(bytes(wire[i:i + chunk]))
    r.finish()
    rep = r.report()
    got = {seq: w for seq, w in r.windows}
    # every accepted window is intact and in order; every other frame is reported missing
    assert set(got) <= intact
    for seq, w in got.items():
        assert np.array_equal(w, made[seq][2])
    assert [s for s, _ in r.windows] == sorted(got)
    assert set(rep["missing"]) == set(range(n)) - set(got)
    assert rep["duplicated"] >= sum(1 for f in fates if f == "dup") - (len(intact) - len(got))
    assert rep["complete"] == (set(got) == set(range(n)) and rep["corrupted"] == 0 and not rep["duplicated"])
    # a cut frame may swallow the start of the next one, never more than that
    lost = {seq for seq, fate in zip(range(n), fates) if fate in ("cut", "flip")}
    assert intact - set(got) <= {s + 1 for s in lost}


def test_clean_stream_is_complete():
    made, end = frames(5)
    r = FrameReader()
    r.feed(b"noise" + b"".join(raw for _, raw, _ in made) + end + b"\x04\x04>")
    rep = r.report()
    assert rep["complete"] and rep["received"] == 5 and rep["end_frame"]
    assert bytes(r.buf) == b"\x04\x04>"
