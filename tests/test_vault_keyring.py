"""A desk whose master key is in the OS keyring: a keyring that fails, hangs or is missing for a
while must never make a new key file (that left every stored API key unreadable), and a call the
vault gave up on must neither write anything later nor keep the process from ending."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked

from letzdesk.vault import KEY_FILENAME, STORE_FILENAME, KeyringUnavailable, Vault

SECRET = "secret-not-real-0000"


class FakeKeyring(KeyringBackend):
    """In-process keyring that can be locked (raises) or hang (blocks until released)."""

    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}
        self.locked = False
        self.delay = 0.0
        self.released = threading.Event()
        self.hanging = False
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        if self.hanging:
            self.released.wait(10)
        time.sleep(self.delay)
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def fake_keyring() -> Iterator[FakeKeyring]:
    previous = keyring.get_keyring()
    backend = FakeKeyring()
    keyring.set_keyring(backend)
    yield backend
    backend.released.set()
    keyring.set_keyring(previous)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def keyring_desk(folder: Path) -> bytes:
    """A desk whose master key went into the keyring, with one stored API key."""
    vault = Vault(folder)
    token = vault.encrypt(SECRET)
    assert vault.store.startswith("OS keyring")
    assert not (folder / KEY_FILENAME).exists()
    return token


def test_a_locked_keyring_stops_the_vault_and_writes_nothing(
    tmp_path: Path, fake_keyring: FakeKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    token = keyring_desk(tmp_path)
    before = snapshot(tmp_path)
    fake_keyring.locked = True
    with (
        caplog.at_level(logging.WARNING, logger="letzdesk.vault"),
        pytest.raises(KeyringUnavailable, match="did not answer") as caught,
    ):
        Vault(tmp_path).decrypt(token)
    assert "nothing was changed" in str(caught.value)
    assert "KeyringLocked" in caplog.text  # the detail is in the log
    assert snapshot(tmp_path) == before  # no master.key, nothing else either

    fake_keyring.locked = False  # unlocked again: the saved key is readable, from the keyring
    again = Vault(tmp_path)
    assert again.decrypt(token) == SECRET
    assert again.store.startswith("OS keyring")


def test_a_hanging_keyring_on_a_keyring_desk_gives_up_quickly_and_writes_nothing(
    tmp_path: Path, fake_keyring: FakeKeyring
) -> None:
    token = keyring_desk(tmp_path)
    before = snapshot(tmp_path)
    fake_keyring.hanging = True
    vault = Vault(tmp_path, keyring_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(KeyringUnavailable, match="did not answer"):
        vault.decrypt(token)
    # Asked again while the first call still hangs: no second thread waits on the same prompt.
    with pytest.raises(KeyringUnavailable):
        vault.describe()
    assert time.monotonic() - started < 2.0
    assert fake_keyring.calls == 2  # the desk's first opening, and the one that hangs

    fake_keyring.hanging = False
    fake_keyring.released.set()
    time.sleep(0.2)
    assert snapshot(tmp_path) == before
    assert vault.decrypt(token) == SECRET  # the same vault works once the keyring answers


def test_a_passphrase_in_the_environment_does_not_make_a_keyring_desk_a_sealed_file_desk(
    tmp_path: Path, fake_keyring: FakeKeyring
) -> None:
    token = keyring_desk(tmp_path)
    with_env = Vault(tmp_path, passphrase="a long passphrase")
    assert with_env.decrypt(token) == SECRET
    assert with_env.store.startswith("OS keyring")
    assert not (tmp_path / KEY_FILENAME).exists()

    before = snapshot(tmp_path)
    fake_keyring.locked = True
    with pytest.raises(KeyringUnavailable):
        Vault(tmp_path, passphrase="a long passphrase").decrypt(token)
    assert snapshot(tmp_path) == before


def test_no_keyring_here_on_a_keyring_desk_is_explained_not_replaced(tmp_path: Path, fake_keyring: FakeKeyring) -> None:
    """Over SSH the backend is keyring's fail backend: the desk must not get a new key file."""
    token = keyring_desk(tmp_path)
    before = snapshot(tmp_path)
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(KeyringUnavailable, match="no OS keyring can be reached"):
        Vault(tmp_path).decrypt(token)
    with pytest.raises(KeyringUnavailable, match="without the keyring"):
        Vault(tmp_path, use_keyring=False).decrypt(token)
    assert snapshot(tmp_path) == before


