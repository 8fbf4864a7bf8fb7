"""Table model of vendors: one row per Letzshop connection, sorted by value, never holding a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from ..services.vendors import VendorInfo
from .table_model import ROW_ROLE, SORT_ROLE, Index, RowsTableModel

NAME, ENDPOINT, KEY, AUTO_SYNC, LAST_SYNC, PENDING, FAILING, API_CHECK = range(8)
HEADERS = ("Vendor", "Endpoint", "API key", "Auto-sync", "Last sync", "Pending orders", "Failing answers", "API check")
_NUMBERS = (PENDING, FAILING)

#: Text colours that stay readable on the light and the alternate row background.
GOOD, BAD = QColor("#1b6e20"), QColor("#b00020")


def local_time(moment: datetime | None) -> str:
    """A UTC moment as the vendor's wall-clock time; the database keeps UTC."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""


def api_check_text(info: VendorInfo) -> str:
    if info.schema_checked_at is None:
        return "not checked"
    return f"changed: {len(info.schema_drift)}" if info.schema_drift else "OK"


def last_sync_text(info: VendorInfo) -> str:
    if info.last_sync_at is None:
        return "never"
    return f"{local_time(info.last_sync_at)} · {info.last_sync_status or 'unknown'}"


class VendorsTableModel(RowsTableModel[VendorInfo]):
    """Rows are ``VendorInfo`` records, which carry only the masked key, so no role can leak a secret."""

    headers = HEADERS

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        info = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(info, column)
        if role == SORT_ROLE:
            return self._sort_value(info, column)
        if role == ROW_ROLE:
            return info
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMBERS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colour(info, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(info, column)
        return None

    @staticmethod
    def _display(info: VendorInfo, column: int) -> str:
        if column == NAME:
            return info.name
        if column == ENDPOINT:
            return info.endpoint
        if column == KEY:
            return info.masked_key
        if column == AUTO_SYNC:
            return f"every {info.interval_minutes} min" if info.auto_sync else "off"
        if column == LAST_SYNC:
            return last_sync_text(info)
        if column == PENDING:
            return str(info.pending)
        if column == FAILING:
            return f"{info.failing_tasks} · dry run" if info.dry_run else str(info.failing_tasks)
        return api_check_text(info)

    @staticmethod
    def _sort_value(info: VendorInfo, column: int) -> Any:
        # Values, not display strings: "10" after "9", dates as timestamps, "off" before any interval.
        if column == AUTO_SYNC:
            return info.interval_minutes if info.auto_sync else -1
        if column == LAST_SYNC:
            return info.last_sync_at.timestamp() if info.last_sync_at else 0.0
        if column == PENDING:
            return info.pending
        if column == FAILING:
            return info.failing_tasks
        if column == API_CHECK:
            return len(info.schema_drift) if info.schema_checked_at else -1
        return VendorsTableModel._display(info, column).casefold()

    @staticmethod
    def _colour(info: VendorInfo, column: int) -> QColor | None:
        if column == LAST_SYNC and info.last_sync_status in ("failed", "partial"):
            return BAD
        if column == FAILING and info.failing_tasks:
            return BAD
        if column == API_CHECK and info.schema_checked_at is not None:
            return BAD if info.schema_drift else GOOD
        return None

    @staticmethod
    def _tooltip(info: VendorInfo, column: int) -> str | None:
        if column == ENDPOINT:
            return info.endpoint
        if column == KEY:
            return "Only the first four characters are ever shown; the key is stored encrypted."
        if column == LAST_SYNC:
            return info.last_sync_error or None
        if column == API_CHECK and info.schema_checked_at is not None:
            lines = [f"Checked {local_time(info.schema_checked_at)}", *info.schema_drift]
            return "\n".join(lines)
        if column == FAILING and info.dry_run:
            return "Dry run: answers wait in the queue and are never sent. Turn it off in Edit."
        return None


class VendorsSortProxy(QSortFilterProxyModel):
    """Sorts by ``SORT_ROLE`` so clicking a header orders numbers and dates as values."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
