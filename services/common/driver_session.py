"""A session whose Core statements run on the driver connection, past SQLAlchemy's execution layer.

SQLAlchemy's per-statement execution machinery (execution context, cursor result, row processing set up
per call) costs more CPU than SQLite takes to run a short statement, and most of a hot RPC's server time
went there (docs/benchmarks.md). `DriverSession.execute` keeps SQLAlchemy for what it is good at — building
statements and compiling them once per dialect — and runs the compiled SQL itself:

- SQLite inline (services/common/sqlite_inline.py): on the stdlib `sqlite3` connection, on the loop;
- PostgreSQL: on the asyncpg connection through the adapter's own prepared-statement cache, inside the
  transaction the adapter opened (it is opened here when this is the connection's first statement).

It runs on the very connection and transaction (and savepoint) the session holds, so units of work,
savepoints, group commit and the isolation they rely on are unchanged. The bind and result type
processors are SQLAlchemy's own (UTC datetimes, JSON, booleans), and driver errors are raised as
SQLAlchemy's DBAPIError family (IntegrityError, OperationalError …), as `session.execute` raises them.

What it does not take — ORM-enabled statements (entities, ORM updates), execution options, executemany
with RETURNING, the threaded SQLite driver of reports — goes to SQLAlchemy's `execute` unchanged, after
the session flushed what it holds (autoflush, as SQLAlchemy would).
"""

from __future__ import annotations

import copy
import re
import sqlite3
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Result, ScalarResult
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, AsyncSessionTransaction
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from services.common.sqlite_inline import inline_sqlite

_STATUS_COUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+|MERGE) (\d+)")


