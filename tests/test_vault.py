"""The master-key store: file fallback, stickiness, moving the data dir, a hanging keyring."""

from __future__ import annotations

import shutil
import stat
import threading
import time
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from letzdesk.vault import KEY_FILENAME, Vault, VaultError, mask


class MemoryKeyring(KeyringBackend):
    priority = 10  # type: ignore[assignment]

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(self.delay)
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring():  # type: ignore[no-untyped-def]
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_fail_backend_falls_back_to_a_private_key_file(tmp_path: Path) -> None:
    vault = Vault(tmp_path)  # conftest selects keyring.backends.fail.Keyring
    token = vault.encrypt("secret-not-real")
    assert vault.store.startswith("key file")
    mode = stat.S_IMODE((tmp_path / KEY_FILENAME).stat().st_mode)
    assert mode == 0o600
    assert Vault(tmp_path).decrypt(token) == "secret-not-real"
    assert b"secret-not-real" not in token


def test_keyring_holds_the_key_and_survives_moving_the_folder(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    vault = Vault(tmp_path / "a")
    token = vault.encrypt("secret-not-real")
    assert vault.store.startswith("OS keyring")
    assert not (tmp_path / "a" / KEY_FILENAME).exists()
    shutil.move(tmp_path / "a", tmp_path / "b")
    assert Vault(tmp_path / "b").decrypt(token) == "secret-not-real"


def test_a_hanging_keyring_gives_up_and_the_file_stays_in_use(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.delay = 2.0
    started = time.monotonic()
    vault = Vault(tmp_path, keyring_timeout=0.3)
    token = vault.encrypt("secret-not-real")
    assert time.monotonic() - started < 2.0
    assert vault.store.startswith("key file")

    # The keyring answers quickly again: the file written during the hang must still win.
    memory_keyring.delay = 0.0
    later = Vault(tmp_path)
    assert later.decrypt(token) == "secret-not-real"
    assert later.store.startswith("key file")
    for thread in threading.enumerate():
        if thread.name.startswith("keyring"):
            thread.join(timeout=3)


def test_a_lost_master_key_gives_a_vault_error_not_a_crash(tmp_path: Path) -> None:
    token = Vault(tmp_path).encrypt("secret-not-real")
    (tmp_path / KEY_FILENAME).unlink()
    with pytest.raises(VaultError, match="Re-enter") as caught:
        Vault(tmp_path).decrypt(token)
    assert "secret-not-real" not in str(caught.value)


def test_mask_shows_four_characters() -> None:
    assert mask("lzk_live_abcdef") == "lzk_****"
    assert mask("") == ""
