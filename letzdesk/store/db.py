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
            logger.error(
                "Cannot open database %s: %s (%s)", self.path, detail, getattr(detail, "sqlite_errorname", "?")
            )
            raise DatabaseError(f"The database {self.path} cannot be opened: {explain(detail, self.path)}") from exc

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


#: What SQLite's refusal means, by its error name (Python 3.11 gives it) or, failing that, its words.
_CAUSES = (
    ("full", ("SQLITE_FULL",), ("database or disk is full",)),
    ("io", ("SQLITE_IOERR",), ("disk i/o error",)),
    ("read-only", ("SQLITE_READONLY",), ("attempt to write a readonly database", "readonly database")),
    ("no access", ("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"), ("unable to open database file",)),
    ("busy", ("SQLITE_BUSY", "SQLITE_LOCKED"), ("database is locked", "database table is locked")),
    ("damaged", ("SQLITE_CORRUPT", "SQLITE_NOTADB"), ("file is not a database", "database disk image is malformed")),
)


def cause(error: BaseException) -> str | None:
    """Why SQLite refused, as one word: "full", "io", "read-only", "no access", "busy", "damaged"; or None."""
    error = getattr(error, "orig", None) or error
    name = getattr(error, "sqlite_errorname", None) or ""
    text = str(error).lower()
    for key, names, _words in _CAUSES:
        if any(name == n or name.startswith(n + "_") for n in names):
            return key
    for key, _names, words in _CAUSES:
        if any(w in text for w in words):
            return key
    return None


def explain(error: BaseException, path: Path) -> str:
    """A SQLite refusal in plain words, with what to do; only a damaged file is called damaged."""
    error = getattr(error, "orig", None) or error
    detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    folder = path.parent
    what = {
        "full": f"the disk is full ({detail}). Free some space on the disk that holds {folder} and try again.",
        "io": (
            f"the disk could not be read or written ({detail}). The disk may be full, or the drive with {folder} "
            "may have been removed or be failing. Check free space and the drive, then try again."
        ),
        "read-only": (
            f"letzdesk may not write to it ({detail}): the file or the folder {folder} is read-only. Make them "
            "writable for your user (or choose another --data-dir) and try again."
        ),
        "no access": (
            f"letzdesk has no access to it ({detail}). Check that {folder} exists, is a folder, and that your user "
            "may read and write it and the files in it, then try again."
        ),
        "busy": f"another program keeps it locked ({detail}). Close it, or wait a moment, and try again.",
        "damaged": (
            f"it may be damaged or not a letzdesk database ({detail}): move it aside and start again, or restore "
            f"a copy from {folder / 'backups'}."
        ),
    }.get(cause(error) or "", f"SQLite refused ({detail}). Try again; if it keeps failing, report it.")
    nothing_lost = "" if cause(error) == "damaged" else " Nothing saved before was lost."
    return what + nothing_lost


def describe_failure(exc: BaseException, database: Path | None = None) -> str:
    """One line for a refusal by the machine (a file, the disk, SQLite), without SQL or row values."""
    detail = getattr(exc, "orig", None) or exc
    if isinstance(detail, OSError) and detail.strerror:
        where = f" ({detail.filename})" if detail.filename else ""
        return f"the computer refused: {detail.strerror}{where}. Nothing committed was lost."
    if database is not None and cause(detail) is not None:
        return f"cannot use the database {database}: {explain(detail, database)}"
    return f"the database refused the change: {str(detail).splitlines()[0][:200]}. Nothing committed was lost."


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
