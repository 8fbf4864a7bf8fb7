"""Table model of orders: plain rows prepared off the GUI thread, sorted by value, filtered in a proxy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt

from ..services.orders import format_cents
from ..store.models import Order
from .table_model import ROW_ROLE, SORT_ROLE, Index, RowsTableModel

NUMBER, DATE, CUSTOMER, ITEMS, TOTAL, STATUS = range(6)
HEADERS = ("Order", "Date", "Customer", "Items", "Total", "Status")


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

    @classmethod
    def from_order(cls, order: Order, vendor_name: str) -> OrderRow:
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
        if self._status and row.status != self._status:
            return False
        return all(term in row.search_text for term in self._terms)