class DriverResult(IteratorResult):
    """SQLAlchemy's Result API (first, one, scalar, scalars, mappings, all …) over the driver's rows,
    with the statement's rowcount."""

    def __init__(self, metadata: SimpleResultMetaData, rows: Sequence[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self.rowcount = rowcount


_NO_ROWS = SimpleResultMetaData([])
_REQUIRED: Any = object()


class _Plan:
    """One statement compiled for one dialect, with what running it needs."""

    __slots__ = ("compiled", "defaults", "direct", "expands", "metadata", "processors", "returns_rows", "sql")

    def __init__(self, compiled: SQLCompiler, defaults: dict[str, Any]) -> None:
        self.compiled, self.defaults = compiled, defaults  # defaults: the columns' scalar defaults
        self.sql: str = compiled.string
        self.expands = bool(compiled.post_compile_params or compiled.literal_execute_params)
        columns = compiled._result_columns
        self.returns_rows = bool(columns)
        self.processors: list[Any] | None = None  # made on the first rows: some depend on the column's type oid
        self.metadata = SimpleResultMetaData([column[0] for column in columns]) if columns else _NO_ROWS
        # Without expansion or escaped names each position is one named value: read it straight from the
        # caller's parameters (or the statement's own value), as construct_params would, without building
        # the full parameter dictionary per call.
        self.direct: list[tuple[str, Any, Any, str | None]] | None = None
        if not self.expands and not compiled.escaped_bind_names:
            self.direct = self._direct()

    def _direct(
        self, extracted: Sequence[Any] | None = None, expanded: Any = None
    ) -> list[tuple[str, Any, Any, str | None]] | None:
        """Per position: the name, its bind processor, the value when the caller gives none (the statement's
        own; with `extracted`, one statement object's literal values as construct_params resolves them), and
        the bind's key when it differs from the name (construct_params looks a value up by key, then name).
        None where construct_params does more than this (callable values, collected parameters)."""
        compiled = self.compiled
        if getattr(compiled, "_collect_params", False):
            return None
        resolved: dict[Any, Any] = {}
        if extracted is not None:
            if compiled.cache_key is None or compiled._cache_key_bind_match is None:
                return None
            matches, _ = compiled._cache_key_bind_match
            resolved = {
                bind: value for b, value in zip(compiled.cache_key[1], extracted, strict=True) for bind in matches[b]
            }
        by_name: dict[str, tuple[Any, str | None]] = {}
        for bind, name in compiled.bind_names.items():
            if bind.callable is not None:
                return None
            fixed = _REQUIRED if bind.required else resolved.get(bind, bind).value
            by_name[name] = (self.defaults.get(name, fixed), bind.key if bind.key != name else None)
        direct = []
        for name in (expanded.positiontup if expanded is not None else compiled.positiontup) or ():
            if name in by_name:
                fixed, key = by_name[name]
                direct.append((name, compiled._bind_processors.get(name), fixed, key))
            elif expanded is not None and name in expanded.parameters:  # one value of a literal IN list
                direct.append((name, expanded.processors.get(name), expanded.parameters[name], None))
            else:
                return None
        return direct

    def specialized(self, extracted: Sequence[Any]) -> _Plan | None:
        """This plan with one statement object's literal values built in, so its calls take the direct
        path (statements kept for reuse carry literal values, e.g. ``values(state="CLAIMED")``, the same
        on every call); None where the direct path does not apply."""
        compiled, expanded = self.compiled, None
        if compiled.escaped_bind_names:
            return None
        if self.expands:
            # IN lists and other expanding parameters whose values are this object's own literals expand the
            # same on every call: expanded once here instead of per call.
            if any(b.required for b in (*compiled.post_compile_params, *compiled.literal_execute_params)):
                return None
            values = compiled.construct_params({}, extracted_parameters=extracted, _check=False)
            expanded = compiled._process_parameters_for_postcompile(values)
        direct = self._direct(extracted, expanded)
        if direct is None:
            return None
        twin = copy.copy(self)
        twin.direct, twin.expands = direct, False
        if expanded is not None:
            twin.sql = expanded.statement
        return twin

    def arguments(self, params: Mapping[str, Any], extracted: Sequence[Any] | None) -> tuple[str, list[Any]]:
        """The SQL to send and its positional arguments, bind processors applied."""
        if extracted is None and self.direct is not None:
            out = []
            for name, processor, fixed, key in self.direct:
                value = params.get(name, fixed) if key is None or key not in params else params[key]
                if value is _REQUIRED:
                    raise sa_exc.InvalidRequestError(f"A value is required for bind parameter {name!r}")
                out.append(processor(value) if processor is not None else value)
            return self.sql, out
        return self._arguments(params, extracted)

    def _arguments(self, params: Mapping[str, Any], extracted: Sequence[Any] | None) -> tuple[str, list[Any]]:
        compiled = self.compiled
        if self.defaults:
            params = {**self.defaults, **params}
        values: Any = compiled.construct_params(dict(params), extracted_parameters=extracted)
        processors: Mapping[str, Any]
        if self.expands:
            expanded = compiled._process_parameters_for_postcompile(values)
            sql, names, processors, values = (
                expanded.statement,
                expanded.positiontup,
                {**compiled._bind_processors, **expanded.processors},
                expanded.parameters,
            )
        else:
            sql, names, processors = self.sql, compiled.positiontup, compiled._bind_processors
        out = []
        for name in names or ():
            value = values[name]
            processor: Any = processors.get(name)
            out.append(processor(value) if processor is not None else value)
        return sql, out

    def described(self, names: Sequence[str]) -> SimpleResultMetaData:
        """Metadata of a statement whose columns only the driver knows (text with RETURNING)."""
        if self.metadata is _NO_ROWS:
            self.metadata = SimpleResultMetaData(list(names))
        return self.metadata

    def rows(self, raw: Sequence[Sequence[Any]], coltypes: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        processors = self.processors
        if processors is None:
            dialect, columns = self.compiled.dialect, self.compiled._result_columns
            types = coltypes if coltypes is not None else [None] * len(columns)
            processors = self.processors = [
                column[3]._cached_result_processor(dialect, coltype)
                for column, coltype in zip(columns, types, strict=True)
            ]
        if not any(processors):
            return [tuple(row) for row in raw]
        return [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in raw]


_Found = tuple[_Plan | None, Sequence[Any] | None]  # a plan (None: SQLAlchemy runs it) and literal values


class _Plans:
    """Compiled plans by statement object (module-level statements: no cache key per call) and by
    SQLAlchemy's cache key (statements built per call, their literal values extracted per call)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.by_object: weakref.WeakKeyDictionary[ClauseElement, dict[tuple[str, ...], _Found]] = (
            weakref.WeakKeyDictionary()
        )
        self.by_key: dict[Any, _Plan | None] = {}

    def plan(self, statement: ClauseElement, keys: tuple[str, ...]) -> _Found:
        """The statement's plan for these parameter names and its own literal values (None: it has none).
        An INSERT or UPDATE takes its columns from the parameter names, so those are part of its plan."""
        try:
            by_keys = self.by_object[statement]
        except KeyError:
            by_keys = self.by_object[statement] = {}
        except TypeError:  # not weak-referenceable
            return None, None
        found = by_keys.get(keys)
        if found is None:
            found = self._find(statement, keys)
            if found[0] is not None and found[1] is not None:
                # This object's literal values are its own for good: built into a plan of its own.
                twin = found[0].specialized(found[1])
                found = (twin, None) if twin is not None else found
            by_keys[keys] = found
        return found

    def _find(self, statement: ClauseElement, keys: tuple[str, ...]) -> _Found:
        cache_key = statement._generate_cache_key()
        if cache_key is None:  # an element SQLAlchemy does not cache: leave it to SQLAlchemy
            return None, None
        plan = self.by_key.get((cache_key.key, keys), _MISSING)
        if plan is _MISSING:
            if len(self.by_key) >= MAX_PLANS:  # shapes built per call (multi-row VALUES) must not grow it forever
                self.by_key.clear()
            plan = self.by_key[(cache_key.key, keys)] = _compile(statement, self.dialect, cache_key, keys)
        # Statements of the same shape share a plan; each brings its own literal values.
        literal = any(b.value is not None or b.callable is not None for b in cache_key.bindparams)
        return plan, cache_key.bindparams if literal else None


_MISSING: Any = object()
MAX_PLANS = 2000


def _orm_columns_only(statement: Any) -> bool:
    """A SELECT of mapped columns and expressions, no entity and no loader options: the ORM would only
    compile it, and its rows are plain tuples, as a Core statement's are."""
    if not getattr(statement, "is_select", False) or statement._with_options:
        return False
    return not any(raw.is_selectable and "parententity" in raw._annotations for raw in statement._raw_columns)


def _compile(statement: ClauseElement, dialect: Dialect, cache_key: Any, keys: tuple[str, ...]) -> _Plan | None:
    if statement._propagate_attrs.get("compile_state_plugin") == "orm" and not _orm_columns_only(statement):
        return None  # entities and ORM-enabled DML need the ORM's execution
    compiled = statement.compile(dialect=dialect, cache_key=cache_key, column_keys=list(keys))
    if not isinstance(compiled, SQLCompiler) or not dialect.positional:
        return None
    defaults = {}
    prefetched = [(c, c.default) for c in getattr(compiled, "insert_prefetch", ())]
    prefetched += [(c, c.onupdate) for c in getattr(compiled, "update_prefetch", ())]
    for column, default in prefetched:
        if default is None or not default.is_scalar:
            return None  # a default computed per row (a callable, a sequence): SQLAlchemy's execution does it
        defaults[column.key] = default.arg
    return _Plan(compiled, defaults)


_plans: dict[int, _Plans] = {}


def plans_for(dialect: Dialect) -> _Plans:
    found = _plans.get(id(dialect))
    if found is None or found.dialect is not dialect:
        found = _plans[id(dialect)] = _Plans(dialect)
    return found


class _Held:
    """What one transaction's statements run on: the plans of its dialect and a runner for its driver."""

    __slots__ = ("connection", "plans", "run", "sqlite", "transaction")

    def __init__(self, transaction: Any, connection: AsyncConnection) -> None:
        self.transaction = transaction
        self.connection: AsyncConnection = DriverConnection(connection, self)
        self.sqlite: sqlite3.Connection | None = None
        dialect = connection.dialect
        self.plans = plans_for(dialect)
        adapted = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
        inline = inline_sqlite(adapted)
        self.run: Any = None  # None: SQLAlchemy's execute (e.g. SQLite's threaded driver for reports)
        if inline is not None:
            db = self.sqlite = inline

            async def run_inline(plan: _Plan, params: Any, extracted: Any, many: bool) -> DriverResult:
                return run_sqlite(db, plan, params, extracted, many)

            self.run = run_inline
        elif dialect.name == "postgresql" and hasattr(adapted, "_prepare"):

            async def run_pooled(plan: _Plan, params: Any, extracted: Any, many: bool) -> DriverResult:
                return await run_asyncpg(adapted, plan, params, extracted, many)

            self.run = run_pooled

    async def execute(self, statement: Any, params: Any) -> DriverResult | None:
        """Runs statement on the driver; None when SQLAlchemy must run it (see the module docstring)."""
        if self.run is None:
            return None
        many = isinstance(params, list)
        keys = tuple(sorted(params[0] if many and params else params or ())) if statement.is_dml else ()
        if many and statement.is_insert and not statement._returning:
            statement = _inline_twin(statement)
        plan, extracted = self.plans.plan(statement, keys)
        if plan is None or (many and (plan.returns_rows or plan.expands)):
            return None
        result: DriverResult = await self.run(plan, params, extracted, many)
        return result


_INLINE_TWINS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _inline_twin(insert: Any) -> Any:
    """The INSERT without the RETURNING of its generated key that PostgreSQL's dialect adds for one row:
    many rows are sent as one executemany, and nobody asked for their keys."""
    twin = _INLINE_TWINS.get(insert)
    if twin is None:
        twin = _INLINE_TWINS[insert] = insert.inline()
    return twin


def _root(transaction: Any) -> Any:
    while transaction is not None and transaction._parent is not None:
        transaction = transaction._parent
    return transaction


class DriverConnection(AsyncConnection):
    """The session transaction's AsyncConnection, whose `execute` runs Core statements on the driver."""

    def __init__(self, connection: AsyncConnection, held: _Held) -> None:
        super().__init__(connection.engine, connection.sync_connection)
        self._driver = held

    async def execute(  # type: ignore[override]
        self, statement: Any, parameters: Any = None, *, execution_options: Any = None
    ) -> Result[Any]:
        if not execution_options:
            found = await self._driver.execute(statement, parameters)
            if found is not None:
                return found
        return await super().execute(statement, parameters, execution_options=execution_options)


class _EagerSavepoint(AsyncSessionTransaction):
    async def __aenter__(self) -> AsyncSessionTransaction:
        entered = await super().__aenter__()
        await AsyncSession.connection(self.session)  # takes the connection: SQLAlchemy emits the SAVEPOINT
        return entered


class DriverSession(AsyncSession):
    """AsyncSession whose `execute` runs Core statements on the driver (see the module docstring)."""

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = None,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Result[Any]:
        if execution_options or bind_arguments or kw:
            return await super().execute(
                statement, params, execution_options=execution_options or {}, bind_arguments=bind_arguments, **kw
            )
        sync = self.sync_session
        if sync._new or sync._deleted or sync.identity_map._modified:
            await self.flush()  # autoflush, as SQLAlchemy's execute would
        held = await self._held()
        found = await held.execute(statement, params)
        return found if found is not None else await super().execute(statement, params)

    async def connection(self, **kw: Any) -> AsyncConnection:  # type: ignore[override]
        """The transaction's connection; its `execute` runs Core statements on the driver too (services
        that hand their units of work a connection rather than the session)."""
        if kw:
            return await super().connection(**kw)
        return (await self._held()).connection

    async def _held(self) -> _Held:
        """The driver connection of the session's transaction, looked up once per transaction (the first
        statement of a transaction also begins it, through SQLAlchemy)."""
        transaction = _root(self.sync_session._transaction)
        held: _Held | None = self.__dict__.get("_driver_held")
        if held is None or held.transaction is not transaction or transaction is None:
            connection = await super().connection()
            held = self.__dict__["_driver_held"] = _Held(_root(self.sync_session._transaction), connection)
        return held

    def begin_nested(self) -> AsyncSessionTransaction:
        """A SAVEPOINT, emitted at once: SQLAlchemy emits it when its nested transaction first takes the
        connection, which statements run on the driver never make it do."""
        return _EagerSavepoint(self, nested=True)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[None]:
        """One unit of work inside the session's transaction, rolled back alone when the block raises (a
        SAVEPOINT). On SQLite inline the savepoint is the driver's own, three statements that never leave
        the loop thread; what the block left for the ORM to write is flushed inside it."""
        held = await self._held()
        if held.sqlite is None:
            async with self.begin_nested():
                yield
                await self._flush_pending()
            return
        db = held.sqlite
        db.execute("SAVEPOINT unit")
        try:
            yield
            await self._flush_pending()
        except BaseException:
            db.execute("ROLLBACK TO unit")
            db.execute("RELEASE unit")
            raise
        db.execute("RELEASE unit")

    async def _flush_pending(self) -> None:
        sync = self.sync_session
        if sync._new or sync._deleted or sync.identity_map._modified:
            # In a savepoint of SQLAlchemy's own: a failed flush leaves the session usable for the next unit.
            async with self.begin_nested():
                await self.flush()

    async def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (await self.execute(statement, params, **kw)).scalar()

    async def scalars(self, statement: Any, params: Any = None, **kw: Any) -> ScalarResult[Any]:
        return (await self.execute(statement, params, **kw)).scalars()


def run_sqlite(
    db: sqlite3.Connection, plan: _Plan, params: Any, extracted: Sequence[Any] | None, many: bool
) -> DriverResult:
    sql = plan.sql
    try:
        if many:
            batch = [plan.arguments(each, extracted) for each in params]
            sql = batch[0][0] if batch else sql
            cursor = db.executemany(sql, [args for _, args in batch])
            return DriverResult(_NO_ROWS, (), cursor.rowcount)
        sql, args = plan.arguments(params or {}, extracted)
        cursor = db.execute(sql, args)
        if plan.returns_rows:
            rows = plan.rows(cursor.fetchall())
            return DriverResult(plan.metadata, rows, len(rows) if cursor.rowcount < 0 else cursor.rowcount)
        if cursor.description:  # text() with RETURNING: the driver knows the columns
            rows = [tuple(row) for row in cursor.fetchall()]
            metadata = plan.described([column[0] for column in cursor.description])
            return DriverResult(metadata, rows, len(rows) if cursor.rowcount < 0 else cursor.rowcount)
        return DriverResult(_NO_ROWS, (), cursor.rowcount)
    except sqlite3.Error as error:
        raise sa_exc.DBAPIError.instance(sql, params, error, sqlite3.Error, hide_parameters=True) from error


async def run_asyncpg(
    adapted: Any, plan: _Plan, params: Any, extracted: Sequence[Any] | None, many: bool, *, begin: bool = True
) -> DriverResult:
    """The adapter's own steps (its transaction, its prepared-statement cache), without the cursor; with
    begin=False a statement outside a transaction runs on its own (autocommit)."""
    sql = plan.sql
    async with adapted._execute_mutex:
        if begin and adapted._transaction is None:
            await adapted._start_transaction()
        try:
            if many:
                batch = [plan.arguments(each, extracted) for each in params]
                if not batch:
                    return DriverResult(_NO_ROWS, (), 0)
                sql = batch[0][0]
                prepared, _ = await adapted._prepare(sql, adapted._invalidate_schema_cache_asof)
                await prepared.executemany([args for _, args in batch])
                return DriverResult(_NO_ROWS, (), -1)
            sql, args = plan.arguments(params or {}, extracted)
            prepared, _ = await adapted._prepare(sql, adapted._invalidate_schema_cache_asof)
            raw = await prepared.fetch(*args)
            found = _STATUS_COUNT.match(prepared.get_statusmsg() or "")
            rowcount = int(found.group(1)) if found else -1
        except Exception as error:
            try:
                adapted._handle_exception(error)  # raises the adapter's translation of the driver's error
            except adapted.dbapi.Error as translated:
                raise sa_exc.DBAPIError.instance(
                    sql, params, translated, adapted.dbapi.Error, hide_parameters=True
                ) from error
            raise
    if plan.returns_rows:
        coltypes = [attribute.type.oid for attribute in prepared.get_attributes()]
        return DriverResult(plan.metadata, plan.rows(raw, coltypes), rowcount)
    attributes = prepared.get_attributes()
    if attributes:  # text() with RETURNING: the driver knows the columns
        return DriverResult(plan.described([a.name for a in attributes]), [tuple(r) for r in raw], rowcount)
    return DriverResult(_NO_ROWS, (), rowcount)
