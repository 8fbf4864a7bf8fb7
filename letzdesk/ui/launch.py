"""Start the window on the qasync loop (the Qt loop is the asyncio loop) and shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

# isort: split
import qasync  # after PySide6, so qasync binds to it

from ..app import Services, build, prepare_demo, setup_logging
from ..services.autosync import AutoSync
from ..settings import Settings
from ..vault import KeyringUnavailable, PassphraseRequired
from .answer_sender import DRAIN_INTERVAL_MS
from .main_window import MainWindow
from .single_instance import SingleInstance, bring_forward
from .tray import app_icon

logger = logging.getLogger(__name__)

#: How often the window asks the database which vendors are due for their auto-sync.
AUTOSYNC_TICK_SECONDS = 60.0


async def _run(window: MainWindow) -> None:
    # Quit requests only set this; the loop ends after the shutdown below, so syncs and sends are
    # stopped and recorded before anything is torn down.
    quit_requested = asyncio.Event()
    window.quit_requested.connect(quit_requested.set)
    QApplication.instance().aboutToQuit.connect(quit_requested.set)
    window.show()
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
    first_tick.cancel()
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


def _quit_on_signals(request_quit: Callable[[], None]) -> QTimer:
    """Ctrl-C and SIGTERM quit like the Quit menu, so the demo cleans up after itself."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: request_quit())
    # Python runs signal handlers only when it gets control; an idle timer gives it that.
    timer = QTimer()
    timer.start(250)
    timer.timeout.connect(lambda: None)
    return timer


def _open_vault(services: Services) -> bool:
    """Open the master-key store before the window (never on the GUI thread later); ask for the
    passphrase when the key file is sealed, offer to try again while the OS keyring is locked.
    False when the user gives up."""
    message = ""
    while True:
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

    demo_env = None
    instance = None  # the demo's data dir is new each time, so it never meets another window
    try:
        if demo:
            demo_env, services = prepare_demo()
        else:
            settings = Settings.load(data_dir)
            setup_logging(settings, verbose=verbose)
            # Before the database opens: a second window on the same data dir only shows the first.
            instance = SingleInstance(settings.data_dir)
            if not instance.claim():
                print(f"letzdesk already runs with {settings.data_dir}; showing its window.", file=sys.stderr)
                return 0
            services = build(settings)
        if not _open_vault(services):
            services.close()
            _release(instance)
            return 1
    except Exception as exc:
        logger.exception("letzdesk could not start")
        _release(instance)
        QMessageBox.critical(None, "letzdesk cannot start", str(exc))
        return 1

    signal_timer = _quit_on_signals(app.quit)  # until the window takes over quitting
    try:
        return _run_loop(app, services, demo_env, instance)
    finally:
        signal_timer.stop()
        _release(instance)


def _release(instance: SingleInstance | None) -> None:
    if instance is not None:
        instance.release()


def _run_loop(app: QApplication, services: Services, demo_env: object | None, instance: SingleInstance | None) -> int:
    window = MainWindow(services, title_suffix=" — demo (local sandbox, nothing reaches Letzshop)" if demo_env else "")
    if instance is not None:
        instance.show_requested.connect(lambda: bring_forward(window))
    _quit_on_signals(window.quit_requested.emit)
    # Closing the window asks to quit (quit_requested); the loop must outlive it for the shutdown.
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_until_complete(_run(window))
    finally:
        services.close()
        if demo_env is not None:
            demo_env.close()  # type: ignore[attr-defined]
    return 0
