"""Engine, session factory, declarative base and the request's unit of work."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVarTuple

import structlog
from sqlalchemy import BigInteger, DateTime, Index, Integer, MetaData, Select, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from starlette.requests import Request

from taskflow.config import Settings
from taskflow.core import clock
from taskflow.core.errors import AppError, Conflict, ServiceUnavailable
from taskflow.core.metrics import DB_POOL_IN_USE

log = structlog.get_logger("taskflow.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Ts = TypeVarTuple("Ts")

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use taskflow.core.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


def trigram_index(table: str, column: str) -> Index:
    """A GIN trigram index, created on PostgreSQL only, for case-insensitive substring search
    (ILIKE '%...%'), which no B-tree index can serve."""
    return Index(
        f"ix_{table}_{column}_trgm",
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")


class RowLock(enum.Enum):
    """How a write locks a row it depends on until its transaction ends (PostgreSQL; SQLite
    serialises writers instead). Stronger locks first; each waits for the ones it conflicts
    with, so a writer that waited sees the row as the previous writer committed it."""

    # Deletes it or moves what refers to it: waits for every other lock.
    UPDATE = "update"
    # Changes it but not its key: rows referring to it may still be written meanwhile.
    NO_KEY_UPDATE = "no_key_update"
    # Depends on what it says (its members, for an assignee): no change to it meanwhile.
    SHARE = "share"
    # Only needs it to exist (a row that will refer to it): no delete meanwhile.
    KEY_SHARE = "key_share"


def locked(query: Select[*Ts], of: Any, lock: RowLock = RowLock.UPDATE) -> Select[*Ts]:
    """Lock the rows of `of` (SELECT ... FOR <lock> OF, on PostgreSQL), and refresh objects
    the session already holds, so they show what the previous writer committed."""
    return query.with_for_update(
        of=of,
        read=lock in (RowLock.SHARE, RowLock.KEY_SHARE),
        key_share=lock in (RowLock.NO_KEY_UPDATE, RowLock.KEY_SHARE),
    ).execution_options(populate_existing=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # SQLite's own lower() folds ASCII only; case-insensitive search must fold "Ü" too.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_COUNTED_AS_IN_USE = "taskflow.counted_in_use"


def _pool_checkout(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    if record.record_info is not None:
        record.record_info[_COUNTED_AS_IN_USE] = True
        DB_POOL_IN_USE.inc()


def _pool_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # A checkout that failed half-way is checked in without having been counted.
    if record.record_info is not None and record.record_info.pop(_COUNTED_AS_IN_USE, False):
        DB_POOL_IN_USE.dec()


def _refuse_closed_connection(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any
) -> None:
    """A pooled connection the server has closed (restart, failover, idle timeout) is not
    handed out: the pool replaces it, and every connection as old, with no round trip.

    asyncpg notices the close as soon as the server's FIN arrives, so unlike a ping this
    costs nothing on the hot path; a connection lost without a FIN fails its statement,
    which answers 503 and invalidates it.
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise InvalidatePoolError("the database closed this pooled connection")


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # No ping per checkout (with asyncpg it is three round trips: BEGIN, ";", ROLLBACK);
        # _refuse_closed_connection replaces connections the server has closed instead.
        pool_pre_ping=False,
        pool_recycle=1800,
        # Bounded waits: an unreachable or stuck database fails a request, never hangs it.
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_command_timeout_seconds,
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    # The taskflow_db_pool_connections_in_use gauge follows the pool's checkouts.
    event.listen(engine.sync_engine, "checkout", _pool_checkout)
    event.listen(engine.sync_engine, "checkin", _pool_checkin)
    return engine


# Each statement commits on its own: no BEGIN and COMMIT around it.
AUTOCOMMIT = "AUTOCOMMIT"


class Database:
    """The engine and the session factory the app shares; made in the lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # For requests that only read: each statement on its own, with no BEGIN and COMMIT
        # round trips around it. Same pool; the connection's mode is set at checkout.
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level=AUTOCOMMIT), expire_on_commit=False
        )

    async def dispose(self) -> None:
        await self.engine.dispose()


# The request's session carries the app's cache (if any), so services can mark what they change.
SESSION_CACHE_KEY = "taskflow.cache"

Hook = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "taskflow.after_commit"
_AFTER_ROLLBACK = "taskflow.after_rollback"


def after_commit(session: AsyncSession, hook: Hook) -> None:
    """Run `hook` once the request's transaction has committed (e.g. publish to Redis)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


