"""The window step of ``letzdesk --self-test``: the real main window, shown for a moment.

A frozen letzdesk can lack a Qt platform plugin or a library the plugin needs; Qt then aborts
the whole process, and the self-test could report nothing at all. So the plugin is found and
loaded through ``QPluginLoader`` first (the metadata Qt itself matches platform names against),
and a missing one becomes a sentence instead of a crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QPluginLoader
from PySide6.QtWidgets import QApplication

# isort: split
import qasync  # after PySide6, so qasync binds to it

from ..app import Services
from .main_window import MainWindow

logger = logging.getLogger(__name__)

#: Time for one reload of the orders table and the window's first paint, at most.
DEADLINE_SECONDS = 20.0


class WindowCheckFailed(RuntimeError):
    """The window could not be shown or did not show what it should; the message says what."""


def platform_problem() -> str | None:
    """Why Qt would abort on the platform QT_QPA_PLATFORM names, or None when its plugin loads."""
    wanted = [part.split(":")[0].strip().lower() for part in os.environ.get("QT_QPA_PLATFORM", "").split(";")]
    wanted = [name for name in wanted if name]
    if not wanted:
        return None  # Qt picks the system's own platform; nothing to check ahead

    folders = [Path(os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"])] if os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH") else []
    folders += [Path(path) / "platforms" for path in QCoreApplication.libraryPaths()]
    # Qt also looks beside the program once the application exists (a frozen letzdesk may put them there).
    folders.append(Path(sys.executable).resolve().parent / "platforms")
    failures = []
    for folder in folders:
        for path in sorted(folder.glob("*")) if folder.is_dir() else ():
            loader = QPluginLoader(str(path.resolve()))
            keys = [str(key).lower() for key in loader.metaData().get("MetaData", {}).get("Keys", [])]
            if not set(keys) & set(wanted):
                continue
            # Loading resolves the plugin's own libraries (libxcb-cursor on a bare Linux, say).
            if loader.load():
                logger.debug("Qt platform plugin %s loads", path)
                return None
            failures.append(loader.errorString())
    names = " or ".join(repr(name) for name in wanted)
    if failures:
        logger.error("Qt platform plugin %s does not load: %s", names, "; ".join(failures))
        return f"Qt's {names} display plugin is there but does not load: {failures[0]}"
    searched = ", ".join(str(folder) for folder in folders) or "no folder"
    logger.error("No Qt platform plugin %s in %s", names, searched)
    return f"Qt's {names} display plugin is missing from this letzdesk (looked in {searched})"


def check_window(services: Services, expected_rows: int, seconds: float = 0.5) -> str:
    """Show the main window on ``services`` on a qasync loop, check it painted and lists
    ``expected_rows`` orders, shut it down; return what was seen, raise WindowCheckFailed if not."""
    problem = platform_problem()
    if problem:
        raise WindowCheckFailed(problem)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            detail = loop.run_until_complete(
                asyncio.wait_for(_show(services, expected_rows, seconds), DEADLINE_SECONDS)
            )
    except TimeoutError:
        raise WindowCheckFailed(f"the window did not finish drawing within {DEADLINE_SECONDS:.0f} s") from None
    finally:
        asyncio.set_event_loop(None)
    # The window was deleteLater()'d: delete it now, while Qt is still whole.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return f"{detail} on Qt platform {app.platformName()!r}"


async def _show(services: Services, expected_rows: int, seconds: float) -> str:
    window = MainWindow(services, title_suffix=" — self-test")
    try:
        window.show()
        await window.orders_tab.reload()

        # Let Qt lay out and paint, as a vendor would see it.
        await asyncio.sleep(seconds)

        rows = window.orders_tab.model.rowCount()
        if rows != expected_rows:
            raise WindowCheckFailed(f"the orders table shows {rows} orders, not the {expected_rows} imported")
        if window.orders_tab.stack.currentWidget() is not window.orders_tab.table:
            raise WindowCheckFailed("the orders tab shows its empty page instead of the table")
        image = window.grab().toImage()
        if image.isNull() or image.width() == 0 or image.height() == 0:
            raise WindowCheckFailed("the window drew nothing (its picture is empty)")

        # One flat colour means nothing was painted: count colours on a coarse grid.
        step_x, step_y = max(1, image.width() // 40), max(1, image.height() // 40)
        colours = {image.pixel(x, y) for x in range(0, image.width(), step_x) for y in range(0, image.height(), step_y)}
        if len(colours) < 3:
            raise WindowCheckFailed(f"the window's picture has only {len(colours)} colour(s): nothing was drawn")
        return f"main window drawn at {image.width()}x{image.height()} with {rows} orders in the table"
    finally:
        await window.shutdown()
        window.hide()
        window.deleteLater()
