"""Start the window on the qasync loop (the Qt loop is the asyncio loop) and shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

# isort: split
import qasync  # after PySide6, so qasync binds to it
import sqlalchemy.exc

from ..app import Services, build, prepare_demo, setup_logging
from ..services.autosync import AutoSync
from ..settings import Settings
from ..store.db import DB_FILENAME, describe_failure
from ..vault import KeyringUnavailable, PassphraseRequired
from .answer_sender import DRAIN_INTERVAL_MS
from .main_window import MainWindow
from .single_instance import LOCK_NAME, SingleInstance, bring_forward
from .tray import app_icon

logger = logging.getLogger(__name__)

#: How often the window asks the database which vendors are due for their auto-sync.
AUTOSYNC_TICK_SECONDS = 60.0


class QuitRequest:
    """A quit asked for by Ctrl-C or SIGTERM, remembered until someone can act on it.

    A signal can come at any moment of the start: before the window exists, while it is built,
    or before the loop runs. Whoever takes over quitting later still sees a request made earlier.
    """

    def __init__(self) -> None:
        self.requested = False
        self._handlers: list[Callable[[], None]] = []

    def request(self) -> None:
        self.requested = True
        for handler in list(self._handlers):
            handler()

    def hand_to(self, handler: Callable[[], None]) -> None:
        """From now on ``handler`` acts on a request; at once if one was made already."""
        self._handlers = [handler]
        if self.requested:
            handler()


def _close_dialog() -> None:
    """Before the window runs, a quit closes the dialog that is open (passphrase, keyring)."""
    dialog = QApplication.activeModalWidget()
    if dialog is not None:
        dialog.close()


async def _run(window: MainWindow, quit_request: QuitRequest | None = None) -> None:
    # Quit requests only set this; the loop ends after the shutdown below, so syncs and sends are
    # stopped and recorded before anything is torn down.
    quit_requested = asyncio.Event()
    window.quit_requested.connect(quit_requested.set)
    QApplication.instance().aboutToQuit.connect(quit_requested.set)
    if quit_request is not None:
        quit_request.hand_to(quit_requested.set)
    window.show()
    autosync: AutoSync | None = None
    first_tick: asyncio.Future[object] | None = None
    try:
        await window.orders_tab.reload()
        # Answers left from the last session go out now, then whatever falls due every 30 seconds.
        if await window.start_sending(DRAIN_INTERVAL_MS):
            window.answer_sender.request(None, trigger="startup")
        # Auto-sync: each tick decides from the database which vendors are due.
        autosync = AutoSync(window.services.db, window.services.importer, window.services.worker)
        window.attach_autosync(autosync)
        autosync.start_timer(AUTOSYNC_TICK_SECONDS)
        window.start_status_updates()
        # A restart (or a morning start) catches up at once, once, instead of waiting for the timer;
        # the demo's vendor was never synced, so its orders arrive this way too.
        first_tick = asyncio.ensure_future(autosync.tick("startup"))
        await quit_requested.wait()
    finally:
        # Also when the start failed (a read-only or damaged database): nothing is left running.
        if first_tick is not None:
            first_tick.cancel()
        if autosync is not None:
            await autosync.stop()
        await window.shutdown()


def _no_display() -> bool:
    """True on a Linux machine without X11 or Wayland, where Qt would abort instead of explaining."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


