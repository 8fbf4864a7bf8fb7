"""The pane beside the orders table: who ordered what, where it goes, and each unit's identifiers."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..letzshop.records import Address
from ..services.orders import format_cents
from ..store.models import Order

UNIT_HEADERS = ("Product", "SKU", "GTIN", "Price", "State")
UNIT_STATES = {
    "unconfirmed": "Awaiting answer",
    "confirmed_available": "Confirmed",
    "confirmed_unavailable": "Declined",
    "returned": "Returned",
}


def _address_html(data: dict[str, Any] | None) -> str:
    if not data:
        return "<i>Not given</i>"
    fields = {name: data.get(name) for name in Address.__slots__}  # type: ignore[attr-defined]
    return "<br>".join(escape(line) for line in Address(**fields).lines()) or "<i>Empty</i>"


class OrderDetail(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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

        self.units = QTableWidget(0, len(UNIT_HEADERS))
        self.units.setHorizontalHeaderLabels(UNIT_HEADERS)
        self.units.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.units.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.units.verticalHeader().setVisible(False)
        self.units.setWordWrap(True)
        header = self.units.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(UNIT_HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addLayout(addresses)
        layout.addWidget(QLabel("Items (one row per piece)"))
        layout.addWidget(self.units, 1)
        self.show_order(None)

    @staticmethod
    def _address_label() -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def show_order(self, order: Order | None) -> None:
        if order is None:
            self.title.setText("<b>No order selected</b>")
            self.summary.setText("Select an order to see its addresses and items.")
            self.ship_to.setText("")
            self.bill_to.setText("")
            self.units.setRowCount(0)
            return

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

        self.units.setRowCount(len(order.units))
        for row, unit in enumerate(order.units):
            name = unit.name or "(no product data)"
            if unit.brand:
                name = f"{name} — {unit.brand}"
            gtin = f"{unit.gtin} ({unit.gtin_kind})" if unit.gtin and unit.gtin_kind else unit.gtin or ""
            price = format_cents(unit.price_cents)
            values = (
                name,
                unit.sku or "",
                gtin,
                f"{price} €" if price else "",
                UNIT_STATES.get(unit.state or "", unit.state or ""),
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.units.setItem(row, column, item)
        self.units.resizeRowsToContents()
