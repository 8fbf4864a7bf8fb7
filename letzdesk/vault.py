"""Fernet encryption of API keys, with the master key kept outside the database.

Where the master key lives, in order of preference:

* the OS keyring (service ``letzdesk``, one entry per data dir, named by a random id kept in
  ``vault.id`` so moving the folder keeps the key);
* ``master.key`` in the data dir, mode 0600, when no usable keyring exists (the ``fail``
  backend of headless Linux, a plaintext backend, a locked or hanging keyring);
* ``master.key`` sealed with a key derived by scrypt from a passphrase, when the user sets one
  (``LETZDESK_PASSPHRASE`` for scripted use).

Once ``master.key`` exists it is always used. Once the keyring holds the master key,
``vault.store`` says so, and a keyring that is locked, fails or does not answer then stops
the vault with :class:`KeyringUnavailable` (try again later) instead of making a key file:
a new key there would leave every stored API key unreadable. Only a desk that has no master
key anywhere yet falls back to the key file. Every keyring call runs in a daemon thread: one
that hangs never keeps letzdesk from exiting, and one given up on writes nothing when it
returns. The master material is a list of Fernet keys, newest first: rotation
writes the new key in front, re-encrypts every token, then drops the old one, and a rotation
cut short is finished by the next one without losing a key.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from hashlib import scrypt
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from filelock import FileLock

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "letzdesk"
KEY_FILENAME = "master.key"
ID_FILENAME = "vault.id"
#: Beside vault.id: "keyring" once the OS keyring holds this desk's master key.
STORE_FILENAME = "vault.store"
_KEYRING_MARK = "keyring"
LOCK_FILENAME = "vault.lock"
PASSPHRASE_ENV = "LETZDESK_PASSPHRASE"
MIN_PASSPHRASE = 8
_SEALED = b"letzdesk-sealed-v1"
_SCRYPT = {"n": 2**17, "r": 8, "p": 1, "maxmem": 256 * 1024 * 1024, "dklen": 32}
_UNSAFE_BACKENDS = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


class VaultError(RuntimeError):
    """The vault cannot encrypt or decrypt; the message is safe to show (it never holds a key)."""


class PassphraseRequired(VaultError):
    """master.key is sealed and no passphrase (or a wrong one) was given; ask the user."""


class KeyringUnavailable(VaultError):
    """The desk keeps its master key in the OS keyring and the keyring cannot be used right now.

    Temporary: nothing was written, and the same call works once the keyring answers again.
    """


KEYRING_NOT_ANSWERING = (
    "The OS keyring did not answer (it may be locked, or waiting for you to answer its prompt), so the "
    "stored API keys cannot be opened right now. Unlock the keyring and try again; nothing was changed."
)
KEYRING_NOT_HERE = (
    "This desk keeps its master key in the OS keyring, but no OS keyring can be reached here (for example "
    "over SSH, or outside your desktop session), so the stored API keys cannot be opened. Run letzdesk in "
    "your desktop session; nothing was changed."
)
KEYRING_NOT_ALLOWED = (
    "This desk keeps its master key in the OS keyring, and this letzdesk was started without the keyring, "
    "so the stored API keys cannot be opened; nothing was changed."
)

#: How a store is named in the window and on the command line, by the backend's module.
_BACKEND_LABELS = {
    "keyring.backends.SecretService": "SecretService",
    "keyring.backends.libsecret": "libsecret",
    "keyring.backends.kwallet": "KWallet",
    "keyring.backends.macOS": "macOS Keychain",
    "keyring.backends.Windows": "Windows Credential Locker",
}


def mask(api_key: str) -> str:
    """What the window and the command line show of a key: its first four characters, or
    nothing of it when it is so short that four characters would give much of it away."""
    if not api_key:
        return ""
    return f"{api_key[:4]}****" if len(api_key) >= 12 else "****"


def keyring_backend() -> tuple[object, str, bool]:
    """The OS keyring backend ``keyring`` picked, its full name, and whether letzdesk trusts it.

    The fail and null backends, keyrings.alt and any plaintext store are refused: a master key
    there is no safer than the 0600 key file, and a backend with no priority will not work.
    """
    import keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    usable = not (name.startswith(_UNSAFE_BACKENDS) or "Plaintext" in name or getattr(backend, "priority", 1) <= 0)
    return backend, name, usable


def backend_label(backend: object) -> str:
    """A readable name of a keyring backend: "SecretService", "macOS Keychain", "Windows Credential
    Locker"; for a chain of backends, the one that is written to first."""
    module = type(backend).__module__
    for prefix, label in _BACKEND_LABELS.items():
        if module == prefix or module.startswith(prefix + "."):
            return label
    if module == "keyring.backends.chainer":
        chained = list(getattr(backend, "backends", None) or [])
        if chained:
            return backend_label(chained[0])
    name = getattr(backend, "name", None)  # keyring's own display name: "<module> <class>"
    return name if isinstance(name, str) and name.strip() else f"{module}.{type(backend).__qualname__}"


