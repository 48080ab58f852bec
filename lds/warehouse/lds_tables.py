"""The LDS tables in ``carto_dw``: ``lds.addresses``, ``lds.streets``, ``lds.places``, ``lds.roads``, read-only.

``lds build`` writes them as GeoParquet and copies them into one DuckDB file (``lds.formats.TABLES_DB``); each
``carto_dw`` instance attaches that file ``READ_ONLY`` as the catalog ``lds`` before external access is turned
off. So ``lds.roads`` resolves to ``lds.main.roads`` from any process, every write or DDL on it fails in DuckDB
itself ("attached in read-only mode"), whatever the token, and no statement can reach the data directory's
files (a view over ``read_parquet`` would need the directory in ``allowed_directories``, which would let
``COPY ... TO`` overwrite them). ``DETACH`` is refused: it would drop the tables (or the lake) for every later
statement of the process. The Connections browser lists ``lds`` beside ``carto_dw`` as a database (schema
``main``). Grants name them as the SQL API's check reads ``lds.roads``: ``lds.roads``, ``carto_dw.lds.roads`` or
``carto_dw.lds.*`` (and ``lds.main.roads`` or ``lds.main.*`` for the three-part name).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb

from lds.formats import LDS_TABLES, TABLES_DB, TABLES_DIR
from lds.versions import served_path
from lds.warehouse.duck_ext import sql_string
from lds.warehouse.errors import WarehouseError

log = logging.getLogger(__name__)

NAME = "lds"  # catalog name of the attached file
_DETACH = re.compile(r"\bdetach\b", re.IGNORECASE)
_MISSING = re.compile(r"\blds\b", re.IGNORECASE)


def tables_file(data_dir: str | Path | None) -> Path | None:
    """The DuckDB file of the LDS tables in ``data_dir``, or None (no data dir, or built before the tables)."""
    if not data_dir:
        return None
    path = served_path(data_dir).resolve() / TABLES_DIR / TABLES_DB  # the version this process answers from
    if not path.is_file():
        log.warning(
            "%s has no LDS tables (%s): lds.%s are not available in carto_dw until it is rebuilt with `lds build`",
            data_dir,
            path.name,
            ", lds.".join(LDS_TABLES),
        )
        return None
    return path


def attach(con: duckdb.DuckDBPyConnection, path: Path | None) -> bool:
    """Attach the tables file read-only as ``lds`` (before external access is turned off); False if it cannot be."""
    if path is None:
        return False
    try:
        con.execute(f"ATTACH {sql_string(str(path))} AS {NAME} (READ_ONLY)")
        return True
    except duckdb.Error as exc:
        log.warning("the LDS tables in %s cannot be attached: %s", path, exc)
        return False


def identity(path: Path | None) -> str:
    """A token that changes when the tables file is replaced (a rebuilt data dir), for ``data_version``."""
    if path is None:
        return "0"
    st = path.stat()
    return f"{st.st_ino:x}.{st.st_mtime_ns:x}"


def check_statement(sql: str) -> None:
    """Refuse ``DETACH`` (of the lake or of the LDS tables): it would outlive the statement in this process."""
    if _DETACH.search(sql):
        try:
            kinds = {s.type for s in duckdb.extract_statements(sql)}
        except duckdb.Error:
            return  # not parsable: DuckDB answers with its own syntax error
        if duckdb.StatementType.DETACH in kinds:
            raise WarehouseError(
                "DETACH is not allowed on carto_dw: the lake and the read-only LDS tables (lds.*) "
                "stay attached to every statement"
            )


def explain(text: str, attached: bool) -> str:
    """DuckDB's message about a missing ``lds`` table or catalog, with why the LDS tables are absent."""
    if not attached and _MISSING.search(text) and ("does not exist" in text or "not found" in text):
        return (
            text + f" (the LDS tables lds.{', lds.'.join(LDS_TABLES)} are not available: the data directory "
            "has none, as when it was built by an lds before them; rebuild it with `lds build`)"
        )
    if attached and "read-only mode" in text and f'"{NAME}"' in text:
        return f"the LDS tables (lds.*) are read-only: {text}"
    if attached and f'schema "{NAME}" does not exist' in text:
        return (
            text + f" (the LDS tables are the read-only database {NAME}, not a schema of the lake: write "
            f"{NAME}.roads or {NAME}.main.roads)"
        )
    return text
