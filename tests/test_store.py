"""The learned-state store: a power cut at any byte leaves the old or the new state."""
import pytest

from fakefs import FakeFS, PowerCut, install
from tinyenroll import errors, store

A = {b"ROWS": b"\x01" * 40, b"LABL": b"old"}
B = {b"ROWS": b"\x02" * 64, b"LABL": b"new\nlabels", b"ANOM": b"x" * 9}
C = {b"LABL": b"third"}


def test_power_cut_at_every_byte_and_step(monkeypatch):
    base = FakeFS()
    install(monkeypatch, base)
    s = store.Store("/st", 0x1234, 32)
    s.commit({b"LABL": b"older"})
    s.commit(A)
    image = len(store.encode(4, 0x1234, 32, B))
    steps = image + 3  # the bytes of tmp, then remove prev, rename cur, rename tmp
    seen = set()
    for budget in range(steps + 1):
        fs = base.copy()
        install(monkeypatch, fs)
        s = store.Store("/st", 0x1234, 32)
        assert s.load().as_dict() == A
        fs.budget = budget
        try:
            s.commit(B)
        except PowerCut:
            pass
        fs.budget = None
        after = store.Store("/st", 0x1234, 32)
        got = after.load().as_dict()
        assert got in (A, B), budget
        seen.add(b"ROWS" in got and got[b"ROWS"][0])
        # the store keeps working after the cut, and one rollback gives an earlier state
        after.commit(C)
        again = store.Store("/st", 0x1234, 32)
        assert again.load().as_dict() == C
        assert again.previous().as_dict() == got
    assert seen == {1, 2}


def test_corrupt_newest_falls_back_and_reports(monkeypatch):
    fs = FakeFS()
    install(monkeypatch, fs)
    s = store.Store("/st", 7, 8)
    s.commit(A)
    s.commit(B)
    fs.files["/st.cur"][20] ^= 0x40
    s2 = store.Store("/st", 7, 8)
    assert s2.load().as_dict() == A
    assert any("CRC mismatch" in p for p in s2.problems)
    # and the good generation is what a restart sees too
    assert store.Store("/st", 7, 8).load().as_dict() == A


def test_truncated_files_are_never_loaded(monkeypatch):
    fs = FakeFS()
    install(monkeypatch, fs)
    store.Store("/st", 7, 8).commit(A)
    full = bytes(fs.files["/st.cur"])
    for n in range(len(full)):
        fs.files["/st.cur"] = bytearray(full[:n])
        s = store.Store("/st", 7, 8)
        assert s.load().as_dict() == {}
        assert s.problems


def test_store_of_another_model_is_refused_not_discarded(monkeypatch):
    fs = FakeFS()
    install(monkeypatch, fs)
    store.Store("/st", 7, 8).commit(A)
    kept = bytes(fs.files["/st.cur"])
    with pytest.raises(errors.StoreError, match="another model"):
        store.Store("/st", 8, 8).load()
    with pytest.raises(errors.StoreError, match="embedding size 8, this model gives 16"):
        store.Store("/st", 7, 16).load()
    assert bytes(fs.files["/st.cur"]) == kept


def test_rollback_and_wipe(monkeypatch):
    fs = FakeFS()
    install(monkeypatch, fs)
    s = store.Store("/st", 1, 4)
    with pytest.raises(errors.StoreError, match="no previous generation"):
        s.previous()
    s.commit(A)
    assert s.previous().as_dict() == {}  # the first change rolls back to the factory state
    s.commit(B)
    s.commit(s.previous().as_dict())
    assert store.Store("/st", 1, 4).load().as_dict() == A
    s.commit(s.previous().as_dict())  # a rollback is itself undoable once
    assert store.Store("/st", 1, 4).load().as_dict() == B
    s.wipe({})
    with pytest.raises(errors.StoreError):
        s.previous()
    assert store.Store("/st", 1, 4).load().as_dict() == {}
