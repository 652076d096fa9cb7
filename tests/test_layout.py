"""The folders show the architecture: the engine's packages import only downward, never the
app (streamlit, the dashboard, the pages, the benchmarks), and no module imports itself back
through others."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "aecore"
# Lowest first: a package may import its own modules and those of the packages before it.
LAYERS = ["core", "data", "models", "training", "analysis", "figures", "runs", "services",
          "export", "cli_quality", "cli", "__main__"]
APP = ("streamlit", "dashboard", "views", "benchmarks")


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module this file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


MODULES = {module_name(p): imports(p) for p in ENGINE.rglob("*.py")}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else -1  # aecore itself: the bottom


def test_every_module_sits_in_a_layer():
    assert all(m == "aecore" or m.split(".")[1] in LAYERS for m in MODULES), sorted(MODULES)


def test_the_engine_imports_only_downward_and_never_the_app():
    wrong = []
    for module, names in MODULES.items():
        for name in names:
            if name.split(".")[0] in APP:
                wrong.append(f"{module} imports {name}")
            elif name in MODULES and layer(name) > layer(module):
                wrong.append(f"{module} imports {name}, a layer above it")
    assert not wrong, wrong


def test_no_import_circle():
    graph = {m: {n for n in names if n in MODULES and n != m and not m.startswith(n + ".")}
             for m, names in MODULES.items()}
    # a package's __init__ is imported with each of its modules: not an edge back
    circles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            circles.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, path + [node])
        done.add(node)

    for start in sorted(graph):
        visit(start, [])
    assert not circles, circles
