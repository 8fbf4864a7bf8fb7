"""Where letzdesk keeps its files, and the typed defaults that are the same everywhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "letzdesk"
DATA_DIR_ENV = "LETZDESK_DATA_DIR"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    log_dir: Path
    #: Shipments asked for per page; Letzshop's maximum is unknown, so stay modest.
    page_size: int = 50
    #: Overall deadline of one HTTP call to Letzshop, in seconds.
    request_deadline: float = 30.0
    #: How long the first keyring call may take before we fall back to the key file.
    keyring_timeout: float = 3.0
    #: When true the vault never touches the OS keyring (demo, tests).
    use_keyring: bool = True

    @classmethod
    def load(cls, data_dir: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
        """--data-dir wins, then LETZDESK_DATA_DIR, then the platform's user data dir."""
        chosen = data_dir or os.environ.get(DATA_DIR_ENV)
        if chosen:
            base = Path(chosen).expanduser().resolve()
            log_dir = base / "logs"
        else:
            base = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
            log_dir = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
        return cls(data_dir=base, log_dir=log_dir, **overrides)  # type: ignore[arg-type]

    def ensure_dirs(self) -> None:
        """Create the folders, or say in plain words why they cannot be used."""
        for folder in (self.data_dir, self.log_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            except FileExistsError:
                raise SettingsError(f"{folder} exists but is not a folder; choose another --data-dir.") from None
            except OSError as exc:
                raise SettingsError(f"Cannot create the folder {folder}: {exc.strerror}.") from None


class SettingsError(RuntimeError):
    """A data or log folder cannot be used; the message is meant for the user."""
