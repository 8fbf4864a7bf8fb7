"""The main window: one tab per job, a menu, and a status bar that says what happened last."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from PySide6.QtCore import QSettings, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSystemTrayIcon,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..app import Services
from ..services.autosync import AutoSync, Due
from ..services.importer import Progress
from ..services.synclog import SyncRun
from .answer_sender import BUSY_NOTE, AnswerSender
from .credentials_tab import CredentialsTab
from .logs_tab import LogsTab
from .notices import Notice, NoticeBar, Notices
from .orders_tab import OrdersTab
from .queue_tab import QueueTab
from .single_instance import bring_forward
from .tray import Tray, app_icon, tooltip_text

#: Said once per data folder, the first time the window closes into the tray.
STILL_RUNNING = Notice(
    "letzdesk is still running",
    "It keeps syncing from the tray. Quit from the tray menu or with File ▸ Quit.",
)


def status_text(schedule: list[Due], failing: int, *, paused: bool = False) -> str:
    """For example "Next sync: Atelier 14:05, Shop now · 2 answers failed" (local times)."""
    now = datetime.now(UTC)
    if paused:
        parts = ["Auto-sync paused"]
    elif schedule:
        times = ", ".join(
            f"{entry.name} {'now' if entry.next_at <= now else entry.next_at.astimezone().strftime('%H:%M')}"
            for entry in sorted(schedule, key=lambda entry: entry.next_at)
        )
        parts = [f"Next sync: {times}"]
    else:
        parts = ["Auto-sync off"]
    if failing:
        parts.append(f"{failing} answer{'s' if failing != 1 else ''} failed")
    return " · ".join(parts)


class MainWindow(QMainWindow):
    #: The vendor (or the system) asked to quit; launch.py shuts down, then ends the loop.
    quit_requested = Signal()

    def __init__(self, services: Services, *, title_suffix: str = "", tray: bool | None = None) -> None:
        """``tray``: whether to live in the system tray (default: when the desktop has one)."""
        super().__init__()
        self.services = services
        self.setWindowTitle(f"letzdesk{title_suffix}")
        self.setWindowIcon(app_icon())
        self.resize(1280, 760)
        # What the window remembers between runs (the pause, what was said once), per data folder.
        self.remembered = QSettings(str(services.settings.data_dir / "window.ini"), QSettings.Format.IniFormat)

        # One sender for the whole window: drains never overlap, whichever tab asks.
        self.answer_sender = AnswerSender(services, self)
        self.orders_tab = OrdersTab(services, self.answer_sender)
        self.queue_tab = QueueTab(services, self.answer_sender)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.orders_tab, "Orders")
        self.tabs.addTab(self.queue_tab, "Queue")
        self.logs_tab = LogsTab(services)
        self.tabs.addTab(self.logs_tab, "Logs")
        self.vendors_tab = CredentialsTab(services)
        self.tabs.addTab(self.vendors_tab, "Vendors")
        # Notices go to the tray when there is one, else to a bar above the tabs.
        self.notices = Notices(self)
        self.notice_bar = NoticeBar()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(6, 6, 6, 0)
        column.addWidget(self.notice_bar)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        available = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
        self.tray: Tray | None = Tray(self) if available else None

        sync = QAction("&Sync now", self, shortcut=QKeySequence("Ctrl+R"))
        sync.triggered.connect(lambda: self.orders_tab.start_sync("user"))
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit_requested.emit)
        self.pause_action = QAction("&Pause auto-sync", self, checkable=True)
        self.pause_action.setToolTip("No vendor syncs on its own until you resume; answers are still sent")
        self.pause_action.toggled.connect(self.set_autosync_paused)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(sync)
        file_menu.addAction(self.pause_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        about = QAction("&About letzdesk", self)
        about.triggered.connect(self._about)
        self.open_logs = QAction("Open &log folder", self)
        self.open_logs.setToolTip("The developer log: what to attach when you report a problem")
        self.open_logs.triggered.connect(self._open_log_folder)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.open_logs)
        help_menu.addAction(about)

        self.statusBar().showMessage(f"Data in {services.settings.data_dir} · keys in {services.vault.describe()}")
        # Always visible on the right: when each vendor syncs next, and answers that need a person.
        self.status_line = QLabel()
        self.sync_progress = QProgressBar()
        self.sync_progress.setRange(0, 0)  # busy: Letzshop does not say how many pages will come
        self.sync_progress.setMaximumWidth(120)
        self.sync_progress.setVisible(False)
        self.statusBar().addPermanentWidget(self.sync_progress)
        self.statusBar().addPermanentWidget(self.status_line)
        #: Set by launch.py when auto-sync runs; the status line reads its schedule.
        self.autosync: AutoSync | None = None
        self._status_task: asyncio.Task[None] | None = None
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self.refresh_status_line)
        self.orders_tab.sync_finished.connect(lambda text: self.statusBar().showMessage(text))
        self.orders_tab.reloaded.connect(self._orders_reloaded)
        self.vendors_tab.vendors_changed.connect(self.orders_tab.reload)
        self.orders_tab.sync_finished.connect(lambda _text: self.vendors_tab.refresh())
        self.answer_sender.message.connect(lambda text: self.statusBar().showMessage(text))
        self.orders_tab.answers_changed.connect(self.queue_tab.reload)
        self.queue_tab.tasks_changed.connect(self.orders_tab.reload)
        self.queue_tab.failed_count_changed.connect(self._queue_failed)
        # Removing a vendor removes its tasks; its failures leave the tab title with it.
        self.vendors_tab.vendors_changed.connect(self.queue_tab.reload)
        # Each import and each send writes a run; the log reads it in once shown, then after each.
        self.orders_tab.sync_finished.connect(lambda _text: self.logs_tab.reload())
        self.answer_sender.drained.connect(lambda _report: self.logs_tab.reload())
        self.answer_sender.drained.connect(lambda _report: self.refresh_status_line())
        self.tabs.currentChanged.connect(self._tab_shown)

        # What needs a person, and the tray's menu.
        self.notices.notice.connect(self.tell)
        self.orders_tab.synced.connect(self._synced)
        self.orders_tab.syncing_changed.connect(self._syncing_changed)
        self.answer_sender.drained.connect(self.notices.drained)
        if self.tray is not None:
            self.tray.open_requested.connect(lambda: bring_forward(self))
            self.tray.sync_requested.connect(lambda: self.orders_tab.start_sync("user"))
            self.tray.pause_toggled.connect(self.set_autosync_paused)
            self.tray.quit_requested.connect(self.quit_requested.emit)
            self.tray.show()
        self._show_paused(self.autosync_paused)

    # -- auto-sync, pause, notices --------------------------------------------------------------

    @property
    def autosync_paused(self) -> bool:
        return self.remembered.value("autosync/paused", False, type=bool)

    def attach_autosync(self, autosync: AutoSync) -> None:
        """launch.py hands over the running auto-sync; it takes the remembered pause and reports here."""
        self.autosync = autosync
        autosync.paused = self.autosync_paused
        autosync.progress = self._auto_progress
        autosync.after_tick = self.auto_synced

    def set_autosync_paused(self, paused: bool) -> None:
        """Pause or resume every vendor's auto-sync, from the File menu or the tray; remembered."""
        self.remembered.setValue("autosync/paused", paused)
        self.remembered.sync()
        if self.autosync is not None:
            self.autosync.paused = paused
        self._show_paused(paused)
        self.statusBar().showMessage("Auto-sync paused" if paused else "Auto-sync resumed")
        self.refresh_status_line()

    def _show_paused(self, paused: bool) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)
        if self.tray is not None:
            self.tray.set_paused(paused)

    def tell(self, notice: Notice) -> None:
        """A notice in the tray when it is there, else in the bar inside the window."""
        if self.tray is not None and self.tray.visible:
            self.tray.tell(notice)
        else:
            self.notice_bar.show_notice(notice)

    def _synced(self, runs: list[SyncRun], trigger: str) -> None:
        # A vendor who pressed Sync in the open window sees the new orders already.
        self.notices.runs_finished(runs, tell_new_orders=trigger != "user" or not self.isVisible())

    def _syncing_changed(self, syncing: bool) -> None:
        self.sync_progress.setVisible(syncing)
        if self.tray is not None:
            self.tray.set_syncing(syncing)

    def _auto_progress(self, progress: Progress) -> None:
        self.sync_progress.setVisible(True)
        pages = f": page {progress.pages}, {progress.fetched} orders read" if progress.pages else "…"
        self.statusBar().showMessage(f"Auto-sync of {progress.vendor_name}{pages}")

    def refresh_status_line(self) -> asyncio.Task[None]:
        """Re-read the schedule and the failed answers (in a thread) into the status line."""
        if self._status_task is None or self._status_task.done():
            self._status_task = asyncio.ensure_future(self._refresh_status_line())
        return self._status_task

    def start_status_updates(self, interval_ms: int = 60_000) -> None:
        """Keep the status line current while the window runs (launch.py starts it, shutdown stops it)."""
        self.refresh_status_line()
        self._status_timer.start(interval_ms)

    async def _refresh_status_line(self) -> None:
        clocks = await asyncio.to_thread(self.autosync.clocks) if self.autosync else []
        failing = sum((await asyncio.to_thread(self.services.answers.failing_counts)).values())
        schedule = [Due(c.vendor_id, c.name, c.next_at) for c in clocks if c.next_at is not None]
        paused = self.autosync_paused
        self.status_line.setText(status_text(schedule, failing, paused=paused))
        summary = tooltip_text(clocks, paused=paused, failing=failing)
        self.status_line.setToolTip(summary)
        if self.tray is not None:
            self.tray.set_tooltip(summary)

    def auto_synced(self, runs: list) -> None:
        """After an auto-sync tick: fresh tables, and a line when something arrived or failed."""
        self.sync_progress.setVisible(self.orders_tab.syncing)
        self.refresh_status_line()
        if not runs:
            return
        self.notices.runs_finished(runs)
        self.orders_tab.reload()
        self.logs_tab.reload()
        self.vendors_tab.refresh()
        new = sum(run.imported for run in runs)
        failed = [run.vendor_name for run in runs if run.error]
        parts = [f"Auto-sync: {new} new order{'s' if new != 1 else ''}"]
        if failed:
            parts.append("failed for " + ", ".join(failed))
        self.statusBar().showMessage("; ".join(parts))

    def _orders_reloaded(self, count: int) -> None:
        self.tabs.setTabText(self.tabs.indexOf(self.orders_tab), f"Orders ({count})")

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.logs_tab and not self.logs_tab.loaded:
            self.logs_tab.reload()

    def _queue_failed(self, failed: int) -> None:
        self.tabs.setTabText(self.tabs.indexOf(self.queue_tab), f"Queue ({failed} failed)" if failed else "Queue")

    async def start_sending(self, interval_ms: int) -> bool:
        """Become this data folder's sender (in a thread: it may recover crashed tasks), then look
        for due answers every ``interval_ms``. False, with a note, when another letzdesk sends."""
        owner = await asyncio.to_thread(self.services.worker.start)
        if not owner:
            self.statusBar().showMessage(BUSY_NOTE)
        await self.queue_tab.reload()
        self.answer_sender.start_periodic(interval_ms)
        return owner

    async def shutdown(self) -> None:
        """Stop the sending first (an interrupted send is marked to be read back), then each tab."""
        self._status_timer.stop()
        if self._status_task is not None and not self._status_task.done():
            self._status_task.cancel()
        if self.tray is not None:
            self.tray.hide()
        await self.answer_sender.shutdown()
        await self.orders_tab.shutdown()
        await self.queue_tab.shutdown()
        await self.logs_tab.shutdown()
        await self.vendors_tab.shutdown()

    def _open_log_folder(self) -> None:
        folder = self.services.settings.log_dir
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            # No file manager (a bare desktop): say where it is instead.
            self.statusBar().showMessage(f"The log folder is {folder}")

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About letzdesk",
            f"<b>letzdesk {__version__}</b><p>Order desk for Letzshop vendors.</p>"
            f"<p>Data: {self.services.settings.data_dir}</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tray is not None and self.tray.visible:
            # The tray keeps letzdesk running; said once per data folder, the first time.
            event.ignore()
            self.hide()
            if not self.remembered.value("tray/told_still_running", False, type=bool):
                self.tray.tell(STILL_RUNNING)
                self.remembered.setValue("tray/told_still_running", True)
                self.remembered.sync()
            return
        # No tray: closing the window quits, after the shutdown has stopped syncs and sends.
        event.accept()
        self.quit_requested.emit()
