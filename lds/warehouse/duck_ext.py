"""DuckDB extensions loaded offline from their PyPI wheels (``duckdb-extension-<name>``).

Each wheel ships ``duckdb_extension_<name>/extensions/v<duckdb version>/<name>.duckdb_extension`` and
nothing else (its ``__init__`` is empty), so the file is found next to the package. ``LOAD '<path>'``
with autoinstall/autoload off means nothing is ever downloaded at run time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

import duckdb

from lds.errors import Unavailable

# spatial: GEOMETRY and ST_*; sqlite_scanner: DuckLake's SQLite catalog; ducklake: the table format.
# postgres_scanner (DuckLake's PostgreSQL catalog, lds.warehouse.lake_catalog) is loaded only for a shared lake:
# its functions reach PostgreSQL servers whatever enable_external_access says. Its wheel is
# duckdb-extension-postgres-scanner: the -postgres wheel's file is named postgres.duckdb_extension, and DuckDB
# refuses it (it looks for the entry point postgres_duckdb_cpp_init).
EXTENSIONS = ("spatial", "sqlite_scanner", "ducklake")


def extension_path(name: str) -> Path:
    """The extension file of the installed ``duckdb-extension-<name>`` wheel built for this duckdb."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or spec.origin is None:
        raise Unavailable(f"the DuckDB extension {name!r} is not installed (pip install duckdb-extension-{name})")
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise Unavailable(
            f"the DuckDB extension {name!r} is not built for duckdb {duckdb.__version__} "
            f"(pip install 'duckdb-extension-{name}=={duckdb.__version__}')"
        )
    return path


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal (for paths in LOAD and ATTACH, which take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"LOAD {sql_string(str(extension_path(name)))}")


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    for name in EXTENSIONS:
        load_extension(con, name)


def confine(
    con: duckdb.DuckDBPyConnection, temp_dir: str, directories: Iterable[str], *settings: str, paths: Iterable[str] = ()
) -> None:
    """Shut ``con`` in: it spills to ``temp_dir``, reaches files only under ``directories`` (each ending in ``/``)
    and the files ``paths``, nothing else (no other file, no network), and no setting changes afterwards; the
    ``settings`` statements run just before that lock."""
    con.execute(f"SET temp_directory = {sql_string(temp_dir)}")
    con.execute(f"SET allowed_directories = [{', '.join(sql_string(d) for d in directories)}]")
    paths = list(paths)
    if paths:
        con.execute(f"SET allowed_paths = [{', '.join(sql_string(p) for p in paths)}]")
    for statement in settings:
        con.execute(statement)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
