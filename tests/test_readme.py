"""README's code blocks run as written. Every ```python block starts with a comment naming where
it runs: "# board, N KB heap" blocks run on the virtual board (the real micropython at that heap,
package and model installed by flash, driven by the real mpremote), each after the board blocks
before it (one session, as a maker types them); "# host" blocks run in CPython."""
import os
import re
import subprocess
import sys

from host_tools.board import flash
from host_tools.board.board_io import Board, BoardError
from host_tools.board.virtual_board import VirtualBoard

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
WIIMOTE = os.path.join(REPO, "host_tools", "models", "wiimote.tem")


def blocks():
    return re.findall(r"```python\n(.*?)```", open(README).read(), re.S)


def test_every_block_says_where_it_runs():
    found = blocks()
    assert found
    for b in found:
        first = b.splitlines()[0]
        assert re.match(r"# (board, \d+ KB heap|host)", first), first


def test_host_blocks_run_in_cpython(tmp_path):
    for b in blocks():
        if b.startswith("# host"):
            p = subprocess.run([sys.executable, "-c", b], capture_output=True, text=True, cwd=str(tmp_path),
                               timeout=600)
            assert p.returncode == 0, b + p.stderr


def test_board_blocks_run_on_the_virtual_board(tmp_path):
    """Each heap's board blocks in one REPL session (a soft reset, then the blocks in order, each
    sent whole as a maker would paste it), through the real mpremote transport."""
    board = [b for b in blocks() if b.startswith("# board")]
    heaps = sorted({int(re.match(r"# board, (\d+) KB heap", b).group(1)) for b in board})
    for heap in heaps:
        with VirtualBoard("virtual", str(tmp_path / ("flash%d" % heap)), heap="%dK" % heap) as vb:
            flash.flash(vb.device, "virtual", WIIMOTE, log=lambda *a: None)
            with Board(vb.device) as b:
                for blk in board:
                    if int(re.match(r"# board, (\d+) KB heap", blk).group(1)) > heap:
                        break  # blocks in order: one for a larger heap ends this heap's session
                    try:
                        b.exec(blk, "README block")
                    except BoardError as e:
                        raise AssertionError("README block failed at %d KB:\n%s\n%s" % (heap, blk, e))


def test_bench_fit_checks_what_readme_shows():
    """tinyenroll bench's "fits 96K" pipeline builds the learner and detector README shows."""
    text = open(README).read()
    bench = open(os.path.join(REPO, "firmware", "jobs", "bench.py")).read()
    detector = re.search(r"# board, 96 KB heap.*?(anomaly\.Detector\([^\n]*?\))", text, re.S).group(1)
    assert detector in bench, detector
    args = re.search(r"learner\.Learner\(m, \"/learned\", ([^\n]*?)\)", text).group(1)
    assert "learner.Learner(m, store_prefix, %s)" % args in bench, args
