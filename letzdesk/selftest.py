"""``letzdesk --self-test``: an installed or frozen letzdesk checks every part of itself.

A vendor's copy can break in ways the developers' tests never see: a data file left out of the
frozen app, a Qt plugin or CA bundle missing, an OS keyring that does not work. So each part runs
for real on a throw-away desk: a temporary data dir, the database and its migrations, the vault,
a local Letzshop sandbox on 127.0.0.1, an import, one answer through the queue, the window
offscreen, and TLS set up as the client does it. Nothing reaches Letzshop, nothing is written
outside the temporary dir (removed at the end, also on failure), and the OS keyring is only asked
which backend it is.

One JSON object goes to standard output; anything a library prints goes to standard error.
``LETZDESK_SELFTEST_FAIL=step[,step]`` makes the named steps fail before they run, so the failure
path (the report, the skipped steps, the exit status) can itself be tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .settings import Settings

logger = logging.getLogger(__name__)

FAIL_ENV = "LETZDESK_SELFTEST_FAIL"
VENDOR_NAME = "Self-test shop"
#: More than one page (the client asks for 50 at a time), so paging is part of the test.
SHIPMENTS, SEED = 60, 2026
KEYRING_TIMEOUT = 10.0


class StepFailed(RuntimeError):
    """A check that did not hold; the message is for the vendor."""


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class _Desk:
    """What the steps build and later steps use."""

    data_dir: str | None
    verbose: bool
    root: Path | None = None
    settings: Settings | None = None
    sandbox: Any = None
    services: Any = None
    api_key: str = ""
    vendor_id: int = 0
    imported: int = 0
    secrets: list[str] = field(default_factory=list)


def run_self_test(*, data_dir: str | None = None, verbose: bool = False) -> int:
    """Run every step, print the JSON report, and return 0 only when every step passed."""
    stderr_handler = _log_to_stderr() if verbose else None
    started = time.perf_counter()
    desk = _Desk(data_dir=data_dir, verbose=verbose)
    steps: list[StepResult] = []

    # Whatever a library prints must not spoil the one JSON object on standard output.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            for name, needs, body in _STEPS:
                steps.append(_run_step(desk, name, needs, body, steps))
        finally:
            steps.append(_run_step(desk, "cleanup", (), _cleanup, steps))
            if stderr_handler is not None:
                logging.getLogger().removeHandler(stderr_handler)

    ok = all(step.ok for step in steps)
    report = {
        "ok": ok,
        "version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "steps": [asdict(step) for step in steps],
    }
    print(json.dumps(report, ensure_ascii=False, indent=2), flush=True)
    if not ok:
        failed = ", ".join(step.name for step in steps if not step.ok and not step.detail.startswith("skipped"))
        hint = "" if verbose else " Run `letzdesk --self-test -v` to see the details on standard error."
        print(f"letzdesk: self-test failed at: {failed}.{hint}", file=sys.stderr)
    logger.debug("Self-test took %.2f s", time.perf_counter() - started)
    return 0 if ok else 1


def _run_step(
    desk: _Desk, name: str, needs: tuple[str, ...], body: Callable[[_Desk], str], done: list[StepResult]
) -> StepResult:
    """One step, timed; its error in words, or skipped when a step it needs did not pass."""
    passed = {step.name for step in done if step.ok}
    missing = [need for need in needs if need not in passed]
    if missing:
        result = StepResult(name, False, 0.0, f"skipped: the {' and '.join(missing)} step did not pass")
        logger.info("Self-test step %s skipped (needs %s)", name, ", ".join(missing))
        return result

    forced = {part.strip() for part in os.environ.get(FAIL_ENV, "").split(",")}
    start = time.perf_counter()
    error: Exception | None = None
    try:
        if name in forced:
            raise StepFailed(f"made to fail on purpose by {FAIL_ENV}")
        ok, detail = True, body(desk)
    except Exception as exc:
        ok, detail, error = False, _words(exc), exc
    seconds = round(time.perf_counter() - start, 3)

    for secret in desk.secrets:  # a throw-away key, but a key: never in the report or the log
        detail = detail.replace(secret, "****")
    if ok:
        logger.info("Self-test step %s passed in %.2f s: %s", name, seconds, detail)
    else:
        # A StepFailed says all there is; anything else keeps its traceback for the developer log.
        trace = None if isinstance(error, StepFailed) else error
        logger.error("Self-test step %s failed: %s", name, detail, exc_info=trace)
    return StepResult(name, ok, seconds, detail)


def _words(exc: Exception) -> str:
    """The error as a sentence: letzdesk's own errors carry words already, anything else gets its type."""
    if isinstance(exc, ValueError | RuntimeError):  # StepFailed, VaultError, DatabaseError, SettingsError, …
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"the computer refused: {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")


