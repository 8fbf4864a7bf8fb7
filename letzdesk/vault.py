"""Fernet encryption of API keys, with the master key kept outside the database.

The master key lives in the OS keyring (service ``letzdesk``, one entry per data dir, named
by a random id kept in ``vault.id`` so moving the folder keeps the key). Where no usable
keyring exists (the ``fail`` backend of headless Linux, a plaintext backend, a locked or
hanging keyring) it lives in ``master.key`` in the data dir with mode 0600. Once that file
exists it is always used, so a keyring that was slow once never splits keys across stores.
The vault always says which store it uses.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "letzdesk"
KEY_FILENAME = "master.key"
ID_FILENAME = "vault.id"
_UNSAFE_BACKENDS = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt.file.PlaintextKeyring",
                    "keyrings.alt")


class VaultError(RuntimeError):
    """The vault cannot encrypt or decrypt; the message is safe to show (it never holds a key)."""


def mask(api_key: str) -> str:
    """What the window and the command line show of a key: its first four characters."""
    return f"{api_key[:4]}****" if api_key else ""


class Vault:
    def __init__(self, data_dir: Path, *, use_keyring: bool = True, keyring_timeout: float = 3.0) -> None:
        self.data_dir = Path(data_dir)
        self._use_keyring = use_keyring
        self._keyring_timeout = keyring_timeout
        self._fernet: Fernet | None = None
        self.store: str = "not opened yet"

    @property
    def _account(self) -> str:
        """The keyring entry of this data dir: from a random id stored beside the database."""
        path = self.data_dir / ID_FILENAME
        try:
            install_id = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            install_id = secrets.token_hex(16)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(install_id + "\n", encoding="ascii")
        return f"master-key-{install_id}"

    def _open(self) -> Fernet:
        if self._fernet is None:
            key_file = self.data_dir / KEY_FILENAME
            key = None
            if self._use_keyring and not key_file.exists():
                key = self._key_from_keyring()
            if key is None:
                key = self._key_from_file()
            try:
                self._fernet = Fernet(key)
            except ValueError:
                raise VaultError(f"The master key in {self.store} is damaged; stored API keys cannot be read. "
                                 "Re-enter each vendor's key.") from None
        return self._fernet

    def _key_from_keyring(self) -> bytes | None:
        try:
            import keyring
        except ImportError:  # pragma: no cover - keyring is a dependency
            return None
        backend = keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__qualname__}"
        if name.startswith(_UNSAFE_BACKENDS) or getattr(backend, "priority", 1) <= 0:
            logger.debug("No usable OS keyring (%s); using the key file", name)
            return None

        def fetch() -> bytes:
            stored = keyring.get_password(KEYRING_SERVICE, self._account)
            if stored is None:
                stored = Fernet.generate_key().decode()
                keyring.set_password(KEYRING_SERVICE, self._account, stored)
            return stored.encode()

        # A keyring behind a desktop prompt may block forever: give up after a timeout.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")
        try:
            key = pool.submit(fetch).result(timeout=self._keyring_timeout)
        except concurrent.futures.TimeoutError:
            logger.warning("OS keyring %s did not answer within %.1f s; using the key file", name,
                           self._keyring_timeout)
            return None
        except Exception as exc:  # locked keyring, D-Bus errors: all mean "not usable now"
            logger.warning("OS keyring %s failed (%s); using the key file", name, type(exc).__name__)
            return None
        finally:
            pool.shutdown(wait=False)
        self.store = f"OS keyring ({type(backend).__name__})"
        return key

    def _key_from_file(self) -> bytes:
        path = self.data_dir / KEY_FILENAME
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes().strip()
        else:
            key = Fernet.generate_key()
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(path, 0o600)
        self.store = f"key file ({path})"
        return key

    def describe(self) -> str:
        """Which store holds the master key, opening the vault if needed."""
        self._open()
        return self.store

    def encrypt(self, api_key: str) -> bytes:
        return self._open().encrypt(api_key.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._open().decrypt(token).decode()
        except InvalidToken:
            raise VaultError("A stored API key cannot be decrypted with this master key "
                             f"(store: {self.store}). Re-enter the key for this vendor.") from None
