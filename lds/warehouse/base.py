"""The one interface every warehouse driver implements, and the statement life cycle they share.

A :class:`Warehouse` is opened from a connection config; :meth:`Warehouse.query` returns a
:class:`Query` at once, before anything runs, so another thread (a job's cancel, the timeout timer) can
:meth:`Query.cancel` it whatever state it is in. Running it (``with query:``) executes the statement;
:meth:`Query.batches` then streams the rows in batches of at most ``batch_rows``, converted to JSON-ready
values, so a large result is never held whole: only the batch in hand is.

Limits: ``timeout_s`` covers execution and fetching; when it passes the statement is cancelled in the
warehouse and :class:`StatementTimeout` is raised. ``max_rows`` raises :class:`RowLimitExceeded` as soon as
one row more than allowed arrives (rows of earlier batches have been handed out by then: a caller that must
answer all-or-nothing buffers its serialised output until the iteration ends).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

from lds.errors import BadRequest, LdsError
from lds.warehouse import watchdog
from lds.warehouse.errors import QueryCancelled, RowLimitExceeded, StatementTimeout, WarehouseError
from lds.warehouse.values import Column, Converter, convert_rows

Params = Sequence[Any] | Mapping[str, Any] | None


def check_params(params: Any, *, named: bool) -> Params:
    """``params`` if it is a JSON array (positional ``$1, $2``) or, where the driver binds names, an object."""
    if params is None or isinstance(params, (list, tuple)):
        return params
    if isinstance(params, Mapping):
        if not named:
            raise BadRequest("queryParameters must be an array for this connection (positional $1, $2, ...)")
        bad = [k for k in params if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise BadRequest(f"queryParameters names must be identifiers: {bad[0]!r}")
        return params
    raise BadRequest("queryParameters must be an array (positional $1, $2) or an object (named $name)")


class Query(ABC):
    """One statement on one warehouse: run with ``with``, read :attr:`schema`, iterate :meth:`batches`."""

    def __init__(self, sql: str, params: Params, *, timeout_s: float | None, max_rows: int | None,
                 read_only: bool, batch_rows: int):
        if not isinstance(sql, str) or not sql.strip():
            raise BadRequest("the query is empty")
        self.sql = sql
        self.params = params
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self.read_only = read_only
        self.batch_rows = max(1, batch_rows)
        self.schema: list[Column] = []
        self.rowcount = 0
        self._converters: list[Converter | None] = []
        self._cur: Any = None  # the driver's cursor, once the statement runs
        self._stopped: str | None = None  # "cancel" | "timeout"
        self._lock = threading.Lock()
        self._running = False
        self._failed = False
        self._timer: watchdog._Deadline | None = None

    # --- life cycle ------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        if self._stopped:
            raise self._stop_error()
        if self.timeout_s:
            self._timer = watchdog.after(self.timeout_s, lambda: self._stop("timeout"))
        try:
            with self._lock:
                self._running = True
            self._execute()
        except BaseException as exc:  # noqa: BLE001 - release the connection whatever happened, then re-raise
            self._failed = True
            self._finish()
            raise self._translate(exc) from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is not None:
            self._failed = True
        self._finish()

    def batches(self) -> Iterator[list[tuple]]:
        """The rows, in batches, as tuples of JSON-ready values in :attr:`schema` order."""
        while True:
            if self._stopped:
                raise self._stop_error()
            try:
                rows = self._fetch(self.batch_rows)
            except BaseException as exc:  # noqa: BLE001 - translated (driver errors -> 4xx) and re-raised
                self._failed = True
                raise self._translate(exc) from None
            if not rows:
                return
            self.rowcount += len(rows)
            if self.max_rows is not None and self.rowcount > self.max_rows:
                self._failed = True
                raise RowLimitExceeded(
                    f"the result has more than {self.max_rows} rows, the most a query may return: add a LIMIT, "
                    "or run it as a job (POST /v3/sql/{connection}/job) that writes a table")
            yield convert_rows(rows, self._converters)

    def rows(self) -> Iterator[tuple]:
        for batch in self.batches():
            yield from batch

    def cancel(self) -> None:
        """Cancel the statement from any thread; its runner gets :class:`QueryCancelled`."""
        self._stop("cancel")

    def affected_rows(self) -> int | None:
        """Rows a statement without a result set wrote (PostgreSQL's INSERT, CREATE TABLE AS...), as the driver
        reports them; None when it returns rows (DuckDB answers such statements with a ``Count`` row)."""
        cur = self._cur
        if cur is None or cur.description is not None:
            return None
        count = getattr(cur, "rowcount", -1)
        return count if isinstance(count, int) and count >= 0 else None

    # --- shared machinery ---------------------------------------------------------------------------
    def _stop(self, reason: str) -> None:
        # Under the lock, so the statement cannot finish and hand its connection to another query
        # while the interrupt is on its way (_finish flips _running under the same lock before releasing).
        with self._lock:
            if self._stopped:
                return
            self._stopped = reason
            if self._running:
                try:
                    self._interrupt()
                except Exception:  # noqa: BLE001, S110 - the statement may just have ended: nothing to cancel
                    pass

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            running, self._running = self._running, False
        if running:
            self._close(ok=not self._failed and not self._stopped)

    def _check_stopped(self) -> None:
        """Drivers call this once their cursor exists, just before executing: a cancel or timeout that came
        earlier (before there was anything to interrupt) takes effect here."""
        if self._stopped:
            raise self._stop_error()

    def _stop_error(self) -> LdsError:
        if self._stopped == "timeout":
            return StatementTimeout(
                f"the statement ran longer than {self.timeout_s:g} s and was cancelled in the warehouse; "
                "run long work as a job (POST /v3/sql/{connection}/job)")
        return QueryCancelled("the statement was cancelled")

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, LdsError):
            return exc
        if self._stopped:
            return self._stop_error()
        if isinstance(exc, Exception):
            return self._driver_error(exc)
        return exc

    # --- what a driver supplies --------------------------------------------------------------------
    @abstractmethod
    def _execute(self) -> None:
        """Run the statement; set :attr:`schema` and :attr:`_converters`."""

    def _describe(self, columns: Iterable[tuple[str, str, str, Converter | None]]) -> None:
        """Set :attr:`schema` and the converters from (name, CARTO type, native type, converter) items."""
        self.schema, self._converters = [], []
        for name, carto, native, conv in columns:
            self.schema.append(Column(name, carto, native))
            self._converters.append(conv)

    def _fetch(self, n: int) -> list[tuple]:
        """Up to ``n`` more raw rows from the driver's DB-API cursor ``_cur``; an empty list at the end."""
        cur = self._cur
        if cur is None or cur.description is None:
            return []
        return cur.fetchmany(n)

    @abstractmethod
    def _interrupt(self) -> None:
        """Cancel the running statement in the warehouse (called from another thread)."""

    @abstractmethod
    def _close(self, ok: bool) -> None:
        """Release the cursor and connection; commit what the statement did if ``ok``, else roll back."""

    def _driver_error(self, exc: Exception) -> LdsError:
        return WarehouseError(str(exc).strip() or type(exc).__name__)


class Warehouse(ABC):
    """A data warehouse reachable through one connection config."""

    provider: str = ""

    @abstractmethod
    def test(self) -> None:
        """Connect and run a trivial statement; :class:`ConnectionFailed` with the driver's reason if not."""

    @abstractmethod
    def query(self, sql: str, params: Params = None, *, timeout_s: float | None = None,
              max_rows: int | None = None, read_only: bool = False) -> Query:
        """A statement ready to run (see :class:`Query`); values in ``params`` are always bound."""

    @abstractmethod
    def resources(self, path: str = "") -> list[dict[str, str]]:
        """Children of ``path`` ('' -> databases, 'db' -> schemas, 'db.schema' -> tables, 'db.schema.table'
        -> columns), each ``{"id", "name", "type"}`` with dotted ids, as CARTO's connections browse answers."""

    @abstractmethod
    def data_version(self) -> str:
        """A short token that changes whenever data in the warehouse changes (for ETags)."""

    def close(self) -> None:
        """Release pools and files."""


def split_path(path: str, depth: int = 3) -> list[str]:
    """A resources path ``db.schema.table`` as its parts (a table name may itself contain dots)."""
    path = (path or "").strip().strip("/")
    if not path:
        return []
    parts = path.split(".", depth - 1)
    if any(not p for p in parts):
        raise BadRequest(f"not a resource path: {path!r}")
    return parts
