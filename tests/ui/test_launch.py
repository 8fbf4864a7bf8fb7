"""Opening the window's master-key store: the passphrase prompt for a sealed key file, and a
locked OS keyring offered again until it answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from letzdesk.app import build
from letzdesk.settings import Settings
from letzdesk.ui import launch
from tests.test_vault_keyring import FakeKeyring


@pytest.fixture
def fake_keyring() -> Iterator[FakeKeyring]:
    previous = keyring.get_keyring()
    backend = FakeKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_sealed_key_file_asks_until_the_passphrase_is_right(qapp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LETZDESK_PASSPHRASE", raising=False)
    settings = Settings.load(tmp_path, use_keyring=False)
    first = build(settings)
    first.vault.set_passphrase("a long passphrase")
    first.close()

    answers = iter([("wrong one", True), ("a long passphrase", True)])
    prompts: list[str] = []

    def fake_get_text(_parent, _title, label, _mode):  # type: ignore[no-untyped-def]
        prompts.append(label)
        return next(answers)

    monkeypatch.setattr(QInputDialog, "getText", fake_get_text)
    services = build(settings)
    assert launch._open_vault(services)
    assert "protected by a passphrase" in prompts[0] and "does not open" in prompts[1]
    assert "sealed by a passphrase" in services.vault.describe()
    services.close()

    monkeypatch.setattr(QInputDialog, "getText", lambda *_: ("", False))
    services = build(settings)
    assert not launch._open_vault(services)  # the user cancelled: the window does not open
    services.close()


def test_a_locked_keyring_is_offered_again_and_nothing_is_written(qapp, tmp_path: Path, monkeypatch, fake_keyring):  # type: ignore[no-untyped-def]
    settings = Settings.load(tmp_path, use_keyring=True)
    first = build(settings)
    token = first.vault.encrypt("test-key-not-real-0000")
    first.close()
    key_files = ("master.key", "vault.id", "vault.store")
    before = {name: (tmp_path / name).read_bytes() for name in key_files if (tmp_path / name).exists()}
    assert "master.key" not in before

    fake_keyring.locked = True
    asked: list[str] = []

    def answer(_parent, _title, text, _buttons):  # type: ignore[no-untyped-def]
        asked.append(text)
        if len(asked) == 2:
            fake_keyring.locked = False  # the vendor unlocked it between the two questions
        return QMessageBox.StandardButton.Retry

    monkeypatch.setattr(QMessageBox, "warning", answer)
    services = build(settings)
    assert launch._open_vault(services)
    assert len(asked) == 2 and "keyring" in asked[0]
    assert services.vault.decrypt(token) == "test-key-not-real-0000"
    after = {name: (tmp_path / name).read_bytes() for name in key_files if (tmp_path / name).exists()}
    assert after == before  # no new key file, the keyring entry's name unchanged
    services.close()

    fake_keyring.locked = True
    monkeypatch.setattr(QMessageBox, "warning", lambda *_: QMessageBox.StandardButton.Close)
    services = build(settings)
    assert not launch._open_vault(services)  # given up: the window does not open
    services.close()
