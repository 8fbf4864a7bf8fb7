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

from letzdesk.vault import KEY_FILENAME, PassphraseRequired, Vault, VaultError, mask


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
    assert mask("demo-key") == "****"  # short keys show nothing
    assert mask("") == ""


def test_passphrase_seals_the_key_file(tmp_path: Path) -> None:
    vault = Vault(tmp_path, passphrase="correct horse battery staple")
    token = vault.encrypt("secret-not-real")
    assert "passphrase" in vault.store
    content = (tmp_path / KEY_FILENAME).read_bytes()
    assert content.startswith(b"letzdesk-sealed-v1")
    assert Vault(tmp_path, passphrase="correct horse battery staple").decrypt(token) == "secret-not-real"
    with pytest.raises(VaultError, match="passphrase does not open"):
        Vault(tmp_path, passphrase="wrong").decrypt(token)
    with pytest.raises(VaultError, match="LETZDESK_PASSPHRASE"):
        Vault(tmp_path, passphrase=None).decrypt(token)


def test_rotation_cut_short_loses_nothing_and_finishes_next_time(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    tokens = [vault.encrypt(f"secret-{i}-not-real") for i in range(3)]
    old_file = (tmp_path / KEY_FILENAME).read_bytes()

    vault.begin_rotation()  # the process dies here: new key saved, no token rewritten yet
    reopened = Vault(tmp_path)
    assert [reopened.decrypt(t) for t in tokens] == [f"secret-{i}-not-real" for i in range(3)]

    rotated = [reopened.rotate_token(t) for t in tokens[:2]]  # dies again halfway through the tokens
    again = Vault(tmp_path)
    again.begin_rotation()  # a second run keeps the same new key instead of adding a third
    assert len((tmp_path / KEY_FILENAME).read_bytes().split()) == 2
    rotated = [again.rotate_token(t) for t in rotated + tokens[2:]]
    again.finish_rotation()

    final = Vault(tmp_path)
    assert [final.decrypt(t) for t in rotated] == [f"secret-{i}-not-real" for i in range(3)]
    assert (tmp_path / KEY_FILENAME).read_bytes() != old_file
    with pytest.raises(VaultError):
        final.decrypt(tokens[0])  # the old key is gone for good


def test_setting_and_removing_a_passphrase_keeps_the_keys(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    token = vault.encrypt("secret-not-real")
    vault.set_passphrase("a long passphrase")
    assert Vault(tmp_path).sealed
    with pytest.raises(PassphraseRequired):
        Vault(tmp_path).decrypt(token)
    opened = Vault(tmp_path)
    with pytest.raises(PassphraseRequired, match="does not open"):
        opened.unlock("wrong passphrase")
    opened.unlock("a long passphrase")
    assert opened.decrypt(token) == "secret-not-real"
    with pytest.raises(VaultError, match="8 characters"):
        opened.set_passphrase("short")
    opened.set_passphrase(None)
    assert not Vault(tmp_path).sealed and Vault(tmp_path).decrypt(token) == "secret-not-real"


def test_a_passphrase_is_refused_while_the_keyring_holds_the_key(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    vault = Vault(tmp_path)
    vault.encrypt("x")
    with pytest.raises(VaultError, match="OS keyring"):
        vault.set_passphrase("a long passphrase")


def test_a_passphrase_in_the_environment_never_seals_an_open_key_file(tmp_path: Path) -> None:
    """It opens a sealed file; sealing is `keys passphrase`'s job. Found by a walkthrough: the
    store was called sealed while the file was plain, and the next key write sealed it with
    whatever the variable held, even three characters."""
    token = Vault(tmp_path).encrypt("secret-not-real")
    with_env = Vault(tmp_path, passphrase="abc")
    assert with_env.describe() == f"key file ({tmp_path / KEY_FILENAME})"
    with_env.begin_rotation()  # a key write, as `keys rotate` does
    token = with_env.rotate_token(token)
    with_env.finish_rotation()
    assert not (tmp_path / KEY_FILENAME).read_bytes().startswith(b"letzdesk-sealed-v1")
    assert Vault(tmp_path, passphrase=None).decrypt(token) == "secret-not-real"


def test_a_new_desk_is_sealed_only_with_a_long_enough_passphrase(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="at least 8 characters"):
        Vault(tmp_path / "short", passphrase="abc").describe()
    assert not (tmp_path / "short" / KEY_FILENAME).exists()
    assert "sealed" in Vault(tmp_path / "long", passphrase="long enough phrase").describe()
