"""The two questions an answer may need: why items are declined, and which parcel carries an order.

Both dialogs only collect and tidy values; the orders tab queues the answers. They are opened
with ``open()`` (no nested event loop), so tests fill the fields and call ``accept()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..services.answer_input import MAX_REASON, normalise_tracking, tracking_problem
from ..services.vendors import CARRIERS

ERROR_STYLE = "color: #b3261e;"
QUICK_REASONS = ("Out of stock", "Discontinued", "Damaged", "Price error")
#: How the carrier codes read in the combo; a code missing here shows as itself.
CARRIER_NAMES = {
    "post_lu": "POST Luxembourg",
    "dhl": "DHL",
    "dpd": "DPD",
    "gls": "GLS",
    "ups": "UPS",
    "fedex": "FedEx",
    "bpost": "bpost",
    "colissimo": "Colissimo",
    "other": "Other (type its name)…",
}
OTHER = "other"


class DeclineDialog(QDialog):
    """Asks why; the reason is kept with the order (Letzshop is only told the items are unavailable)."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Decline items")
        self.intro = QLabel(what, wordWrap=True)
        self.reason = QLineEdit(placeholderText="Why these items cannot be delivered")
        self.reason.setMaxLength(MAX_REASON)
        quick = QHBoxLayout()
        quick.addWidget(QLabel("Quick choice:"))
        for text in QUICK_REASONS:
            button = QPushButton(text)
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, text=text: self.reason.setText(text))
            quick.addWidget(button)
        quick.addStretch(1)
        note = QLabel(
            "The reason is kept with the order in letzdesk; Letzshop is told that the items are unavailable.",
            wordWrap=True,
            styleSheet="color: #5f6368;",
        )
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.addButton("Decline", QDialogButtonBox.ButtonRole.AcceptRole)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.reason)
        layout.addLayout(quick)
        layout.addWidget(note)
        layout.addWidget(self.buttons)

        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text.strip())))
        self.ok_button.setEnabled(False)
        self.resize(520, self.sizeHint().height())

    def reason_text(self) -> str:
        return self.reason.text().strip()

    def accept(self) -> None:
        if self.reason_text():  # the button is disabled without one; accept() may be called directly
            super().accept()


@dataclass(frozen=True)
class TrackingTarget:
    """One order the tracking dialog asks a number for."""

    order_pk: int
    label: str
    current: str | None = None


class TrackingDialog(QDialog):
    """A number per order (tidied as typed: no spaces, upper case) and one carrier for all."""

    def __init__(
        self, targets: Sequence[TrackingTarget], default_carrier: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.targets = list(targets)
        self.setWindowTitle(
            "Set tracking" if len(self.targets) == 1 else f"Set tracking for {len(self.targets)} orders"
        )

        # One number field per order; several orders scroll.
        self.numbers: dict[int, QLineEdit] = {}
        form = QFormLayout()
        for target in self.targets:
            field = QLineEdit(target.current or "", placeholderText="e.g. LU123456789")
            field.setMaxLength(80)
            field.textEdited.connect(lambda text, field=field: self._tidy(field, text))
            self.numbers[target.order_pk] = field
            form.addRow(target.label, field)
        numbers: QWidget = QWidget()
        numbers.setLayout(form)
        if len(self.targets) > 6:
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(numbers)
            numbers = scroll

        # The carrier: the vendor's default unless changed; "other" takes any name.
        self.carrier = QComboBox()
        if default_carrier is None:
            self.carrier.addItem("Choose a carrier", None)
        for code in CARRIERS:
            self.carrier.addItem(CARRIER_NAMES.get(code, code), code)
        self.other_carrier = QLineEdit(placeholderText="Carrier name")
        self.other_carrier.setMaxLength(50)
        if default_carrier in CARRIERS:
            self.carrier.setCurrentIndex(self.carrier.findData(default_carrier))
        elif default_carrier:
            self.carrier.setCurrentIndex(self.carrier.findData(OTHER))
            self.other_carrier.setText(default_carrier)
        carrier_row = QHBoxLayout()
        carrier_row.addWidget(self.carrier)
        carrier_row.addWidget(self.other_carrier, 1)

        self.error = QLabel(wordWrap=True, styleSheet=ERROR_STYLE)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton("Set tracking", QDialogButtonBox.ButtonRole.AcceptRole)

        layout = QVBoxLayout(self)
        intro = "Tracking number" if len(self.targets) == 1 else "Tracking numbers (leave empty to skip an order)"
        layout.addWidget(QLabel(intro))
        layout.addWidget(numbers)
        carrier_form = QFormLayout()
        carrier_form.addRow("Carrier", carrier_row)
        layout.addLayout(carrier_form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.carrier.currentIndexChanged.connect(lambda _i: self._carrier_changed())
        self._carrier_changed()
        self.resize(480, self.sizeHint().height())

    @staticmethod
    def _tidy(field: QLineEdit, text: str) -> None:
        """Normalise while typing, keeping the cursor after the same character."""
        tidy = normalise_tracking(text)
        if tidy != text:
            cursor = len(normalise_tracking(text[: field.cursorPosition()]))
            field.setText(tidy)
            field.setCursorPosition(cursor)

    def _carrier_changed(self) -> None:
        other = self.carrier.currentData() == OTHER
        self.other_carrier.setVisible(other)
        if other:
            self.other_carrier.setFocus()

    # -- values ---------------------------------------------------------------------------

    def values(self) -> dict[int, str]:
        """Order -> normalised number, for the orders given one."""
        found = {pk: normalise_tracking(field.text()) for pk, field in self.numbers.items()}
        return {pk: number for pk, number in found.items() if number}

    def carrier_code(self) -> str | None:
        code = self.carrier.currentData()
        return self.other_carrier.text().strip() or None if code == OTHER else code

    def accept(self) -> None:
        for field in self.numbers.values():
            field.setText(normalise_tracking(field.text()))
        problems = [tracking_problem(number) for number in self.values().values()]
        if not self.values():
            self._fail("Type a tracking number.")
        elif any(problems):
            self._fail(next(problem for problem in problems if problem))
        elif self.carrier_code() is None:
            self._fail("Choose the carrier, or type its name.")
        else:
            super().accept()

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)
