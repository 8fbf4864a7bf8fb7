"""A database damaged inside (its first pages fine, so it opens) ends a command in one line, not a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli.test_cli_errors import assert_one_line, run


def _damage_table(database: Path, table: str) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(database, "r+b") as handle:
        handle.seek((root - 1) * size)
        handle.write(b"\xff" * size)


def test_a_malformed_page_met_by_a_command_is_one_line(tmp_path: Path) -> None:
    added = run(
        "vendor", "add", "Shop", "--endpoint", "http://127.0.0.1:9/graphql", "--data-dir", str(tmp_path),
        stdin="k-not-real-long\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    database = tmp_path / "letzdesk.sqlite3"
    _damage_table(database, "vendors")  # the schema version still reads: the database opens
    damaged = database.read_bytes()

    result = run("vendor", "list", "--data-dir", str(tmp_path))
    assert_one_line(result, "database disk image is malformed", "may be damaged", "backups")
    assert result.returncode == 1
    assert database.read_bytes() == damaged  # left as it was, for the vendor to copy or check
    log = (tmp_path / "logs" / "letzdesk.log").read_text()
    assert "DatabaseError" in log and "Traceback" in log  # the detail is in the developer log