def _quit_on_signals(quit_request: QuitRequest) -> QTimer:
    """Ctrl-C and SIGTERM quit like the Quit menu, so the demo cleans up after itself."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: quit_request.request())
    # Python runs signal handlers only when it gets control; an idle timer gives it that.
    timer = QTimer()
    timer.start(250)
    timer.timeout.connect(lambda: None)
    return timer


def _open_vault(services: Services, quit_request: QuitRequest) -> bool:
    """Open the master-key store before the window (never on the GUI thread later); ask for the
    passphrase when the key file is sealed, offer to try again while the OS keyring is locked.
    False when the user gives up."""
    message = ""
    while not quit_request.requested:
        try:
            services.vault.describe()
            return True
        except PassphraseRequired as exc:
            message = str(exc)
        except KeyringUnavailable as exc:
            # Locked, or its prompt unanswered: nothing was written; try again once it is unlocked.
            buttons = QMessageBox.StandardButton.Retry | QMessageBox.StandardButton.Close
            if QMessageBox.warning(None, "letzdesk — keyring", str(exc), buttons) == QMessageBox.StandardButton.Retry:
                continue
            return False
        text, ok = QInputDialog.getText(
            None,
            "letzdesk — passphrase",
            f"{message}\n\nPassphrase for the API keys on this computer:",
            QLineEdit.EchoMode.Password,
        )
        if not ok:
            return False
        try:
            services.vault.unlock(text)
            return True
        except PassphraseRequired as exc:
            message = str(exc)
    return False


def run_window(*, data_dir: str | None = None, demo: bool = False, verbose: bool = False) -> int:
    if _no_display() and QApplication.instance() is None:
        print(
            "letzdesk: no display found (DISPLAY and WAYLAND_DISPLAY are unset). Use the command line "
            "(letzdesk --help), or run the window under a desktop session.",
            file=sys.stderr,
        )
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("letzdesk")
    app.setOrganizationName("letzdesk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(True)
    # From here on a signal is never lost: a dialog open now closes, and the window sees it later.
    quit_request = QuitRequest()
    quit_request.hand_to(_close_dialog)
    signal_timer = _quit_on_signals(quit_request)
    try:
        return _start(app, data_dir, demo, verbose, quit_request)
    finally:
        signal_timer.stop()


def _start(app: QApplication, data_dir: str | None, demo: bool, verbose: bool, quit_request: QuitRequest) -> int:
    demo_env = None
    instance = None  # the demo's data dir is new each time, so it never meets another window
    try:
        if demo:
            demo_env, services = prepare_demo(verbose=verbose)
        else:
            settings = Settings.load(data_dir)
            setup_logging(settings, verbose=verbose)
            # Before the database opens: a second window on the same data dir only shows the first.
            instance = SingleInstance(settings.data_dir)
            if not instance.claim():
                if instance.answered:
                    print(f"letzdesk already runs with {settings.data_dir}; showing its window.", file=sys.stderr)
                    return 0
                print(
                    f"letzdesk: another letzdesk holds {settings.data_dir} (see {LOCK_NAME} there) but did not "
                    "answer. If its window is open, use it; if it is stuck, close it (or end it in the task "
                    "manager) and start letzdesk again.",
                    file=sys.stderr,
                )
                return 1
            services = build(settings)
        if not _open_vault(services, quit_request):
            services.close()
            if demo_env is not None:
                demo_env.close()  # type: ignore[attr-defined]
            _release(instance)
            return 0 if quit_request.requested else 1
    except Exception as exc:
        logger.exception("letzdesk could not start")
        _release(instance)
        QMessageBox.critical(None, "letzdesk cannot start", str(exc))
        return 1

    try:
        return _run_loop(app, services, demo_env, instance, quit_request)
    finally:
        _release(instance)


def _release(instance: SingleInstance | None) -> None:
    if instance is not None:
        instance.release()


def _run_loop(
    app: QApplication,
    services: Services,
    demo_env: object | None,
    instance: SingleInstance | None,
    quit_request: QuitRequest,
) -> int:
    window = MainWindow(services, title_suffix=" — demo (local sandbox, nothing reaches Letzshop)" if demo_env else "")
    if instance is not None:
        instance.show_requested.connect(lambda: bring_forward(window))
    # Closing the window asks to quit (quit_requested); the loop must outlive it for the shutdown.
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_until_complete(_run(window, quit_request))
    except (OSError, sqlalchemy.exc.DatabaseError, sqlite3.DatabaseError) as exc:
        # The machine refused the database or a file after the window opened: say so in words.
        logger.exception("letzdesk stopped")
        quit_request.hand_to(_close_dialog)  # a signal now closes the message, as at the start
        message = describe_failure(exc, services.settings.data_dir / DB_FILENAME)
        QMessageBox.critical(None, "letzdesk cannot go on", f"letzdesk stopped: {message}")
        return 1
    finally:
        services.close()
        if demo_env is not None:
            demo_env.close()  # type: ignore[attr-defined]
    return 0
