"""Table model of the answer queue: one row per task, sorted by value, filtered by vendor and state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from ..services.outbox import CANCELLED, DONE, FAILED, IN_FLIGHT, PENDING, TaskView
from .table_model import ROW_ROLE, SORT_ROLE, Index, RowsTableModel

VENDOR, ORDER, ANSWER, STATE, ATTEMPTS, NEXT, QUEUED, ERROR = range(8)
HEADERS = ("Vendor", "Order", "Answer", "State", "Attempts", "Next attempt", "Queued", "Last error")

#: Task statuses in words, in the order the state filter offers them.
STATE_WORDS = {PENDING: "Waiting", IN_FLIGHT: "Sending", FAILED: "Failed", DONE: "Done", CANCELLED: "Cancelled"}
#: Sorting by state puts what needs a person first.
_STATE_RANK = {FAILED: 0, IN_FLIGHT: 1, PENDING: 2, DONE: 3, CANCELLED: 4}
_STATE_COLOUR = {FAILED: QColor("#b3261e"), DONE: QColor("#1e7b34"), CANCELLED: QColor("#5f6368")}


def state_text(task: TaskView, behind_failed: bool = False) -> str:
    if task.status == PENDING and behind_failed:
        return "Behind a failed answer"
    if task.status == PENDING and task.dry_run:
        return "Held: dry run"
    if task.status == PENDING and (task.attempts or task.last_error):
        return "Waiting to retry"
    return STATE_WORDS.get(task.status, task.status)


def order_text(task: TaskView) -> str:
    numbers = [n for n in (task.order_number, task.shipment_number) if n]
    return " / ".join(dict.fromkeys(numbers)) or f"order {task.order_pk}"


def local_time(when: datetime, now: datetime | None = None) -> str:
    """Local time; the date only when it is not today."""
    local = when.astimezone()
    today = (now or datetime.now().astimezone()).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")


def behind_failed(tasks: list[TaskView]) -> set[int]:
    """Waiting tasks that an earlier failed task of the same order holds back: the worker sends an
    order's tasks in order, so these go out only once the failed one is retried or cancelled."""
    first_failed: dict[int, int] = {}
    for task in tasks:
        if task.status == FAILED:
            first_failed[task.order_pk] = min(task.id, first_failed.get(task.order_pk, task.id))
    return {
        task.id
        for task in tasks
        if task.status == PENDING and task.order_pk in first_failed and first_failed[task.order_pk] < task.id
    }


class QueueTableModel(RowsTableModel[TaskView]):
    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._blocked: set[int] = set()

    def set_rows(self, rows: list[TaskView]) -> None:
        self._blocked = behind_failed(rows)
        super().set_rows(rows)

    def state_text(self, task: TaskView) -> str:
        return state_text(task, task.id in self._blocked)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        task = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.state_text(task) if column == STATE else self._display(task, column)
        if role == SORT_ROLE:
            return self._sort_value(task, column)
        if role == ROW_ROLE:
            return task
        if role == Qt.ItemDataRole.ToolTipRole and column == ERROR:
            return self._display(task, column) or None
        if role == Qt.ItemDataRole.ToolTipRole and column == ANSWER:
            return _payload_text(task)
        if role == Qt.ItemDataRole.ToolTipRole and column == STATE and task.id in self._blocked:
            return "Sent once the failed answer of this order is retried or cancelled."
        if role == Qt.ItemDataRole.ForegroundRole and column in (STATE, ERROR):
            return _STATE_COLOUR.get(task.status) if column == STATE or task.status == FAILED else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == ATTEMPTS:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    @staticmethod
    def _display(task: TaskView, column: int) -> str:
        if column == VENDOR:
            return task.vendor_name
        if column == ORDER:
            return order_text(task)
        if column == ANSWER:
            return task.summary
        if column == STATE:
            return state_text(task)
        if column == ATTEMPTS:
            return f"{task.attempts} of {task.max_attempts}"
        if column == NEXT:
            if task.status != PENDING:
                return ""
            return "held" if task.dry_run else local_time(task.next_attempt_at)
        if column == QUEUED:
            return local_time(task.created_at)
        # An old retry note on a task that went through later is no longer news.
        return "" if task.status == DONE else (task.last_error or "")

    @staticmethod
    def _sort_value(task: TaskView, column: int) -> Any:
        # Values, never display strings: times as timestamps, attempts as counts.
        if column == STATE:
            return _STATE_RANK.get(task.status, 9)
        if column == ATTEMPTS:
            return task.attempts
        if column == NEXT:
            return task.next_attempt_at.timestamp() if task.status == PENDING else float("inf")
        if column == QUEUED:
            return task.id  # ids grow with time and break ties between tasks of the same second
        return QueueTableModel._display(task, column).casefold()


def _payload_text(task: TaskView) -> str:
    lines = [task.summary]
    if task.payload.get("reason"):
        lines.append(f"Reason: {task.payload['reason']}")
    return "\n".join(lines)


class QueueFilterProxy(QSortFilterProxyModel):
    """Vendor and state filters over the loaded tasks: instant, no database round trip."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._vendor_id: int | None = None
        self._status: str | None = None
        self.setSortRole(SORT_ROLE)

    def set_vendor(self, vendor_id: int | None) -> None:
        self.beginFilterChange()
        self._vendor_id = vendor_id
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str | None) -> None:
        self.beginFilterChange()
        self._status = status or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        task = self.sourceModel().row_at(source_row)  # type: ignore[attr-defined]
        if self._vendor_id is not None and task.vendor_id != self._vendor_id:
            return False
        return self._status is None or task.status == self._status
