"""Mistakes a vendor makes on the command line end in one readable line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "letzdesk", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LETZSHOP_API_KEY": ""},
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    assert_one_line(run("vendor", "list", "--data-dir", str(target)), "is not a folder")


def test_damaged_database_is_left_alone_and_explained(tmp_path: Path) -> None:
    garbage = b"\x00garbage, not sqlite\xff" * 200
    (tmp_path / "letzdesk.sqlite3").write_bytes(garbage)
    assert_one_line(run("vendor", "list", "--data-dir", str(tmp_path)), "cannot be opened", "backups")
    assert (tmp_path / "letzdesk.sqlite3").read_bytes() == garbage


def test_unknown_vendor_hint_can_be_pasted(tmp_path: Path) -> None:
    assert_one_line(
        run("import", "No such shop", "--data-dir", str(tmp_path)), "letzdesk vendor add 'No such shop' --endpoint URL"
    )


def test_empty_key_is_refused(tmp_path: Path) -> None:
    result = run("vendor", "add", "Shop", "--data-dir", str(tmp_path), stdin="\n")
    assert_one_line(result, "no API key")
    assert result.returncode == 2


def test_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    run(
        "vendor",
        "add",
        "Shop",
        "--endpoint",
        "http://127.0.0.1:9/graphql",
        "--data-dir",
        str(tmp_path),
        stdin="k-not-real\n",
    )
    shell = f"{sys.executable} -m letzdesk vendor list --json --data-dir {tmp_path} | head -c 1"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_read_only_database_is_one_line(tmp_path: Path) -> None:
    run(
        "vendor",
        "add",
        "Shop",
        "--endpoint",
        "http://127.0.0.1:9/graphql",
        "--data-dir",
        str(tmp_path),
        stdin="k-not-real-long\n",
    )
    database = tmp_path / "letzdesk.sqlite3"
    subprocess.run(["chattr", "+i", str(database)], check=False, capture_output=True)
    if os.access(database, os.W_OK) and os.geteuid() == 0 and not _immutable(database):
        # Root ignores permissions; a read-only bind mount is not available everywhere.
        database.chmod(0o444)
        import pytest

        pytest.skip("running as root without chattr: the file cannot be made read-only here")
    try:
        result = run(
            "vendor",
            "add",
            "Other",
            "--endpoint",
            "http://127.0.0.1:9/graphql",
            "--data-dir",
            str(tmp_path),
            stdin="k-not-real-long\n",
        )
        assert_one_line(result)
    finally:
        subprocess.run(["chattr", "-i", str(database)], check=False, capture_output=True)


def _immutable(path: Path) -> bool:
    result = subprocess.run(["lsattr", str(path)], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "i" in result.stdout.split()[0]
