from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from letzdesk.store.db import Database, DatabaseError
from letzdesk.store.models import Base, SyncLog, Vendor


def test_migrations_create_exactly_the_models(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert db.current_revision() == db.head_revision()


def test_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_timestamps_come_back_aware_utc(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    moment = datetime(2026, 11, 16, 9, 41, 27, tzinfo=timezone(timedelta(hours=1)))
    with db.write_session() as session:
        session.add(Vendor(name="Atelier", created_at=moment))
    with db.session() as session:
        stored = session.scalar(select(Vendor.created_at))
    assert stored == moment
    assert stored.tzinfo == UTC
    assert stored.hour == 8


def test_naive_datetime_is_refused(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    with pytest.raises(Exception, match="naive"), db.write_session() as session:
        session.add(Vendor(name="Atelier", created_at=datetime(2026, 1, 1)))


def test_foreign_keys_cascade_and_set_null(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    now = datetime.now(UTC)
    with db.write_session() as session:
        vendor = Vendor(name="Atelier")
        session.add(vendor)
        session.flush()
        session.add(
            SyncLog(
                vendor_id=vendor.id,
                vendor_name="Atelier",
                operation="import orders",
                direction="inbound",
                status="success",
                started_at=now,
                trigger="cli",
            )
        )
    with db.write_session() as session:
        session.delete(session.scalar(select(Vendor)))
    with db.session() as session:
        log = session.scalar(select(SyncLog))
    assert log.vendor_id is None and log.vendor_name == "Atelier"


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "letzdesk.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="cannot be"):
        Database.open(tmp_path)


def test_backup_before_migrating_an_older_schema(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    db.close()
    # Pretend the file is at an older revision.
    with sqlite3.connect(tmp_path / "letzdesk.sqlite3") as raw:
        raw.execute("UPDATE alembic_version SET version_num = 'older'")
    db = Database(tmp_path / "letzdesk.sqlite3")
    with pytest.raises(Exception):  # noqa: B017 - 'older' is unknown to Alembic; the backup must exist anyway
        db.migrate()
    assert list((tmp_path / "backups").glob("before-*.sqlite3"))


def test_three_processes_opening_a_new_data_dir_at_once(tmp_path: Path) -> None:
    """Two windows (or a window and a command) started together must not both create the tables."""
    import subprocess
    import sys

    for round_ in range(4):
        data_dir = tmp_path / f"round-{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "letzdesk", "vendor", "list", "--data-dir", str(data_dir)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        results = [(proc.wait(timeout=60), proc.stderr.read()) for proc in procs]  # type: ignore[union-attr]
        assert [code for code, _ in results] == [0, 0, 0], results
        with sqlite3.connect(data_dir / "letzdesk.sqlite3") as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
