"""A database through SQLAlchemy 2's asyncio API, as one plugin: ``App(plugins=[Database(url)])``.

``Database`` registers two providers and the error mapping:

- ``engine`` (app scope): the ``AsyncEngine``, made when the app starts from the URL
  (the environment variable ``env`` wins when it is set), disposed at shutdown;
- ``session`` (request scope; per connection on WebSocket and SSE routes): an
  ``AsyncSession`` inside a transaction, committed when the handler succeeds and
  rolled back when anything raised;
- database errors a client caused answered as problems: an integrity error is a
  ``409``, ``NoResultFound`` a ``404``, a serialization failure, deadlock, lost
  connection or a locked SQLite database a ``503`` with ``Retry-After``; any other
  database error a ``500`` that does not carry the driver's text (it is logged).

On SQLite each connection gets ``journal_mode=WAL``, ``foreign_keys=ON``,
``busy_timeout`` and ``synchronous=FULL`` (a committed transaction is on disk before
the commit returns), the pool holds one connection (SQLite has one writer at a time)
unless ``engine_options`` say otherwise, and the database's folder is created if it is
missing.

Needs the ``sqlalchemy`` extra: ``pip install 'bocadillo[sqlalchemy]'``.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    NoResultFound,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import (
    TimeoutError as PoolTimeout,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bocadillo.errors import ConfigurationError, HTTPError

if TYPE_CHECKING:
    from bocadillo.app import App
    from bocadillo.runtime.requests import Request

__all__ = ["Database", "begin_write", "database_error"]

logger = logging.getLogger("bocadillo")

# SQLSTATEs (and SQLite messages) that mean "try again": the request was fine.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
_RETRY_MESSAGES = ("database is locked", "database table is locked")

_BEGIN_OPTION = "bocadillo_sqlite_begin"


class Database:
    """A SQLAlchemy database for an app: a plugin adding the engine and session providers.

    ::

        db = Database("sqlite+aiosqlite:///data/todos.db", env="DATABASE_URL")
        app = App(plugins=[db])

        @app.post("/todos", status_code=201)
        async def create(todo: TodoIn, session: AsyncSession) -> Todo: ...

    ``url`` is used unless the environment variable ``env`` is set (``env=None``: never
    read the environment); either is read when the app starts, not when ``Database``
    is made. ``engine`` and ``session`` are the providers' names. ``engine_options``
    are passed to ``create_async_engine``; ``retry_after`` is the ``Retry-After`` (in
    seconds) of a ``503`` for a conflict worth retrying; ``busy_timeout`` is how long
    (in milliseconds) a SQLite connection waits for another's write lock.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        env: str | None = "DATABASE_URL",
        engine: str = "engine",
        session: str = "session",
        engine_options: Mapping[str, Any] | None = None,
        retry_after: int = 1,
        busy_timeout: int = 5000,
    ) -> None:
        if not engine.isidentifier() or not session.isidentifier() or engine == session:
            raise ConfigurationError(
                f"Database provider names must be two different identifiers, "
                f"got engine={engine!r}, session={session!r}"
            )
        self.default_url = url
        self.env = env
        self.engine_name = engine
        self.session_name = session
        self.engine_options = dict(engine_options or {})
        self.retry_after = retry_after
        self.busy_timeout = busy_timeout

    def url(self) -> URL:
        """The URL to connect to now: the environment variable ``env`` if set, else ``url``."""
        value = os.environ.get(self.env) if self.env else None
        return make_url(value or self.default_url)

    def create_engine(self) -> AsyncEngine:
        """Make the engine for ``url()``: on SQLite, create the file's folder and set the
        connection pragmas (WAL, foreign keys, busy timeout, ``synchronous=FULL``)."""
        url = self.url()
        options = dict(self.engine_options)
        sqlite = url.get_backend_name() == "sqlite"
        if sqlite and url.database not in (None, "", ":memory:"):
            # SQLite has one writer at a time: one connection per process queues the
            # transactions in the event loop instead of in SQLite's busy handler (which
            # sleeps and retries), for steadier latency. engine_options can say otherwise.
            options.setdefault("pool_size", 1)
            options.setdefault("max_overflow", 0)
        engine = create_async_engine(url, **options)
        if sqlite:
            _prepare_sqlite(engine, url, self.busy_timeout)
        return engine

    def sessionmaker(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        """The session factory the session provider uses (``expire_on_commit=False``: the
        objects a handler returns are still readable after the commit)."""
        return async_sessionmaker(engine, expire_on_commit=False)

    def __call__(self, app: App) -> None:
        """Add the providers and the error handler to ``app`` (the plugin)."""
        app.provider(scope="app", name=self.engine_name)(self._engine_provider())
        app.provider(
            name=self.session_name,
            raises={
                409: "The request conflicts with data already stored.",
                503: "The database is busy or unreachable; retry after Retry-After seconds.",
            },
        )(self._session_provider())
        app.exception_handler(SQLAlchemyError)(self._answer)

    # -- the providers ---------------------------------------------------------

    def _engine_provider(self) -> Callable[[], AsyncIterator[AsyncEngine]]:
        async def engine() -> AsyncIterator[AsyncEngine]:
            made = self.create_engine()
            try:
                yield made
            finally:
                await made.dispose()

        return engine

    def _session_provider(self) -> Callable[..., AsyncIterator[AsyncSession]]:
        factories: dict[AsyncEngine, async_sessionmaker[AsyncSession]] = {}

        async def session(**engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
            (bind,) = engine.values()
            factory = factories.get(bind)
            if factory is None:
                factories.clear()  # one engine at a time (an override may replace it)
                factory = factories[bind] = self.sessionmaker(bind)
            async with factory() as made, made.begin():
                # Committed when the handler succeeded, rolled back if anything raised.
                yield made

        # Its one parameter is named after the engine provider, so that it receives it.
        session.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(self.engine_name, inspect.Parameter.KEYWORD_ONLY)],
            return_annotation=AsyncIterator[AsyncSession],
        )
        session.__annotations__ = {
            self.engine_name: AsyncEngine,
            "return": AsyncIterator[AsyncSession],
        }
        return session

    # -- errors ------------------------------------------------------------------

    def _answer(self, request: Request, exc: SQLAlchemyError) -> Any:
        raise database_error(exc, retry_after=self.retry_after) from exc


