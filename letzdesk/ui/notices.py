"""What is worth telling the vendor unasked, and the bar that tells it when there is no tray.

A sync or a drain reports what happened; only some of it needs a person: new orders, an answer
Letzshop refused for good, a refused key, a changed API. A standing problem (the key stays refused
at every tick, drift holds answers at every drain) is told once, and again only after it cleared.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..letzshop.errors import AuthError, SchemaDriftError
from ..services.synclog import SyncRun
from ..services.worker import DrainReport

logger = logging.getLogger(__name__)

INFO = "info"
WARNING = "warning"

#: How both the import's and the queue's words for a changed Letzshop API begin.
DRIFT_PREFIX = "Letzshop's API has changed"

#: How many notices the in-window bar keeps (newest first); older ones are in the Logs tab.
BAR_LINES = 3


@dataclass(frozen=True)
class Notice:
    title: str
    text: str
    level: str = INFO

    @property
    def line(self) -> str:
        return f"{self.title}: {self.text}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class Notices(QObject):
    """Turns sync runs and drain reports into notices, each standing problem once."""

    notice = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: (vendor name, kind) of the problems already told and not yet cleared.
        self._standing: set[tuple[str, str]] = set()

    def runs_finished(self, runs: list[SyncRun], *, tell_new_orders: bool = True) -> list[Notice]:
        notices = []
        for run in runs:
            if run.error:
                notices += self._problem_run(run)
                continue
            self._clear(run.vendor_name, "key", "drift")
            if run.imported and tell_new_orders:
                notices.append(Notice(run.vendor_name, f"{_plural(run.imported, 'new order')} from Letzshop"))
        return self._emit(notices)

    def drained(self, report: DrainReport) -> list[Notice]:
        notices = []
        if report.failed:
            notices.append(
                Notice(
                    "Answers refused",
                    f"Letzshop refused {_plural(report.failed, 'answer')}; the Queue tab says why.",
                    WARNING,
                )
            )
        for name, reason in report.held.items():
            # Told once a session: the Vendors tab shows it for as long as it lasts.
            if reason.startswith(DRIFT_PREFIX):
                notices += self._once(name, "held", Notice(name, reason, WARNING))
        return self._emit(notices)

    def _problem_run(self, run: SyncRun) -> list[Notice]:
        error = run.error or ""
        if error.startswith(AuthError.user_message):
            return self._once(run.vendor_name, "key", Notice(run.vendor_name, AuthError.user_message, WARNING))
        if error.startswith(SchemaDriftError.user_message):
            return self._once(run.vendor_name, "drift", Notice(run.vendor_name, SchemaDriftError.user_message, WARNING))
        return []  # a network hiccup: the Logs tab has it, and the next sync tries again

    def _once(self, vendor: str, kind: str, notice: Notice) -> list[Notice]:
        if (vendor, kind) in self._standing:
            return []
        self._standing.add((vendor, kind))
        return [notice]

    def _clear(self, vendor: str, *kinds: str) -> None:
        for kind in kinds:
            self._standing.discard((vendor, kind))

    def _emit(self, notices: list[Notice]) -> list[Notice]:
        for notice in notices:
            logger.info("Notice for the vendor: %s", notice.title)
            self.notice.emit(notice)
        return notices


class NoticeBar(QFrame):
    """A calm bar at the top of the window for notices, where no tray can show them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#noticeBar { background: #fff6d9; border: 1px solid #e3cf8f; border-radius: 4px; }")
        self.lines = QLabel()
        self.lines.setTextFormat(Qt.TextFormat.PlainText)
        self.lines.setWordWrap(True)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide these notices (they stay in the Logs and Queue tabs)")
        close.clicked.connect(self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        text = QVBoxLayout()
        text.addWidget(self.lines)
        row.addLayout(text, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._shown: list[Notice] = []
        self.setVisible(False)

    def show_notice(self, notice: Notice) -> None:
        self._shown = [notice, *self._shown][:BAR_LINES]
        self.lines.setText("\n".join(("⚠ " if n.level == WARNING else "• ") + n.line for n in self._shown))
        self.setVisible(True)

    def dismiss(self) -> None:
        self._shown = []
        self.lines.clear()
        self.setVisible(False)
