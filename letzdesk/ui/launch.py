"""Start the window on the qasync loop (the Qt loop is the asyncio loop) and shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import sys

from PySide6.QtWidgets import QApplication, QMessageBox

# isort: split
import qasync  # after PySide6, so qasync binds to it

from ..app import Services, build, prepare_demo, setup_logging
from ..settings import Settings
from .main_window import MainWindow

logger = logging.getLogger(__name__)


async def _run(window: MainWindow, *, sync_at_start: bool) -> None:
    quit_requested = asyncio.Event()
    QApplication.instance().aboutToQuit.connect(quit_requested.set)
    window.show()
    await window.orders_tab.reload()
    if sync_at_start:
        window.orders_tab.start_sync("startup")
    await quit_requested.wait()
    await window.orders_tab.shutdown()


def run_window(*, data_dir: str | None = None, demo: bool = False, verbose: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("letzdesk")
    app.setOrganizationName("letzdesk")
    app.setQuitOnLastWindowClosed(True)

    demo_env = None
    try:
        if demo:
            demo_env, services = prepare_demo()
        else:
            settings = Settings.load(data_dir)
            setup_logging(settings, verbose=verbose)
            services = build(settings)
    except Exception as exc:
        logger.exception("letzdesk could not start")
        QMessageBox.critical(None, "letzdesk cannot start", str(exc))
        return 1

    return _run_loop(app, services, demo_env)


def _run_loop(app: QApplication, services: Services, demo_env: object | None) -> int:
    window = MainWindow(services, title_suffix=" — demo (local sandbox, nothing reaches Letzshop)" if demo_env else "")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_until_complete(_run(window, sync_at_start=demo_env is not None))
    finally:
        services.close()
        if demo_env is not None:
            demo_env.close()  # type: ignore[attr-defined]
    return 0