def database_error(exc: SQLAlchemyError, *, retry_after: int = 1) -> HTTPError:
    """The ``HTTPError`` that answers ``exc``: ``409``, ``404``, ``503`` (with
    ``Retry-After``) for what a client caused or may retry, else a ``500`` without the
    driver's text (``exc`` is logged)."""
    if isinstance(exc, NoResultFound):
        return HTTPError(404, detail="No such row.")
    if isinstance(exc, IntegrityError):
        return HTTPError(409, detail="The request conflicts with data already stored.")
    if _worth_retrying(exc):
        return HTTPError(
            503,
            detail="The database is busy or unreachable; retry shortly.",
            headers={"Retry-After": str(retry_after)},
        )
    logger.error("Database error", exc_info=exc)
    return HTTPError(500, detail="The server could not handle this request; the error was logged.")


def _worth_retrying(exc: SQLAlchemyError) -> bool:
    if isinstance(exc, PoolTimeout):
        return True  # no connection left in the pool in time
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        if isinstance(exc, OperationalError):
            text = str(orig).lower()
            return any(message in text for message in _RETRY_MESSAGES) or _is_disconnect(exc)
    return False


def _is_disconnect(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(
        word in text for word in ("connection", "closed", "terminat", "server closed", "timeout")
    )


# -- SQLite ----------------------------------------------------------------------


def _prepare_sqlite(engine: AsyncEngine, url: URL, busy_timeout: int) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # The driver's own transaction handling is off: SQLAlchemy's "begin" below says BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
        # FULL: the WAL is synced at each commit, so a committed write survives the
        # process being killed and the machine losing power (NORMAL survives the former only).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A write takes the write lock when it begins (waiting up to busy_timeout), so a
        # transaction that reads then writes never fails half-way on another's write.
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


async def begin_write(session: AsyncSession | AsyncConnection) -> None:
    """Start the transaction of ``session`` (or of a connection) as a writer, before its
    first statement.

    On SQLite a transaction that reads and then writes fails with "database is
    locked" (a ``503``) if another connection wrote in between; after
    ``await begin_write(session)`` it holds the write lock from the start (``BEGIN
    IMMEDIATE``, waiting up to ``busy_timeout`` for it), so it cannot. Elsewhere it only
    begins the transaction. Call it first in a handler that reads then writes (later,
    SQLAlchemy warns that the connection is already established).
    """
    if isinstance(session, AsyncConnection):
        await session.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        if not session.in_transaction():
            await session.begin()
        return
    await session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