def _derive(passphrase: str, salt: bytes) -> bytes:
    return base64.urlsafe_b64encode(scrypt(passphrase.encode(), salt=salt, **_SCRYPT))


class Vault:
    def __init__(
        self, data_dir: Path, *, use_keyring: bool = True, keyring_timeout: float = 3.0, passphrase: str | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self._use_keyring = use_keyring
        self._keyring_timeout = keyring_timeout
        self._passphrase = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV) or None
        self._keys: list[bytes] | None = None
        #: Whether master.key is sealed: read from the file, changed only by set_passphrase. The
        #: passphrase alone (say from the environment) opens a sealed file but never seals one.
        self._sealed = False
        #: Writes the key list back to the store in use (set when the store is chosen).
        self._save: Callable[[list[bytes]], None] | None = None
        self.store: str = "not opened yet"
        #: A keyring call given up on that may still be waiting behind a prompt.
        self._waiting: threading.Thread | None = None

    # -- choosing the store -------------------------------------------------------------------

    @property
    def _key_file(self) -> Path:
        return self.data_dir / KEY_FILENAME

    @property
    def tries_keyring(self) -> bool:
        """Whether opening this vault asks the OS keyring first. A desk whose master key is in the
        keyring always does (and fails while the keyring does not answer); a desk with no master key
        yet does unless a passphrase is set, and falls back to the key file when ``keyring_backend()``
        is not usable or the keyring does not answer. Touches nothing."""
        if not self._use_keyring or self._key_file.exists():
            return False
        return self._passphrase is None or self.keeps_key_in_keyring

    @property
    def keeps_key_in_keyring(self) -> bool:
        """Whether the OS keyring holds this desk's master key (and master.key does not exist).

        Said by ``vault.store``; a desk from before that file existed is known by ``vault.id``
        without ``master.key`` (only a keyring that answered leaves that pair). Touches nothing.
        """
        if self._key_file.exists():
            return False
        return self._marked_keyring() or (self.data_dir / ID_FILENAME).exists()

    def _marked_keyring(self) -> bool:
        try:
            return (self.data_dir / STORE_FILENAME).read_text(encoding="ascii").strip() == _KEYRING_MARK
        except (FileNotFoundError, UnicodeDecodeError):
            return False

    def _mark_keyring(self) -> None:
        """Record beside vault.id that the keyring holds the master key (atomically, once)."""
        if self._marked_keyring():
            return
        path = self.data_dir / STORE_FILENAME
        temporary = self.data_dir / f".{STORE_FILENAME}.{secrets.token_hex(4)}.tmp"
        try:
            temporary.write_text(_KEYRING_MARK + "\n", encoding="ascii")
            os.replace(temporary, path)
        except OSError as exc:  # vault.id without master.key still says the same
            logger.warning("Cannot write %s (%s); vault.id still names the keyring entry", path, exc)
            temporary.unlink(missing_ok=True)

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

    def _load(self) -> list[bytes]:
        if self._keys is None:
            keys = None
            if self.keeps_key_in_keyring:
                keys = self._keys_from_keyring(known=True)  # raises rather than make a key file
            elif self.tries_keyring:
                keys = self._keys_from_keyring(known=False)
            if keys is None:
                keys = self._keys_from_file()
            try:
                MultiFernet([Fernet(key) for key in keys])
            except (ValueError, TypeError):
                raise VaultError(
                    f"The master key in {self.store} is damaged; stored API keys cannot be read. "
                    "Re-enter each vendor's key."
                ) from None
            self._keys = keys
        return self._keys

    def _keys_from_keyring(self, *, known: bool) -> list[bytes] | None:
        """The key list from the keyring, or None to use the key file.

        ``known``: the keyring holds this desk's master key, so a keyring that cannot be used
        raises KeyringUnavailable instead, and nothing is written anywhere.
        """
        import keyring

        def unavailable(message: str, detail: str) -> None:
            if known:
                logger.warning("OS keyring: %s; the API keys stay locked until it answers", detail)
                raise KeyringUnavailable(message)
            logger.warning("OS keyring: %s; using the key file", detail)

        if known and not self._use_keyring:
            unavailable(KEYRING_NOT_ALLOWED, "this letzdesk runs without the keyring")
        if known and self._passphrase:
            logger.info("%s is set, but this desk keeps its master key in the OS keyring; not used", PASSPHRASE_ENV)
        if self._waiting is not None and self._waiting.is_alive():
            # An earlier call still waits (a prompt nobody answered): do not pile up another.
            unavailable(KEYRING_NOT_ANSWERING, "an earlier call has not returned yet")
            return None

        # Choosing the backend may talk to D-Bus, and a keyring behind a desktop prompt may block
        # for ever: all of it runs in a daemon thread (it never keeps the process alive), given up
        # on after a timeout. Past that, the thread writes nothing: not vault.id, not a new key.
        gate = threading.Lock()
        given_up = False
        answer: dict[str, Any] = {}

        def fetch() -> None:
            try:
                answer["backend"] = keyring_backend()
                if not answer["backend"][2]:  # not a backend letzdesk trusts with a key
                    return
                with gate:
                    if given_up:
                        return
                    answer["account"] = account = self._account
                stored = keyring.get_password(KEYRING_SERVICE, account)
                if stored is None:
                    with gate:
                        if given_up:
                            return
                    stored = answer["new"] = Fernet.generate_key().decode()
                    keyring.set_password(KEYRING_SERVICE, account, stored)
                answer["keys"] = [line.encode() for line in stored.split()]
            except Exception as exc:  # locked keyring, D-Bus errors: all mean "not usable now"
                answer["error"] = exc

        thread = threading.Thread(target=fetch, name="keyring", daemon=True)
        thread.start()
        thread.join(self._keyring_timeout)
        with gate:
            if thread.is_alive():
                given_up = True
        backend, name, usable = answer.get("backend", (None, "(not chosen yet)", True))
        if given_up:
            self._waiting = thread
            unavailable(KEYRING_NOT_ANSWERING, f"{name} did not answer within {self._keyring_timeout:.1f} s")
            return None
        if "error" in answer:
            exc = answer["error"]
            text = str(exc)[:200].replace(answer.get("new", "\0"), "****")  # never a key in the log
            unavailable(KEYRING_NOT_ANSWERING, f"{name} failed ({type(exc).__name__}: {text})")
            return None
        if not usable:
            if known:
                unavailable(KEYRING_NOT_HERE, f"backend {name} is not usable")
            logger.debug("No usable OS keyring (%s); using the key file", name)
            return None
        account = answer["account"]

        def save(new_keys: list[bytes]) -> None:
            keyring.set_password(KEYRING_SERVICE, account, "\n".join(k.decode() for k in new_keys))

        self._mark_keyring()
        self._save = save
        self.store = f"OS keyring ({backend_label(backend)})"
        return answer["keys"]  # type: ignore[no-any-return]

    def _keys_from_file(self) -> list[bytes]:
        path = self._key_file
        self.data_dir.mkdir(parents=True, exist_ok=True)
        keys = [Fernet.generate_key()]
        if not path.exists():
            if self._marked_keyring():
                # Another letzdesk put this desk's master key into the keyring meanwhile.
                raise KeyringUnavailable(KEYRING_NOT_ANSWERING)
            # A new desk started with a passphrase set is sealed from the start.
            if self._passphrase and len(self._passphrase) < MIN_PASSPHRASE:
                raise VaultError(f"{PASSPHRASE_ENV} needs at least {MIN_PASSPHRASE} characters to seal a new key file.")
            self._sealed = bool(self._passphrase)
        if path.exists() or not self._write_file(keys, create=True):
            keys = self._unseal(path.read_bytes())
        os.chmod(path, 0o600)
        self._save = self._write_file
        self.store = self._file_label()
        return keys

    def _file_label(self) -> str:
        return f"key file sealed by a passphrase ({self._key_file})" if self._sealed else f"key file ({self._key_file})"

    def _unseal(self, content: bytes) -> list[bytes]:
        self._sealed = content.startswith(_SEALED)
        if not self._sealed:
            if self._passphrase:
                logger.info("master.key is not sealed; a passphrase in the environment is not used to seal it")
            return content.split()
        if not self._passphrase:
            raise PassphraseRequired(f"The master key is protected by a passphrase: set {PASSPHRASE_ENV} to open it.")
        try:
            _, salt, token = content.split(b"\n", 2)
            return Fernet(_derive(self._passphrase, base64.b64decode(salt))).decrypt(token.strip()).split()
        except InvalidToken:
            raise PassphraseRequired("The passphrase does not open the master key.") from None
        except ValueError:
            raise VaultError(f"{self._key_file} is damaged; stored API keys cannot be read.") from None

    def _write_file(self, keys: list[bytes], *, create: bool = False) -> bool:
        """Write atomically: a temporary file, fsync, rename; a crash leaves the old or the new file.

        With ``create`` the file must not exist yet; False means another process made it first.
        """
        content = b"\n".join(keys) + b"\n"
        if self._sealed:
            assert self._passphrase, "a sealed key file needs its passphrase"
            salt = secrets.token_bytes(16)
            sealed = Fernet(_derive(self._passphrase, salt)).encrypt(content)
            content = b"\n".join([_SEALED, base64.b64encode(salt), sealed]) + b"\n"
        temporary = self.data_dir / f".{KEY_FILENAME}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            if create:
                os.link(temporary, self._key_file)  # fails if it exists: never overwrite a key
            else:
                os.replace(temporary, self._key_file)
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)
        return True

    # -- changes across processes -------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the vault's lock across processes, with the key list read fresh from its store.

        Everything that encrypts a token it will store, and rotation as a whole, runs inside:
        otherwise a second letzdesk could encrypt under a key that a rotation is about to drop.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(self.data_dir / LOCK_FILENAME, timeout=120):
            self._keys = None
            yield

    # -- passphrase -----------------------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        """Whether master.key exists and is sealed by a passphrase (readable without the key)."""
        try:
            return self._key_file.read_bytes().startswith(_SEALED)
        except FileNotFoundError:
            return False

    def unlock(self, passphrase: str) -> None:
        """Use ``passphrase`` to open a sealed key file; raises PassphraseRequired when it is wrong."""
        self._passphrase = passphrase
        self._keys = None
        self._load()

    def set_passphrase(self, passphrase: str | None) -> None:
        """Seal master.key with a new passphrase, or unseal it with None. Only for the key file store."""
        with self.locked():
            self._set_passphrase(passphrase)

    def _set_passphrase(self, passphrase: str | None) -> None:
        self._load()
        if self._save != self._write_file:
            raise VaultError(
                "The master key is in the OS keyring, which protects it already; a passphrase is only for the key file."
            )
        if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
            raise VaultError(f"A passphrase needs at least {MIN_PASSPHRASE} characters.")
        keys = self._load()
        self._passphrase = passphrase
        self._sealed = passphrase is not None
        self._write_file(keys)
        self.store = self._file_label()

    # -- using it -------------------------------------------------------------------------------

    def describe(self) -> str:
        """Which store holds the master key, opening the vault if needed."""
        self._load()
        return self.store

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self._load()])

    def encrypt(self, api_key: str) -> bytes:
        return self._fernet().encrypt(api_key.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet().decrypt(token).decode()
        except InvalidToken:
            pass
        # Another letzdesk may have rotated the master key since we read it: read it again once.
        self._keys = None
        try:
            return self._fernet().decrypt(token).decode()
        except InvalidToken:
            raise VaultError(
                "A stored API key cannot be decrypted with this master key "
                f"(store: {self.store}). Re-enter the key for this vendor."
            ) from None

    # -- rotation -------------------------------------------------------------------------------

    def begin_rotation(self) -> None:
        """Put a new key in front (persisted before any token changes). A rotation cut short keeps
        its new key: calling this again only finishes it."""
        keys = self._load()
        if len(keys) == 1:
            keys = [Fernet.generate_key(), *keys]
            assert self._save is not None
            self._save(keys)
            self._keys = keys

    def rotate_token(self, token: bytes) -> bytes:
        """The same secret encrypted under the newest key."""
        try:
            return self._fernet().rotate(token)
        except InvalidToken:
            raise VaultError("A stored API key cannot be decrypted during rotation; it was left as it was.") from None

    def finish_rotation(self) -> None:
        """Forget every key but the newest; call only after every token was rotated and committed."""
        keys = self._load()
        if len(keys) > 1:
            assert self._save is not None
            self._save(keys[:1])
            self._keys = keys[:1]