def test_a_desk_from_before_vault_store_is_known_by_its_vault_id(tmp_path: Path, fake_keyring: FakeKeyring) -> None:
    token = keyring_desk(tmp_path)
    (tmp_path / STORE_FILENAME).unlink(missing_ok=True)  # as an older letzdesk left it: vault.id only
    before = snapshot(tmp_path)
    fake_keyring.locked = True
    with pytest.raises(KeyringUnavailable):
        Vault(tmp_path).decrypt(token)
    assert snapshot(tmp_path) == before

    fake_keyring.locked = False
    assert Vault(tmp_path).decrypt(token) == SECRET
    assert (tmp_path / STORE_FILENAME).read_text().strip() == "keyring"  # recorded from now on


def test_a_new_desk_with_a_locked_keyring_still_uses_the_key_file(tmp_path: Path, fake_keyring: FakeKeyring) -> None:
    fake_keyring.locked = True
    vault = Vault(tmp_path)
    token = vault.encrypt(SECRET)
    assert vault.store.startswith("key file")
    assert not (tmp_path / STORE_FILENAME).exists()
    fake_keyring.locked = False
    later = Vault(tmp_path)  # the key file stays in use: the keyring never held this desk's key
    assert later.decrypt(token) == SECRET and later.store.startswith("key file")


def test_an_abandoned_keyring_call_writes_nothing_when_it_returns(tmp_path: Path, fake_keyring: FakeKeyring) -> None:
    fake_keyring.delay = 0.6  # answers "no entry" after the vault gave up
    vault = Vault(tmp_path, keyring_timeout=0.1)
    token = vault.encrypt(SECRET)
    assert vault.store.startswith("key file")
    for thread in threading.enumerate():
        if thread.name.startswith("keyring"):
            thread.join(timeout=3)
    assert fake_keyring.store == {}  # no stray master key in the keyring
    assert not (tmp_path / STORE_FILENAME).exists()
    fake_keyring.delay = 0.0
    assert Vault(tmp_path).decrypt(token) == SECRET


HANGING_BACKEND = textwrap.dedent(
    """
    import threading

    from keyring.backend import KeyringBackend


    class Keyring(KeyringBackend):
        priority = 10

        def get_password(self, service, username):
            threading.Event().wait(60)  # a desktop prompt nobody answers

        def set_password(self, service, username, password):
            raise AssertionError("a call given up on must not write")

        def delete_password(self, service, username):
            pass
    """
)


def test_a_hanging_keyring_does_not_keep_a_command_from_ending(tmp_path: Path) -> None:
    (tmp_path / "hangring.py").write_text(HANGING_BACKEND)
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "hangring.Keyring",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    env.pop("LETZDESK_PASSPHRASE", None)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "letzdesk", "vendor", "list", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "Master key store: key file" in result.stdout  # a new desk falls back after 3 s
    assert took < 20, f"the command took {took:.1f} s"


def test_the_store_is_named_after_the_keyring_readably(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    try:
        for module, label in (
            ("keyring.backends.SecretService", "SecretService"),
            ("keyring.backends.macOS", "macOS Keychain"),
            ("keyring.backends.Windows", "Windows Credential Locker"),
            ("keyring.backends.kwallet", "KWallet"),
        ):
            backend = type("Keyring", (FakeKeyring,), {"__module__": module})()
            keyring.set_keyring(backend)
            assert Vault(tmp_path / label).describe() == f"OS keyring ({label})"
    finally:
        keyring.set_keyring(previous)


def test_choosing_a_backend_that_hangs_is_given_up_on_too(
    tmp_path: Path, fake_keyring: FakeKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding the backend may wait on D-Bus: that waits under the same timeout, and writes nothing late."""
    import letzdesk.vault

    desk_token = keyring_desk(tmp_path / "desk")
    desk_before = snapshot(tmp_path / "desk")
    chosen = letzdesk.vault.keyring_backend
    released = threading.Event()

    def slow_backend():  # type: ignore[no-untyped-def]
        released.wait(5)
        return chosen()

    monkeypatch.setattr(letzdesk.vault, "keyring_backend", slow_backend)
    started = time.monotonic()
    with pytest.raises(KeyringUnavailable):
        Vault(tmp_path / "desk", keyring_timeout=0.1).decrypt(desk_token)
    vault = Vault(tmp_path / "new", keyring_timeout=0.1)
    token = vault.encrypt(SECRET)
    assert time.monotonic() - started < 2.0
    assert vault.store.startswith("key file")

    released.set()
    for thread in threading.enumerate():
        if thread.name.startswith("keyring"):
            thread.join(timeout=3)
    assert snapshot(tmp_path / "desk") == desk_before
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [KEY_FILENAME]  # no vault.id written late
    assert len(fake_keyring.store) == 1  # only the desk's own entry
    assert Vault(tmp_path / "new").decrypt(token) == SECRET
