"""The firmware's modules: no import cycle (lazy imports included), ints at the bottom, and
firmware/__init__.py lists every module."""
import ast
import pathlib

FW = pathlib.Path(__file__).resolve().parent.parent / "firmware"


def _package_imports(path):
    """Firmware modules one module imports (relative imports, anywhere in the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
    return found


def _modules():
    # manifest.py is the freezing recipe for a firmware build, not a module of the package
    return {p.stem: p for p in FW.glob("*.py") if p.stem not in ("__init__", "manifest")}


def test_no_import_cycles_and_ints_imports_only_errors():
    graph = {name: _package_imports(path) & set(_modules()) for name, path in _modules().items()}
    assert graph["errors"] == set()
    assert graph["ints"] == {"errors"}
    state = {}

    def visit(n, trail):
        if state.get(n) == "done":
            return
        assert state.get(n) != "open", "import cycle: " + " -> ".join(trail + [n])
        state[n] = "open"
        for m in sorted(graph[n]):
            visit(m, trail + [n])
        state[n] = "done"

    for n in sorted(graph):
        visit(n, [])


def test_init_lists_every_module():
    doc = ast.get_docstring(ast.parse((FW / "__init__.py").read_text()))
    listed = {line.split()[0].rstrip("/") for line in doc.splitlines() if line.startswith("  ")}
    packages = {p.name for p in FW.iterdir() if (p / "__init__.py").exists()}
    assert listed == set(_modules()) | packages