def _log_to_stderr() -> logging.Handler:
    """-v: the developer log on standard error too (the log file dies with the temporary dir)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler


# -- the steps ---------------------------------------------------------------------------------


def _data_dir(desk: _Desk) -> str:
    from .app import setup_logging

    desk.root = Path(tempfile.mkdtemp(prefix="letzdesk-selftest-"))
    # Never the OS keyring for the throw-away desk: its master key dies with the folder.
    desk.settings = Settings.load(desk.root, use_keyring=False, request_deadline=10.0)
    desk.settings.ensure_dirs()
    setup_logging(desk.settings, verbose=desk.verbose)
    logger.info("Self-test of letzdesk %s on %s", __version__, desk.root)
    return f"temporary data dir {desk.root}"


def _database(desk: _Desk) -> str:
    import sqlalchemy

    from .store.db import Database

    assert desk.settings is not None
    db = Database.open(desk.settings.data_dir)
    try:
        current, head = db.current_revision(), db.head_revision()
        tables = sqlalchemy.inspect(db.engine).get_table_names()
    finally:
        db.close()

    if head is None:
        raise StepFailed("this letzdesk has no database migrations: its store/migrations files are missing")
    if current is None or current != head:
        raise StepFailed(f"the migrations stopped at revision {current}, not at the newest ({head})")
    return f"migrations ran up to revision {current} ({len(tables)} tables)"


def _vault(desk: _Desk) -> str:
    from .vault import KEY_FILENAME, Vault

    assert desk.settings is not None
    # passphrase="": the vendor's LETZDESK_PASSPHRASE belongs to their own desk, not to this one.
    vault = Vault(desk.settings.data_dir, use_keyring=desk.settings.use_keyring, passphrase="")
    value = "selftest-" + secrets.token_urlsafe(24)
    desk.secrets.append(value)
    token = vault.encrypt(value)
    if value.encode() in token:
        raise StepFailed("the vault handed back the value unencrypted")
    if vault.decrypt(token) != value:
        raise StepFailed("the vault decrypted something other than what it encrypted")

    # A second letzdesk on the same desk finds the same master key.
    if Vault(desk.settings.data_dir, use_keyring=False, passphrase="").decrypt(token) != value:
        raise StepFailed("a second opening of the vault could not decrypt the value")
    key_file = desk.settings.data_dir / KEY_FILENAME
    if os.name == "posix" and key_file.stat().st_mode & 0o077:
        raise StepFailed(f"the master key file is readable by others (mode {key_file.stat().st_mode & 0o777:o})")
    return f"a random value encrypted and decrypted with the {vault.describe()}"


def _keyring(desk: _Desk) -> str:
    """Which store the vendor's own desk keeps its master key in; the keyring is named, never read."""
    from .vault import Vault, keyring_backend

    real = Settings.load(desk.data_dir)
    vault = Vault(real.data_dir, use_keyring=real.use_keyring, keyring_timeout=real.keyring_timeout)
    answer: dict[str, Any] = {}

    def ask() -> None:
        try:
            answer["value"] = keyring_backend()
        except Exception as exc:  # a broken backend must become a sentence, not a hang or a crash
            answer["error"] = exc

    # Finding the backend may talk to D-Bus or a desktop service: never wait on it for ever.
    asking = threading.Thread(target=ask, name="selftest-keyring", daemon=True)
    asking.start()
    asking.join(KEYRING_TIMEOUT)
    if asking.is_alive():
        return (
            f"the OS keyring did not say which backend it is within {KEYRING_TIMEOUT:.0f} s; "
            "letzdesk would keep the master key in its key file"
        )
    if "error" in answer:
        raise StepFailed(f"the OS keyring cannot be asked: {_words(answer['error'])}")

    _, name, usable = answer["value"]
    if not vault.tries_keyring:
        store = "its key file"
    elif usable:
        store = "the OS keyring"
    else:
        store = "its key file (letzdesk does not trust this backend with a key)"
    return f"keyring backend {name}; the desk at {real.data_dir} would keep its master key in {store}"


def _sandbox(desk: _Desk) -> str:
    from .sandbox.data import generate_shipments
    from .sandbox.server import SandboxServer

    desk.api_key = "selftest-" + secrets.token_urlsafe(24)
    desk.secrets.append(desk.api_key)
    desk.sandbox = SandboxServer(generate_shipments(SHIPMENTS, SEED), api_key=desk.api_key, host="127.0.0.1", port=0)
    desk.sandbox.start()
    waiting = len(desk.sandbox.state.select("unconfirmed"))
    if not waiting:
        raise StepFailed("the sandbox has no unconfirmed order to import")
    return f"local Letzshop sandbox on {desk.sandbox.url} with {waiting} unconfirmed orders"