def after_rollback(session: AsyncSession, hook: Hook) -> None:
    """Run `hook` if the request's transaction is rolled back instead."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(hook)


async def _run_hooks(session: AsyncSession, key: str) -> None:
    hooks: list[Hook] = session.info.pop(key, [])
    session.info.pop(_AFTER_ROLLBACK if key == _AFTER_COMMIT else _AFTER_COMMIT, None)
    for hook in hooks:
        try:
            await hook()
        except Exception:
            log.exception("transaction_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))


async def commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except BaseException:
        await rollback(session)
        raise
    await _run_hooks(session, _AFTER_COMMIT)


async def rollback(session: AsyncSession) -> None:
    await session.rollback()
    await _run_hooks(session, _AFTER_ROLLBACK)


_REQUEST_SESSION = "taskflow_session"
_READS = frozenset({"GET", "HEAD"})
_READS_ONLY = "taskflow.reads_only"
# Set by the route that will end the request's unit of work (core.deps.UnitOfWorkRoute).
UNIT_OF_WORK = "taskflow.unit_of_work"


async def request_session(request: Request) -> AsyncSession:
    """The request's session, made when a route or dependency first asks for it.

    The request's unit of work (`end_request_session`, run by core.deps.UnitOfWorkRoute)
    commits it once the route has answered, or rolls it back on error. A request that never
    asks, such as a read answered from the cache, has no session to open or commit.
    """
    state = request.scope.setdefault("state", {})
    session: AsyncSession | None = state.get(_REQUEST_SESSION)
    if session is None:
        if not request.scope.get(UNIT_OF_WORK):
            # Nothing would commit or close it: a router without route_class=UnitOfWorkRoute.
            raise RuntimeError(f"{request.url.path}: a session outside a unit of work")
        database: Database = request.app.state.database
        # GET and HEAD only read (the routes keep it so): no transaction to open or commit.
        reads_only = request.method in _READS
        maker = database.read_sessionmaker if reads_only else database.sessionmaker
        session = state[_REQUEST_SESSION] = maker()
        session.info[_READS_ONLY] = reads_only
        cache = getattr(request.app.state, "cache", None)
        if cache is not None:
            session.info[SESSION_CACHE_KEY] = cache
    return session


_STATEMENT_BY_STATEMENT = "taskflow.statement_by_statement"


async def statement_connection(session: AsyncSession) -> AsyncConnection:
    """The connection for work whose one write is a single statement (a task created or
    changed): each statement commits on its own, with no BEGIN and COMMIT round trips.

    It needs no transaction because nothing it reads before writing must stay true until the
    write: a read made in a transaction without locks could change just the same, and the
    write statement guards what it must itself (the version a change was based on). If the
    request's session already holds a transaction (an Idempotency-Key recorded in the
    database), the work joins it, so that both commit together.
    """
    if session.in_transaction():
        return await session.connection()
    session.info[_STATEMENT_BY_STATEMENT] = True
    return await session.connection(execution_options={"isolation_level": AUTOCOMMIT})


def writes_in_one_statement(session: AsyncSession) -> bool:
    """Whether what a write causes (its activity event) can ride in the write's own
    statement: PostgreSQL's data-modifying CTEs. Then it does, inside a transaction or not,
    so a change made under a lock holds it one round trip less. Working statement by
    statement (statement_connection) needs it."""
    return session.get_bind().dialect.name == "postgresql"


async def lock_rows(session: AsyncSession, query: Any, parameters: dict[str, Any]) -> Any:
    """Run a query that locks the rows it reads (see `locked`) and return its result. SQLite
    has no row locks: the transaction takes the database's write lock first (BEGIN
    IMMEDIATE), so what it then reads stays as it is until it commits."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        driver = (await connection.get_raw_connection()).driver_connection
        if driver is not None and not driver.in_transaction:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
    return await session.execute(query, parameters)


async def begin_transaction(session: AsyncSession) -> None:
    """Run the session's next statements in a transaction, which the request's unit of work
    commits: one working statement by statement (statement_connection) ends that first (what
    its statements wrote has committed already)."""
    if session.info.pop(_STATEMENT_BY_STATEMENT, False):
        await session.commit()
    await session.connection()


async def end_request_session(request: Request, error: BaseException | None) -> None:
    """Commit the request's session, or roll it back when the request failed with `error`,
    then close it. Raises what the client should see instead, if anything
    (DatabaseUnavailable when the database is the reason).

    An AppError marked `keeps_changes` (a counted failed login, a revoked token family)
    is an outcome, not a failure: what was written before it is committed.
    """
    session: AsyncSession | None = request.scope.get("state", {}).pop(_REQUEST_SESSION, None)
    if session is None:
        return
    if not (session.in_transaction() or session.new or session.dirty or session.deleted):
        return  # asked for but never used: it holds no connection and has nothing to commit
    async with session:
        # A read's statements have each committed on their own: there is nothing to end.
        if not session.info[_READS_ONLY]:
            if error is None or (isinstance(error, AppError) and error.keeps_changes):
                await _commit_or_unavailable(session)
                return
            await _rollback_quietly(session)
        if isinstance(error, Exception) and is_database_unavailable(error):
            raise DatabaseUnavailable() from error
        if isinstance(error, Exception) and is_write_conflict(error):
            raise WriteConflict() from error


class WriteConflict(Conflict):
    detail = "Another request changed the same data at the same moment; nothing was changed"


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back,
# and the same request sent again can succeed.
_WRITE_CONFLICT_STATES = frozenset({"40P01", "40001"})


def is_write_conflict(error: BaseException) -> bool:
    """A write refused because of another one at the same moment, not because it is wrong."""
    return isinstance(error, DBAPIError) and (
        getattr(error.orig, "sqlstate", None) in _WRITE_CONFLICT_STATES
    )


class DatabaseUnavailable(ServiceUnavailable):
    detail = "The database is not available right now; try again shortly"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "5"})


def is_database_unavailable(error: BaseException) -> bool:
    """Errors that mean "cannot reach or use the database now", not "this request is wrong"."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # asyncpg raises plain OSErrors (refused, reset, timed out) when it cannot connect.
    return isinstance(error, OSError)


async def _rollback_quietly(session: AsyncSession) -> None:
    try:
        await rollback(session)
    except Exception as error:  # the connection may be what failed
        log.warning("rollback_failed", error=type(error).__name__)


async def _commit_or_unavailable(session: AsyncSession) -> None:
    try:
        await commit(session)  # rolls back when it fails
    except Exception as error:
        if is_database_unavailable(error):
            raise DatabaseUnavailable() from error
        if is_write_conflict(error):
            raise WriteConflict() from error
        raise
