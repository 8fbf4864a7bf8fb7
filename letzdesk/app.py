"""Composition root: settings, logging, database, vault and services, built once and passed in."""

from __future__ import annotations

import logging
import logging.handlers
import time
from dataclasses import dataclass

from .services.answers import AnswerService
from .services.importer import Importer
from .services.vendors import VendorService
from .services.worker import QueueWorker
from .settings import Settings
from .store.db import Database
from .vault import Vault

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: Vault
    vendors: VendorService
    importer: Importer
    answers: AnswerService
    worker: QueueWorker

    def close(self) -> None:
        self.worker.stop()
        self.db.close()


def setup_logging(settings: Settings, *, verbose: bool = False) -> None:
    """The developer log: a rotating file in the log dir, UTC ISO timestamps, one logger per module."""
    settings.ensure_dirs()
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    try:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            settings.log_dir / "letzdesk.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError:
        # A read-only or full disk must not stop the application; it just logs nowhere.
        handler = logging.NullHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_letzdesk", False)]:
        root.removeHandler(old)
        old.close()
    handler._letzdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # A log write that fails later (disk full) is dropped quietly instead of printing a traceback.
    logging.raiseExceptions = False
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request line at INFO; keep the file to our own facts.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic announces its context on every start; our own line says when a migration ran.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler announces every tick at INFO; our auto-sync logs what each tick did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def build(settings: Settings) -> Services:
    settings.ensure_dirs()
    db = Database.open(settings.data_dir)
    vault = Vault(settings.data_dir, use_keyring=settings.use_keyring, keyring_timeout=settings.keyring_timeout)
    vendors = VendorService(db, vault, settings)
    importer = Importer(db, vendors.client_for)
    answers = AnswerService(db)
    worker = QueueWorker(db, vendors, settings.data_dir)
    return Services(settings, db, vault, vendors, importer, answers, worker)


@dataclass
class Demo:
    """A throw-away data dir and an in-process sandbox with one demo vendor."""

    settings: Settings
    sandbox: object
    vendor_name: str = "Demo shop"

    def close(self) -> None:
        import shutil

        self.sandbox.stop()  # type: ignore[attr-defined]
        shutil.rmtree(self.settings.data_dir, ignore_errors=True)


def prepare_demo(shipments: int = 60, seed: int = 2026, *, verbose: bool = False) -> tuple[Demo, Services]:
    """Start the sandbox, build services on a temporary data dir and add the demo vendor."""
    import secrets
    import tempfile

    from .sandbox.data import generate_shipments
    from .sandbox.server import SandboxServer

    data_dir = tempfile.mkdtemp(prefix="letzdesk-demo-")
    # The demo never touches the OS keyring: its master key dies with the temporary dir.
    settings = Settings.load(data_dir, use_keyring=False)
    demo_key = "demo-" + secrets.token_urlsafe(24)
    sandbox = SandboxServer(generate_shipments(shipments, seed), api_key=demo_key)
    sandbox.start()
    demo = Demo(settings, sandbox)
    try:
        setup_logging(settings, verbose=verbose)
        services = build(settings)
        # Auto-sync on, so the status bar and the tray show a schedule from the first minute.
        services.vendors.add(demo.vendor_name, demo_key, sandbox.url, auto_sync=True, interval_minutes=15)
    except BaseException:
        demo.close()
        raise
    logger.info("Demo running on %s with sandbox %s", settings.data_dir, sandbox.url)
    return demo, services
