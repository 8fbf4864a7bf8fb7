"""Opening the window's master-key store: the passphrase prompt for a sealed key file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QInputDialog

from letzdesk.app import build
from letzdesk.settings import Settings
from letzdesk.ui import launch


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
