"""Each way SQLite refuses to open the database gets its own plain message: a full disk, a failing
disk, a read-only or unreachable file are not called damaged, and a damaged file is."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event

from letzdesk.store.db import DB_FILENAME, Database, DatabaseError, cause


def _with_pragma(pragma: str) -> Callable[[Path], Database]:
    """A new desk whose every connection runs ``pragma`` after letzdesk's own (a real SQLite refusal)."""

    def make(folder: Path) -> Database:
        db = Database(folder / DB_FILENAME)
        event.listen(db.engine, "connect", lambda conn, _record: conn.execute(pragma))
        return db

    return make


def _database_is_a_folder(folder: Path) -> Database:
    (folder / DB_FILENAME).mkdir(parents=True)
    return Database(folder / DB_FILENAME)


def _journal_cannot_be_read(folder: Path) -> Database:
    Database.open(folder).close()
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    (folder / f"{DB_FILENAME}-journal").mkdir()  # read as a hot journal: SQLITE_IOERR_READ
    return Database(folder / DB_FILENAME)


def _malformed(folder: Path) -> Database:
    Database.open(folder).close()
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(folder / DB_FILENAME, "r+b") as handle:
        handle.seek((root - 1) * size)
        handle.write(b"\xff" * size)
    return Database(folder / DB_FILENAME)


def _not_a_database(folder: Path) -> Database:
    folder.mkdir(parents=True)
    (folder / DB_FILENAME).write_bytes(b"this is not sqlite" * 100)
    return Database(folder / DB_FILENAME)


@pytest.mark.parametrize(
    ("make", "kind", "words"),
    [
        (_with_pragma("PRAGMA max_page_count = 3"), "full", "the disk is full"),
        (_journal_cannot_be_read, "io", "could not be read or written"),
        (_with_pragma("PRAGMA query_only = ON"), "read-only", "is read-only"),
        (_database_is_a_folder, "no access", "has no access"),
        (_malformed, "damaged", "may be damaged"),
        (_not_a_database, "damaged", "may be damaged"),
    ],
    ids=["disk-full", "disk-io", "read-only", "cannot-open", "malformed", "not-a-database"],
)
def test_each_refusal_has_its_own_message(tmp_path: Path, make: Callable[[Path], Database], kind: str, words: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / "data"
    db = make(folder)
    try:
        with pytest.raises(DatabaseError) as caught:
            db.migrate()
    finally:
        db.close()
    message = str(caught.value)
    assert cause(caught.value.__cause__) == kind  # type: ignore[arg-type]
    assert words in message, message
    if kind == "damaged":
        assert "backups" in message and "Nothing saved before was lost" not in message
    else:
        assert "damaged" not in message and "move it aside" not in message, message
        assert "Nothing saved before was lost" in message


def test_a_refusal_named_only_in_words_is_still_understood() -> None:
    """Without Python's error name (an older driver, a wrapped error) the words decide."""
    assert cause(sqlite3.OperationalError("disk I/O error")) == "io"
    assert cause(sqlite3.OperationalError("database or disk is full")) == "full"
    assert cause(sqlite3.OperationalError("attempt to write a readonly database")) == "read-only"
    assert cause(sqlite3.OperationalError("unable to open database file")) == "no access"
    assert cause(sqlite3.DatabaseError("database disk image is malformed")) == "damaged"
    assert cause(sqlite3.OperationalError("no such table: orders")) is None
