"""The pane beside the orders table: who ordered what, where it goes, and the answer for each unit.

The pane only shows and asks: ticking units and pressing a button emits a signal with the unit
ids, and the orders tab does the work.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..letzshop.records import Address
from ..services.orders import format_cents
from ..services.outbox import WriteBack
from ..services.status import UNIT_UNAVAILABLE, effective_state
from ..store.models import InventoryUnit
from .orders_model import OrderRow, is_open

PRODUCT, SKU, GTIN, PRICE, STATE = range(5)
UNIT_HEADERS = ("Product", "SKU", "GTIN", "Price", "State")
UNIT_STATES = {
    "unconfirmed": "Awaiting answer",
    "confirmed_available": "Confirmed",
    "confirmed_unavailable": "Declined",
    "returned": "Returned",
}
ERROR_STYLE = "color: #b3261e;"
UNIT_ID_ROLE = Qt.ItemDataRole.UserRole + 10


def unit_state_text(unit: InventoryUnit) -> str:
    """The unit's state in words: the vendor's answer marked "queued" until Letzshop has it."""
    state = effective_state(unit.state, unit.answer)
    words = UNIT_STATES.get(state or "unconfirmed", state or "")
    if unit.answer and is_open(unit.state):
        words += " (queued)"
    if state == UNIT_UNAVAILABLE and unit.decline_reason:
        words += f" — {unit.decline_reason}"
    return words


def writeback_text(writeback: WriteBack | None) -> str:
    return f"Answers: {writeback.text}" if writeback else "Answers: none sent from letzdesk yet."


def _address_html(data: dict[str, Any] | None) -> str:
    if not data:
        return "<i>Not given</i>"
    fields = {name: data.get(name) for name in Address.__slots__}  # type: ignore[attr-defined]
    return "<br>".join(escape(line) for line in Address(**fields).lines()) or "<i>Empty</i>"


class OrderDetail(QWidget):
    #: Unit ids of the shown order to confirm.
    confirm_requested = Signal(list)
    #: Unit ids of the shown order to decline (the tab asks for the reason).
    decline_requested = Signal(list)
    #: Ids of the failed tasks of the shown order to send again.
    retry_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row: OrderRow | None = None
        self._busy = False
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.ship_to = self._address_label()
        self.bill_to = self._address_label()
        addresses = QGridLayout()
        for column, (caption, label) in enumerate((("Ship to", self.ship_to), ("Bill to", self.bill_to))):
            box = QGroupBox(caption)
            QVBoxLayout(box).addWidget(label)
            addresses.addWidget(box, 0, column)

        # Units: tick the open ones to answer them.
        self.units = QTableWidget(0, len(UNIT_HEADERS))
        self.units.setHorizontalHeaderLabels(UNIT_HEADERS)
        self.units.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.units.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.units.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.units.verticalHeader().setVisible(False)
        self.units.setWordWrap(True)
        header = self.units.horizontalHeader()
        # Codes and price as wide as they are; the state wraps at the width of its longest usual
        # words (a decline reason goes on below), and the product takes what is left.
        for column in range(len(UNIT_HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(PRODUCT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATE, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.resizeSection(STATE, self.fontMetrics().horizontalAdvance("Confirmed (queued)") + 16)
        self.confirm_button = QPushButton("Confirm ticked")
        self.confirm_button.setToolTip("Tell Letzshop the ticked items will be shipped")
        self.decline_button = QPushButton("Decline ticked…")
        self.decline_button.setToolTip("Tell Letzshop the ticked items cannot be delivered")
        unit_actions = QHBoxLayout()
        unit_actions.addWidget(self.confirm_button)
        unit_actions.addWidget(self.decline_button)
        unit_actions.addStretch(1)

        # Where the answers are on their way to Letzshop.
        self.writeback = QLabel(wordWrap=True)
        self.writeback.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Send the failed answers of this order again now")
        writeback_row = QHBoxLayout()
        writeback_row.addWidget(self.writeback, 1)
        writeback_row.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addLayout(addresses)
        layout.addWidget(QLabel("Items (one row per piece; tick the ones to answer)"))
        layout.addWidget(self.units, 1)
        layout.addLayout(unit_actions)
        layout.addLayout(writeback_row)

        self.units.itemChanged.connect(lambda _item: self._update_buttons())
        self.units.cellClicked.connect(self._toggle)
        self.confirm_button.clicked.connect(lambda: self.confirm_requested.emit(self.checked_units()))
        self.decline_button.clicked.connect(lambda: self.decline_requested.emit(self.checked_units()))
        self.retry_button.clicked.connect(self._retry)
        self.show_row(None)

    @staticmethod
    def _address_label() -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    # -- the ticked units -----------------------------------------------------------------

    def checked_units(self) -> list[str]:
        items = (self.units.item(row, PRODUCT) for row in range(self.units.rowCount()))
        return [item.data(UNIT_ID_ROLE) for item in items if item and item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, unit_ids: list[str] | set[str], checked: bool = True) -> None:
        for row in range(self.units.rowCount()):
            item = self.units.item(row, PRODUCT)
            if item.data(UNIT_ID_ROLE) in unit_ids and item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _toggle(self, row: int, column: int) -> None:
        """A click anywhere on an open unit's row ticks it (the check box itself toggles on its own)."""
        item = self.units.item(row, PRODUCT)
        if column != PRODUCT and item is not None and item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            checked = item.checkState() == Qt.CheckState.Checked
            item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    def set_busy(self, busy: bool) -> None:
        """While an answer is being queued the buttons wait, so a double click queues nothing twice."""
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        ticked = len(self.checked_units()) if self.row is not None else 0
        busy = self._busy
        self.confirm_button.setEnabled(ticked > 0 and not busy)
        self.decline_button.setEnabled(ticked > 0 and not busy)
        self.confirm_button.setText(f"Confirm {ticked} ticked" if ticked else "Confirm ticked")
        self.decline_button.setText(f"Decline {ticked} ticked…" if ticked else "Decline ticked…")
        failed = self.row is not None and self.row.writeback is not None and bool(self.row.writeback.failed_tasks)
        self.retry_button.setVisible(failed)
        self.retry_button.setEnabled(failed and not busy)

    def _retry(self) -> None:
        if self.row is not None and self.row.writeback is not None:
            self.retry_requested.emit(list(self.row.writeback.failed_tasks))

    # -- showing an order -----------------------------------------------------------------

    def show_row(self, row: OrderRow | None) -> None:
        """Show an order; ticks survive a reload of the same order for units still open."""
        keep = (
            set(self.checked_units()) if row is not None and self.row is not None and row.pk == self.row.pk else set()
        )
        self.row = row
        if row is None:
            self.title.setText("<b>No order selected</b>")
            self.summary.setText("Select an order to see its addresses and items.")
            self.ship_to.setText("")
            self.bill_to.setText("")
            self.units.setRowCount(0)
            self.writeback.setText("")
            self.writeback.setStyleSheet("")
            self._update_buttons()
            return

        order = row.order
        number = escape(order.order_number or order.shipment_id)
        self.title.setText(f"<b style='font-size:14pt'>{number}</b> &nbsp; {escape(order.status.capitalize())}")
        when = order.completed_at.astimezone().strftime("%A %d %B %Y, %H:%M") if order.completed_at else "date unknown"
        total = format_cents(order.total_cents)
        parts = [
            when,
            f"shipment {order.shipment_number}" if order.shipment_number else None,
            order.customer_email,
            f"total {total} {order.currency}" if total else None,
            f"language {order.locale}" if order.locale else None,
            f"tracking {order.tracking_number} ({order.tracking_carrier or 'carrier unknown'})"
            if order.tracking_number
            else None,
        ]
        self.summary.setText(" · ".join(p for p in parts if p))
        self.ship_to.setText(_address_html(order.ship_address))
        self.bill_to.setText(_address_html(order.bill_address))
        self.writeback.setText(writeback_text(row.writeback))
        failed = row.writeback is not None and row.writeback.state == "failed"
        self.writeback.setStyleSheet(ERROR_STYLE if failed else "")

        self.units.blockSignals(True)
        self.units.setRowCount(len(order.units))
        for position, unit in enumerate(order.units):
            self._fill_unit(position, unit, unit.unit_id in keep)
        self.units.blockSignals(False)
        self.units.resizeRowsToContents()
        self._update_buttons()

    def _fill_unit(self, position: int, unit: InventoryUnit, checked: bool) -> None:
        name = unit.name or "(no product data)"
        if unit.brand:
            name = f"{name} — {unit.brand}"
        price = format_cents(unit.price_cents)
        values = (name, unit.sku or "", unit.gtin or "", f"{price} €" if price else "", unit_state_text(unit))
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            if column == PRICE:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == STATE and unit.decline_reason:
                item.setToolTip(f"Reason: {unit.decline_reason}")
            if column == GTIN and unit.gtin_kind:
                item.setToolTip(unit.gtin_kind.upper())
            self.units.setItem(position, column, item)

        # Only a unit Letzshop has no answer for can be answered (again, replacing a queued answer).
        product = self.units.item(position, PRODUCT)
        product.setData(UNIT_ID_ROLE, unit.unit_id)
        if is_open(unit.state):
            product.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            product.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        else:
            product.setToolTip("Letzshop has this item's answer; it takes one answer per item.")
