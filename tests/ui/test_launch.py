"""Opening the window's master-key store: the passphrase prompt for a sealed key file, and a
locked OS keyring offered again until it answers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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
    assert launch._open_vault(services, launch.QuitRequest())
    assert "protected by a passphrase" in prompts[0] and "does not open" in prompts[1]
    assert "sealed by a passphrase" in services.vault.describe()
    services.close()

    monkeypatch.setattr(QInputDialog, "getText", lambda *_: ("", False))
    services = build(settings)
    assert not launch._open_vault(services, launch.QuitRequest())  # the user cancelled: the window does not open
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
    assert launch._open_vault(services, launch.QuitRequest())
    assert len(asked) == 2 and "keyring" in asked[0]
    assert services.vault.decrypt(token) == "test-key-not-real-0000"
    after = {name: (tmp_path / name).read_bytes() for name in key_files if (tmp_path / name).exists()}
    assert after == before  # no new key file, the keyring entry's name unchanged
    services.close()

    fake_keyring.locked = True
    monkeypatch.setattr(QMessageBox, "warning", lambda *_: QMessageBox.StandardButton.Close)
    services = build(settings)
    assert not launch._open_vault(services, launch.QuitRequest())  # given up: the window does not open
    services.close()


def test_a_quit_asked_for_before_the_window_runs_is_kept() -> None:
    # Ctrl-C or SIGTERM while the window is still being built reaches whoever takes over later.
    request = launch.QuitRequest()
    early: list[str] = []
    request.hand_to(lambda: early.append("dialog closed"))
    request.request()
    late: list[str] = []
    request.hand_to(lambda: late.append("window quits"))
    assert (early, late) == (["dialog closed"], ["window quits"])


def test_a_quit_during_the_start_ends_the_window_with_0(qapp, qloop, services) -> None:  # type: ignore[no-untyped-def]
    # The signal came while MainWindow was built, before _run connected anything: it still quits.
    from letzdesk.ui.main_window import MainWindow

    request = launch.QuitRequest()
    request.request()
    window = MainWindow(services)
    try:
        # Without the earlier request this waits for a quit forever (wait_for raises TimeoutError).
        qloop.run_until_complete(asyncio.wait_for(launch._run(window, request), 10))
    finally:
        window.deleteLater()


def test_no_sigterm_during_the_start_is_lost(tmp_path: Path) -> None:
    # Signals at several moments of the start, from "window being built" to "loop running".
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    log = tmp_path / "logs" / "letzdesk.log"
    for delay in (0.0, 0.05, 0.15, 0.3, 0.6):
        window = subprocess.Popen(
            [sys.executable, "-c", _SIGNAL_IN_START, str(tmp_path), str(delay)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _out, err = window.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            window.kill()
            pytest.fail(f"a SIGTERM {delay} s after the window was built was lost")
        assert window.returncode == 0, (delay, err, log.read_text() if log.exists() else "")


# Sends itself SIGTERM from inside MainWindow.__init__ (after a delay), the moment where a quit
# used to be dropped: the loop was not running and nothing had connected to the request yet.
_SIGNAL_IN_START = """
import os, signal, sys, threading
from letzdesk.ui import launch, main_window
built = main_window.MainWindow.__init__
def init(self, *args, **kwargs):
    built(self, *args, **kwargs)
    delay = float(sys.argv[2])
    if delay:
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM)).start()
    else:
        os.kill(os.getpid(), signal.SIGTERM)
main_window.MainWindow.__init__ = init
sys.exit(launch.run_window(data_dir=sys.argv[1]))
"""
