"""Table model of the sync log: one row per run, sorted by value, filtered by vendor, operation and status."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from ..services.synclog import FAILED, PARTIAL, SUCCESS
from ..store.models import SyncLog
from .queue_model import local_time
from .table_model import ROW_ROLE, SORT_ROLE, Index, RowsTableModel

VENDOR, OPERATION, DIRECTION, STATUS, COUNTS, STARTED, DURATION, TRIGGER = range(8)
HEADERS = ("Vendor", "Operation", "Direction", "Status", "Counts", "Started", "Duration", "Trigger")

OPERATIONS = ("import orders", "send answers")
STATUS_WORDS = {SUCCESS: "Success", PARTIAL: "Partial", FAILED: "Failed"}
#: Sorting by status puts what went wrong first.
_STATUS_RANK = {FAILED: 0, PARTIAL: 1, SUCCESS: 2}
_STATUS_COLOUR = {SUCCESS: QColor("#1e7b34"), PARTIAL: QColor("#a15c00"), FAILED: QColor("#b3261e")}
_DIRECTION_WORDS = {"inbound": "from Letzshop", "outbound": "to Letzshop"}


def vendor_key(vendor_id: int | None, vendor_name: str) -> str:
    """What the vendor filter compares: the id while the vendor exists, its old name once removed.
    A string, since a combo box finds its items' data by value only for plain types."""
    return f"id:{vendor_id}" if vendor_id is not None else f"name:{vendor_name}"


def counts_text(row: SyncLog) -> str:
    # A run stopped before it read or sent anything has no counts worth a row of zeros.
    if row.processed == 0 and row.error:
        return "nothing sent" if row.direction == "outbound" else "nothing read"
    # A send counts its delivered answers as "updated" (see worker.py).
    if row.direction == "outbound":
        return f"{row.updated} sent, {row.failed} failed"
    return f"{row.imported} new, {row.updated} updated, {row.unchanged} unchanged, {row.failed} failed"


def duration_text(duration_ms: int | None) -> str:
    if duration_ms is None:
        return ""
    if duration_ms < 10_000:
        return f"{duration_ms / 1000:.1f} s"
    seconds = round(duration_ms / 1000)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


def detail_text(row: SyncLog) -> str:
    """The run in plain words, then each shipment or answer that failed, one a line."""
    when = row.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    counts = counts_text(row)
    lines = [
        f"{row.vendor_name}: {row.operation}, {STATUS_WORDS.get(row.status, row.status).lower()}.",
        f"Started {when} by {row.trigger}, took {duration_text(row.duration_ms) or 'an unknown time'}.",
        f"{counts[0].upper()}{counts[1:]}.",
    ]
    if row.error:
        lines += ["", f"What went wrong: {row.error}"]
    if row.details:
        lines += ["", f"{len(row.details)} item{'s' if len(row.details) != 1 else ''} failed:"]
        lines += [f"• {_detail_line(item)}" for item in row.details]
    if row.status == SUCCESS and not row.error:
        lines += ["", "Nothing went wrong."]
    return "\n".join(lines)


def _detail_line(item: dict[str, Any]) -> str:
    where = []
    if item.get("shipment"):
        where.append(f"shipment {item['shipment']}")
    if item.get("task"):
        where.append(f"answer #{item['task']}")
    return f"{', '.join(where) or 'unknown item'}: {item.get('error') or 'no reason given'}"


class LogsTableModel(RowsTableModel[SyncLog]):
    headers = HEADERS

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and column == STATUS:
            return _STATUS_COLOUR.get(row.status)
        if role == Qt.ItemDataRole.ToolTipRole and column == STATUS and row.error:
            return row.error
        if role == Qt.ItemDataRole.ToolTipRole and column == STARTED:
            return row.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        if role == Qt.ItemDataRole.TextAlignmentRole and column == DURATION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: SyncLog, column: int) -> str:
        if column == VENDOR:
            return row.vendor_name if row.vendor_id is not None else f"{row.vendor_name} (removed)"
        if column == OPERATION:
            return row.operation.capitalize()
        if column == DIRECTION:
            return _DIRECTION_WORDS.get(row.direction, row.direction)
        if column == STATUS:
            return STATUS_WORDS.get(row.status, row.status)
        if column == COUNTS:
            return counts_text(row)
        if column == STARTED:
            return local_time(row.started_at)
        if column == DURATION:
            return duration_text(row.duration_ms)
        return row.trigger

    @staticmethod
    def _sort_value(row: SyncLog, column: int) -> Any:
        # Values, never display strings: times as timestamps, durations in milliseconds.
        if column == STATUS:
            return _STATUS_RANK.get(row.status, 9)
        if column == COUNTS:
            return row.processed
        if column == STARTED:
            return row.started_at.timestamp()
        if column == DURATION:
            return -1 if row.duration_ms is None else row.duration_ms
        return LogsTableModel._display(row, column).casefold()


class LogsFilterProxy(QSortFilterProxyModel):
    """Vendor, operation and status filters over the loaded runs: instant, no database round trip.
    The date range is a query (see LogsTab), since it decides how much history is read at all."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._vendor: str | None = None
        self._operation: str | None = None
        self._status: str | None = None
        self.setSortRole(SORT_ROLE)

    def set_filters(self, vendor: str | None, operation: str | None, status: str | None) -> None:
        self.beginFilterChange()
        self._vendor, self._operation, self._status = vendor, operation, status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        row = self.sourceModel().row_at(source_row)  # type: ignore[attr-defined]
        if self._vendor is not None and vendor_key(row.vendor_id, row.vendor_name) != self._vendor:
            return False
        if self._operation is not None and row.operation != self._operation:
            return False
        return self._status is None or row.status == self._status
