"""The tray icon: letzdesk keeps syncing with its window closed, and says what needs a person.

Only where the desktop has a tray (``QSystemTrayIcon.isSystemTrayAvailable()``); GNOME without
an extension and a bare X server have none, and then closing the window quits (main_window.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ..services.autosync import VendorClock
from .notices import WARNING, Notice

#: How long a tray message stays up, in milliseconds.
MESSAGE_MS = 8_000


def app_icon() -> QIcon:
    """letzdesk's icon, from the package (also inside the frozen app)."""
    return QIcon(str(resources.files("letzdesk") / "resources" / "letzdesk.svg"))


def _local(when: datetime) -> str:
    local = when.astimezone()
    today = datetime.now(UTC).astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d %b %H:%M")


def tooltip_text(clocks: list[VendorClock], *, paused: bool, failing: int) -> str:
    """For example "letzdesk · Shop: synced 14:02, next 14:32 · 2 answers failed" on separate lines."""
    now = datetime.now(UTC)
    lines = ["letzdesk" + (" — auto-sync paused" if paused else "")]
    for clock in clocks:
        last = "never synced"
        if clock.last_at is not None:
            last = ("sync failed " if clock.last_status == "failed" else "synced ") + _local(clock.last_at)
        upcoming = ""
        if clock.next_at is not None:
            upcoming = ", next " + ("now" if clock.next_at <= now else _local(clock.next_at))
        lines.append(f"{clock.name}: {last}{upcoming}")
    if not clocks:
        lines.append("No vendor yet")
    if failing:
        lines.append(f"{failing} answer{'s' if failing != 1 else ''} failed")
    return "\n".join(lines)


class Tray(QObject):
    """The icon and its menu; the window connects the menu's signals to what they do."""

    open_requested = Signal()
    sync_requested = Signal()
    pause_toggled = Signal(bool)
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.menu = QMenu()
        self.open_action = QAction("Open letzdesk", self.menu)
        self.open_action.triggered.connect(self.open_requested.emit)
        self.sync_action = QAction("Sync all now", self.menu)
        self.sync_action.triggered.connect(self.sync_requested.emit)
        self.pause_action = QAction("Pause auto-sync", self.menu)
        self.pause_action.triggered.connect(lambda: self.pause_toggled.emit(not self.paused))
        #: As last shown; the window decides (set_paused), the menu only asks.
        self.paused = False
        self.quit_action = QAction("Quit letzdesk", self.menu)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        for action in (self.open_action, self.sync_action, self.pause_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.setToolTip("letzdesk")

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    @property
    def visible(self) -> bool:
        return self.icon.isVisible()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.pause_action.setText("Resume auto-sync" if paused else "Pause auto-sync")

    def set_syncing(self, syncing: bool) -> None:
        self.sync_action.setEnabled(not syncing)
        self.sync_action.setText("Syncing…" if syncing else "Sync all now")

    def set_tooltip(self, text: str) -> None:
        self.icon.setToolTip(text)

    def tell(self, notice: Notice) -> None:
        icons = QSystemTrayIcon.MessageIcon
        kind = icons.Warning if notice.level == WARNING else icons.Information
        self.icon.showMessage(notice.title, notice.text, kind, MESSAGE_MS)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A click (or double click) on the icon opens the window; the menu has the rest.
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()