def _import(desk: _Desk) -> str:
    from .app import build
    from .services.orders import orders_for

    assert desk.settings is not None
    desk.services = build(desk.settings)
    desk.vendor_id = desk.services.vendors.add(VENDOR_NAME, desk.api_key, desk.sandbox.url)
    run = asyncio.run(desk.services.importer.run(desk.vendor_id, VENDOR_NAME, trigger="self-test"))
    if run.error:
        raise StepFailed(f"the import failed: {run.error}")
    if run.failed:
        raise StepFailed(f"{run.failed} of the sandbox's orders could not be read")

    expected = len(desk.sandbox.state.select("unconfirmed"))
    stored = len(orders_for(desk.services.db))
    if run.imported != expected or stored != expected:
        raise StepFailed(f"{run.imported} orders imported and {stored} stored, but the sandbox has {expected}")
    desk.imported = stored
    return f"{stored} orders imported in {run.pages} pages"


def _answer(desk: _Desk) -> str:
    """Confirm one order as `letzdesk confirm` does: queued with its task, then sent by the worker."""
    services, state = desk.services, desk.sandbox.state
    shipment = state.select("unconfirmed")[0]
    order_pk = services.answers.find_order(desk.vendor_id, shipment["number"])
    queued = services.answers.confirm(desk.vendor_id, order_pk)
    if queued.task_id is None or not queued.units:
        raise StepFailed(f"confirming order {shipment['number']} queued nothing")

    report = asyncio.run(services.worker.drain([desk.vendor_id], trigger="self-test", task_ids=[queued.task_id]))
    task = next(t for t in services.answers.tasks(desk.vendor_id, order_pk=order_pk) if t.id == queued.task_id)
    if task.status != "done":
        why = task.last_error or next(iter(report.held.values()), "") or "no reason given"
        raise StepFailed(f"the answer for order {shipment['number']} ended {task.status}: {why}")

    # The sandbox's own record: each item confirmed exactly once, and nothing else answered.
    for unit_id in queued.units:
        applied = state.answers(unit_id)
        unit = state.unit(unit_id) or {}
        if applied != [True] or unit.get("state") != "confirmed_available":
            raise StepFailed(
                f"the sandbox recorded {len(applied)} answer(s) for an item of order {shipment['number']} "
                f"(state {unit.get('state')}); expected one confirmation"
            )
    if sum(state.answer_counts().values()) != len(queued.units):
        raise StepFailed("the sandbox recorded answers for items that were not confirmed")
    items = f"{len(queued.units)} item{'s' if len(queued.units) != 1 else ''}"
    return f"shipment {shipment['number']}: {items} confirmed through the queue, task #{task.id} done, applied once"


def _window(desk: _Desk) -> str:
    # Before Qt loads: the self-test must run on a machine without a display, and never pop up.
    if not os.environ.get("QT_QPA_PLATFORM"):  # unset or empty: Qt would pick xcb
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        from .ui.selftest_window import check_window
    except ImportError as exc:
        raise StepFailed(f"Qt cannot be loaded: {exc}") from exc
    return check_window(desk.services, desk.imported)


def _https(_desk: _Desk) -> str:
    """The CA bundle the client verifies Letzshop's certificate with; no connection is made."""
    import certifi

    bundle = Path(certifi.where())
    if not bundle.is_file():
        raise StepFailed(f"the certificate bundle for https is missing ({bundle})")
    context = ssl.create_default_context(cafile=str(bundle))
    authorities = context.cert_store_stats().get("x509_ca", 0)
    if not authorities:
        raise StepFailed(f"the certificate bundle {bundle} holds no certificate authority")
    return f"{authorities} certificate authorities loaded from {bundle} ({ssl.OPENSSL_VERSION})"


def _cleanup(desk: _Desk) -> str:
    """Stop what runs and remove the temporary dir, each part also when one before it failed."""
    try:
        if desk.services is not None:
            desk.services.close()
    finally:
        try:
            if desk.sandbox is not None:
                desk.sandbox.stop()
        finally:
            root = logging.getLogger()
            for handler in [h for h in root.handlers if getattr(h, "_letzdesk", False)]:
                root.removeHandler(handler)  # the log file is inside the dir about to go
                handler.close()
            if desk.root is not None:
                shutil.rmtree(desk.root, ignore_errors=True)

    if desk.root is None:
        return "nothing to remove"
    if desk.root.exists():
        raise StepFailed(f"the temporary data dir {desk.root} could not be removed completely")
    return f"removed {desk.root}"


#: (name, steps it needs, body), in order; "cleanup" always runs last.
_STEPS: tuple[tuple[str, tuple[str, ...], Callable[[_Desk], str]], ...] = (
    ("data_dir", (), _data_dir),
    ("database", ("data_dir",), _database),
    ("vault", ("data_dir",), _vault),
    ("keyring", (), _keyring),
    ("sandbox", (), _sandbox),
    ("import", ("database", "vault", "sandbox"), _import),
    ("answer", ("import",), _answer),
    ("window", ("import",), _window),
    ("https", (), _https),
)
