"""Table model of orders: plain rows prepared off the GUI thread, sorted by value, filtered in a proxy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from ..services.orders import format_cents
from ..services.outbox import WriteBack
from ..services.status import UNIT_AVAILABLE, UNIT_UNCONFIRMED, effective_state
from ..store.models import Order
from .table_model import ROW_ROLE, SORT_ROLE, Index, RowsTableModel

NUMBER, DATE, CUSTOMER, ITEMS, TOTAL, STATUS, LETZSHOP = range(7)
HEADERS = ("Order", "Date", "Customer", "Items", "Total", "Status", "Letzshop")

#: The status filter's value for "an answer of this order failed".
WRITEBACK_FAILED = "writeback:failed"
#: Write-back states in the order a vendor should look at them when sorting.
_WRITEBACK_RANK = {"failed": 0, "retrying": 1, "held": 2, "sending": 3, "queued": 4, "sent": 5}
#: Short words where the service's text says more than the column has room for (the tooltip has it all).
_WRITEBACK_SHORT = {"sent": "Sent", "held": "Queued (dry run)"}
_WRITEBACK_COLOUR = {"failed": QColor("#b3261e"), "retrying": QColor("#8a5a00"), "held": QColor("#5f6368")}


def is_open(state: str | None) -> bool:
    """Letzshop has no answer for this unit yet, so the vendor may still (re)answer it."""
    return state in (None, UNIT_UNCONFIRMED)


@dataclass(frozen=True, slots=True)
class OrderRow:
    """What the table shows of one order, plus the detached order for the detail pane."""

    pk: int
    vendor_name: str
    number: str
    completed_at: datetime | None
    customer: str
    email: str
    items: int
    total_cents: int | None
    currency: str
    status: str
    search_text: str
    order: Order
    #: Where this order's answers are on their way to Letzshop; None when it has none.
    writeback: WriteBack | None = None
    default_carrier: str | None = None

    @property
    def vendor_id(self) -> int:
        return self.order.vendor_id

    @property
    def open_units(self) -> list[str]:
        """Units without any answer yet, Letzshop's or a queued one: what "all" answers."""
        return [u.unit_id for u in self.order.units if effective_state(u.state, u.answer) in (None, UNIT_UNCONFIRMED)]

    @property
    def has_confirmed(self) -> bool:
        """At least one unit is confirmed (or its confirmation queued): tracking can be set."""
        return any(effective_state(u.state, u.answer) == UNIT_AVAILABLE for u in self.order.units)

    @classmethod
    def from_order(
        cls, order: Order, vendor_name: str, writeback: WriteBack | None = None, default_carrier: str | None = None
    ) -> OrderRow:
        number = order.order_number or order.shipment_number or order.shipment_id
        skus = " ".join(filter(None, (f"{u.sku or ''} {u.gtin or ''} {u.name or ''}" for u in order.units)))
        search = " ".join(
            filter(None, (number, order.shipment_number, order.customer_name, order.customer_email, vendor_name, skus))
        ).casefold()
        return cls(
            order.id,
            vendor_name,
            number,
            order.completed_at,
            order.customer_name or "",
            order.customer_email or "",
            len(order.units),
            order.total_cents,
            order.currency,
            order.status,
            search,
            order,
            writeback,
            default_carrier,
        )


class OrdersTableModel(RowsTableModel[OrderRow]):
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
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (ITEMS, TOTAL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == CUSTOMER:
            return row.email or None
        if column == LETZSHOP and row.writeback is not None:
            if role == Qt.ItemDataRole.ToolTipRole:
                return row.writeback.text
            if role == Qt.ItemDataRole.ForegroundRole:
                return _WRITEBACK_COLOUR.get(row.writeback.state)
        return None

    @staticmethod
    def _display(row: OrderRow, column: int) -> str:
        if column == NUMBER:
            return row.number
        if column == DATE:
            return row.completed_at.astimezone().strftime("%Y-%m-%d %H:%M") if row.completed_at else ""
        if column == CUSTOMER:
            return row.customer
        if column == ITEMS:
            return str(row.items)
        if column == TOTAL:
            amount = format_cents(row.total_cents)
            return f"{amount} €" if amount and row.currency == "EUR" else f"{amount or ''} {row.currency}".strip()
        if column == LETZSHOP:
            if row.writeback is None:
                return ""
            return _WRITEBACK_SHORT.get(row.writeback.state, row.writeback.text)
        return row.status.capitalize()

    @staticmethod
    def _sort_value(row: OrderRow, column: int) -> Any:
        # Sort by values, never by display strings: dates as timestamps, money as cents.
        if column == DATE:
            return row.completed_at.timestamp() if row.completed_at else 0.0
        if column == ITEMS:
            return row.items
        if column == TOTAL:
            return row.total_cents if row.total_cents is not None else -1
        if column == LETZSHOP:
            # Failures first, orders without answers last; the time or reason orders within a state.
            # (A string key: the proxy cannot compare Python tuples.)
            if row.writeback is None:
                return f"{len(_WRITEBACK_RANK)}"
            return f"{_WRITEBACK_RANK.get(row.writeback.state, 0)} {row.writeback.text.casefold()}"
        return OrdersTableModel._display(row, column).casefold()


class OrdersFilterProxy(QSortFilterProxyModel):
    """Search over number, customer, e-mail, SKU, GTIN and product name; optional status filter."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._terms: list[str] = []
        self._status: str | None = None
        self.setSortRole(SORT_ROLE)

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._terms = text.casefold().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str | None) -> None:
        self.beginFilterChange()
        self._status = status or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        row = self.sourceModel().row_at(source_row)  # type: ignore[attr-defined]
        if self._status == WRITEBACK_FAILED:
            if row.writeback is None or row.writeback.state != "failed":
                return False
        elif self._status and row.status != self._status:
            return False
        return all(term in row.search_text for term in self._terms)
