"""The one bounded top-k (ints.topk_insert, kernels.class_topk) equals sorting, on every backend."""
import array
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from host_tools.board import mpy
from tinyenroll import ints, kernels


@st.composite
def topk_case(draw):
    ncls = draw(st.integers(1, 6))
    count = draw(st.integers(0, 60))
    return {"dist": draw(st.lists(st.integers(0, 1 << 24), min_size=count, max_size=count)),
            "lab": draw(st.lists(st.integers(0, ncls - 1), min_size=count, max_size=count)),
            "k": draw(st.integers(1, 8)), "ncls": ncls,
            "skip": draw(st.integers(-1, count))}


def expected(c):
    k = c["k"]
    return [sorted(d for i, (d, l) in enumerate(zip(c["dist"], c["lab"])) if l == cls and i != c["skip"])[:k]
            for cls in range(c["ncls"])]


def run_class_topk(c):
    k, ncls = c["k"], c["ncls"]
    top = array.array("i", [-1] * (k * ncls))
    fill = bytearray(b"\x07" * ncls)
    kernels.class_topk(array.array("i", c["dist"]), bytes(c["lab"]), len(c["dist"]), k, ncls, top, fill, c["skip"])
    return [list(top[cls * k:cls * k + fill[cls]]) for cls in range(ncls)]


@pytest.mark.parametrize("backend", ["plain"], indirect=True)
@settings(max_examples=300)
@given(topk_case())
def test_class_topk_is_sorting(backend, case):
    assert run_class_topk(case) == expected(case)


@settings(max_examples=50)
@given(topk_case())
def test_class_topk_on_ulab(ulab_standin, case):
    assert run_class_topk(case) == expected(case)


@settings(max_examples=300)
@given(st.lists(st.integers(-(1 << 24), 1 << 24), max_size=50), st.integers(1, 10))
def test_topk_insert_keeps_the_k_smallest(values, k):
    top = array.array("i", [0] * (k + 3))
    fill = 0
    for v in values:
        fill = ints.topk_insert(top, 3, fill, k, v)
    assert list(top[3:3 + fill]) == sorted(values)[:k]


MPY_TOPK = r"""
import sys, json, array
from tinyenroll import kernels
for line in open(sys.argv[1]):
    c = json.loads(line)
    res = []
    for name in ("viper", "plain"):
        kernels.select(name)
        k, ncls = c["k"], c["ncls"]
        top = array.array("i", [-1] * (k * ncls))
        fill = bytearray(b"\x07" * ncls)
        kernels.class_topk(array.array("i", c["dist"]), bytes(c["lab"]), len(c["dist"]), k, ncls, top, fill,
                           c["skip"])
        res.append([list(top[cls * k:cls * k + fill[cls]]) for cls in range(ncls)])
    print(json.dumps(res))
"""


def test_class_topk_in_micropython(tmp_path):
    rng = random.Random(3)
    cases = []
    for _ in range(40):
        ncls, count = rng.randint(1, 6), rng.randint(0, 60)
        cases.append({"dist": [rng.randint(0, 1 << 24) for _ in range(count)],
                      "lab": [rng.randrange(ncls) for _ in range(count)],
                      "k": rng.randint(1, 8), "ncls": ncls, "skip": rng.randint(-1, count)})
    cases.append({"dist": [5, 0, 3, 0, 9], "lab": [0, 0, 0, 0, 0], "k": 3, "ncls": 1, "skip": 1})
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    script = tmp_path / "topk_mpy.py"
    script.write_text(MPY_TOPK)
    p = mpy.run(str(script), args=[tmp_path / "cases.jsonl"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(cases)
    for c, line in zip(cases, lines):
        viper, plain = json.loads(line)
        assert viper == plain == expected(c), c
