"""`vendor list` says what the Vendors tab says: a paused auto-sync, and a keyring that does not answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from sqlalchemy import update

from letzdesk.cli import main
from letzdesk.services.autosync import AUTH_FAILURES_TO_PAUSE, PAUSED_NOTE
from letzdesk.store.db import Database
from letzdesk.store.models import Credential
from tests.test_vault_keyring import FakeKeyring


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LETZDESK_PASSPHRASE", raising=False)

    def run(*args: str, key: str | None = None) -> tuple[int, str, str]:
        if key is None:
            monkeypatch.delenv("LETZSHOP_API_KEY", raising=False)
        else:
            monkeypatch.setenv("LETZSHOP_API_KEY", key)
        code = main([*args, "--data-dir", str(tmp_path / "data")])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def fake_keyring() -> Iterator[FakeKeyring]:
    previous = keyring.get_keyring()
    backend = FakeKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_vendor_list_shows_that_auto_sync_was_paused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    endpoint = "http://127.0.0.1:9/graphql"
    assert cli("vendor", "add", "Atelier", "--endpoint", endpoint, "--auto-sync", key="key-not-real-0000")[0] == 0
    note = PAUSED_NOTE.format(n=AUTH_FAILURES_TO_PAUSE)
    db = Database.open(tmp_path / "data")
    with db.write_session() as session:  # as auto-sync leaves it after three refused keys
        session.execute(update(Credential).values(auto_sync=False, last_sync_status="failed", last_sync_error=note))
    db.close()

    code, out, _ = cli("vendor", "list")
    assert code == 0
    assert note in out.splitlines()[1], out  # under the vendor's line, as in the Vendors tab
    assert json.loads(cli("vendor", "list", "--json")[1])[0]["last_sync_error"] == note


def test_vendor_list_with_a_locked_keyring_says_so_and_calls_no_key_unreadable(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, fake_keyring: FakeKeyring
) -> None:
    endpoint = "http://127.0.0.1:9/graphql"
    assert cli("vendor", "add", "Atelier", "--endpoint", endpoint, key="key-not-real-0000")[0] == 0
    fake_keyring.locked = True
    for args in (("vendor", "list"), ("vendor", "list", "--json")):
        code, out, err = cli(*args)
        assert code == 1
        assert "unreadable" not in out and "re-enter" not in out.lower(), out
        assert err.startswith("letzdesk: The OS keyring did not answer") and err.count("\n") == 1, err
        assert "key-not-real" not in out + err
    assert not (tmp_path / "data" / "master.key").exists()

    fake_keyring.locked = False
    code, out, _ = cli("vendor", "list")
    assert code == 0 and "key key-****" in out and "Master key store: OS keyring" in out
