"""host_tools' import direction: no module imports from a layer above its own."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "host_tools"
# what each subpackage may import from host_tools (besides itself)
ALLOWED = {
    "oracle": set(),
    "data": {"oracle"},
    "learn": {"data", "oracle"},
    "board": {"data", "oracle"},   # record and stream write recordings in data's format
    "evaluate": {"learn", "data", "oracle", "board"},
}


def _imports(path, pkg):
    """host_tools subpackages imported by one module (absolute and relative forms)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("host_tools."):
                found.add(node.module.split(".")[1])
            elif node.level == 1:
                found.add(pkg)
            elif node.level == 2:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("host_tools."):
                    found.add(a.name.split(".")[1])
    return found


def test_every_module_lives_in_a_known_layer():
    loose = [p.name for p in ROOT.glob("*.py") if p.name not in ("__init__.py", "cli.py")]
    assert loose == []
    assert {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} == set(ALLOWED)


def test_imports_point_down():
    bad = []
    for pkg, allowed in ALLOWED.items():
        for path in (ROOT / pkg).rglob("*.py"):
            if "ulab_standin" in path.parts:
                continue
            for dep in _imports(path, pkg) - {pkg}:
                if dep not in allowed:
                    bad.append("%s imports %s" % (path.relative_to(ROOT), dep))
    assert bad == []


def test_the_checker_sees_a_violation(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("from ..evaluate import fewshot\nfrom host_tools.learn import train\n")
    assert _imports(p, "oracle") == {"evaluate", "learn"}
