"""Engine, pragmas, migrations and sessions for the local SQLite database.

WAL lets the window read while an import writes; ``synchronous=FULL`` makes a committed
page survive a power cut; foreign keys are off in SQLite unless asked for on each connection.
Write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout
instead of failing halfway through.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

DB_FILENAME = "letzdesk.sqlite3"
BUSY_TIMEOUT_MS = 30_000


class DatabaseError(RuntimeError):
    """The database cannot be opened or upgraded; the message says why in plain words."""


def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own handling defers it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """One SQLite file: the engine, migrations, and ways to get sessions and write connections."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(f"sqlite:///{self.path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool, but every transaction begins with BEGIN IMMEDIATE (see _on_begin).
        self._writer = self.engine.execution_options(immediate=True)

    @classmethod
    def open(cls, data_dir: Path, *, migrate: bool = True) -> Database:
        db = cls(Path(data_dir) / DB_FILENAME)
        if migrate:
            db.migrate()
        return db

    def close(self) -> None:
        self.engine.dispose()

    # -- sessions and connections -------------------------------------------------------

    def session(self) -> Session:
        """An ORM session for reads and small writes (use as a context manager)."""
        return self._sessions()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A Core connection inside one ``BEGIN IMMEDIATE`` transaction, committed on success."""
        with self._writer.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """An ORM session whose transaction takes the write lock up front; commits on success."""
        with self._writer.connect() as conn, Session(bind=conn, expire_on_commit=False) as session, session.begin():
            yield session

    # -- migrations ---------------------------------------------------------------------

    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(resources.files("letzdesk.store") / "migrations"))
        return config

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def migrate(self) -> None:
        """Bring the schema to the newest revision, backing up an existing database first."""
        try:
            current, head = self.current_revision(), self.head_revision()
            if current == head:
                return
            if current is not None:
                self.backup(self.path.parent / "backups" / f"before-{head}-{_stamp()}.sqlite3")
            config = self._alembic_config()
            # BEGIN IMMEDIATE: a second letzdesk starting at the same moment waits here, then
            # finds the schema current instead of creating the same tables twice.
            with self._writer.begin() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                if current == head:
                    return
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
            logger.info("Database %s migrated from %s to %s", self.path, current, head)
        except (sqlite3.DatabaseError, sqlalchemy.exc.DBAPIError) as exc:
            detail = getattr(exc, "orig", None) or exc
            logger.error("Cannot open database %s: %s", self.path, detail)
            raise DatabaseError(
                f"The database {self.path} cannot be opened ({detail}). It may be damaged or not a letzdesk "
                f"database: move it aside and start again, or restore a copy from {self.path.parent / 'backups'}."
            ) from exc

    def backup(self, target: Path) -> Path:
        """A consistent copy through SQLite's online backup API (safe while others read)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(self.path)
        try:
            dest = sqlite3.connect(target)
            with dest:
                source.backup(dest)
            dest.close()
        finally:
            source.close()
        logger.info("Backed up database to %s", target)
        return target


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
