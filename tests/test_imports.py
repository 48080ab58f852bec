"""The serving path imports nothing of the build (osmium, lds.build, the hierarchy builder and its scipy.sparse),
and no module of lds imports itself back through others (the geocoding index/search/format cycle is gone)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

LDS = Path(__file__).resolve().parents[1] / "lds"

# A fresh interpreter where importing the build side fails, as it would where it is not installed.
BLOCKED = '''
import sys
BLOCKED = ("osmium", "lds.build", "lds.graph.prepare", "lds.geocoding.build", "lds.geocoding.osmread")

class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is build-only and blocked in this test")

sys.meta_path.insert(0, Block())
'''

SERVING = ["lds.app", "lds.wsgi", "lds.core", "lds.routing", "lds.graph.router", "lds.graph.snap", "lds.isolines",
           "lds.geocoding.index", "lds.geocoding.search", "lds.geocoding.reverse", "lds.api.hotpath", "lds.services",
           "lds.cli", "lds.jobs.worker"]


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED + code], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, **env})


def test_serving_modules_import_without_the_build_side(monaco_dir, tmp_path):
    # lds.wsgi builds the app on import: it needs a data dir (not found under graph_data/ on a fresh clone)
    done = _run(f"import importlib\nfor m in {SERVING!r}: importlib.import_module(m)\nprint('ok')",
                LDS_DATA_DIR=str(monaco_dir), LDS_STATE_DIR=str(tmp_path / "var"))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_preloaded_app_leaves_duckdb_and_pyarrow_to_the_workers(monaco_dir, tmp_path):
    # gunicorn's master builds the app (lds.wsgi), then forks: with DuckDB and pyarrow both imported before the
    # fork, workers aborted at exit ("terminate called without an active exception"); they load them themselves
    done = _run("import lds.wsgi\nprint(sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'pyarrow'}))",
                LDS_DATA_DIR=str(monaco_dir), LDS_STATE_DIR=str(tmp_path / "var"))
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


def test_routing_and_isolines_need_no_scipy():
    done = _run("import lds.routing, lds.graph.router, lds.isolines\nprint(sorted(m for m in sys.modules if m.startswith('scipy')))")
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


def test_a_built_directory_answers_with_the_build_side_blocked(monaco_dir):
    done = _run(f'''
from lds.core import LDS
from lds.settings import Settings
lds = LDS(Settings.from_env(env={{}}, data_dir={str(monaco_dir)!r}, cache_enabled=False))
assert lds.route((7.4197, 43.7311), (7.4270, 43.7400))["distance"] > 0
assert lds.isolines((7.4197, 43.7311), [300], "time", "walk")[0]["geom"]["type"] == "MultiPolygon"
assert lds.geocode("Avenue de Monte-Carlo", limit=1) and lds.reverse(43.7384, 7.4246)
print("ok")
''')
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# --- import cycles ------------------------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = path.relative_to(LDS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _Imports(ast.NodeVisitor):
    """Every ``lds`` module a file imports, at the top or inside functions, except under ``if TYPE_CHECKING``."""

    def __init__(self, modules: set[str]):
        self.modules, self.found = modules, set()

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(a.name for a in node.names if a.name in self.modules)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.module or node.level:
            return
        subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in self.modules]
        self.found.update(subs)
        if len(subs) < len(node.names) and node.module in self.modules:
            self.found.add(node.module)


def _import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in LDS.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        visitor = _Imports(set(files))
        visitor.visit(ast.parse(path.read_text()))
        # a module's own packages are imported before it anyway: those edges are not cycles
        graph[name] = {m for m in visitor.found if m != name and not name.startswith(m + ".")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_module_imports_itself_back():
    graph = _import_graph()
    assert "lds.geocoding.search" not in graph["lds.geocoding.index"]
    assert "lds.geocoding.index" not in graph["lds.geocoding.format"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_cli_parser_leaves_prometheus_unimported():
    """`lds serve` must set PROMETHEUS_MULTIPROC_DIR before prometheus-client is imported, or the workers count
    in process memory and /metrics shows no request; building the CLI's parser (from the service declarations)
    comes first, so it must not import it."""
    code = "import sys, lds.cli; lds.cli.parser(); print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
