"""Add or edit a vendor: fields checked as they are typed, a key test before saving, a save off the GUI thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..app import Services
from ..letzshop.client import DEFAULT_ENDPOINT
from ..services.connection import ConnectionReport, test_key, test_vendor
from ..services.vendors import (
    CARRIERS,
    DEFAULT_ATTEMPTS,
    DEFAULT_INTERVAL,
    ValidationError,
    VendorError,
    VendorInfo,
    validate,
)
from ..vault import VaultError

logger = logging.getLogger(__name__)

FIELDS = ("name", "api_key", "endpoint", "interval_minutes", "max_attempts")
ERROR_STYLE = "color: #b00020;"
OK_STYLE = "color: #1b6e20;"
KEEP_KEY_HINT = "unchanged — type a new key to replace it"


def report_text(report: ConnectionReport) -> str:
    """The report's sentence followed by one line per schema mismatch."""
    return "\n".join([report.message, *(f"• {line}" for line in report.drift)])


class VendorDialog(QDialog):
    """One form for adding and editing, so both follow the same checks and never show a stored key.

    ``start_save()`` and ``start_test()`` return their tasks, which lets tests await them while
    the dialog stays non-modal.
    """

    def __init__(self, services: Services, vendor: VendorInfo | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.vendor = vendor
        #: The id saved to, once OK succeeded.
        self.vendor_id: int | None = vendor.id if vendor else None
        self._touched: set[str] = set()
        self._test_task: asyncio.Task[None] | None = None
        self._save_task: asyncio.Task[None] | None = None
        self.setWindowTitle(f"Edit vendor — {vendor.name}" if vendor else "Add vendor")
        self.setMinimumWidth(600)

        # The fields, each with its own error line underneath.
        self.name = QLineEdit(vendor.name if vendor else "", placeholderText="e.g. Atelier Mëller")
        self.api_key = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText(KEEP_KEY_HINT if vendor else "paste the API key Letzshop gave you")
        self.endpoint = QLineEdit(vendor.endpoint if vendor else DEFAULT_ENDPOINT)
        self.auto_sync = QCheckBox("Fetch new orders automatically")
        self.auto_sync.setChecked(vendor.auto_sync if vendor else False)
        # Wider than allowed on purpose: a spin box that clamps 3 to 5 would change the value silently.
        self.interval = QSpinBox(minimum=1, maximum=10_000, suffix=" min")
        self.interval.setValue(vendor.interval_minutes if vendor else DEFAULT_INTERVAL)
        self.carrier = QComboBox(editable=True)
        self.carrier.addItems(["", *CARRIERS])
        self.carrier.setCurrentText((vendor.default_carrier or "") if vendor else "")
        self.dry_run = QCheckBox("Dry run: keep answers in the queue, never send them to Letzshop")
        self.dry_run.setChecked(vendor.dry_run if vendor else False)
        self.max_attempts = QSpinBox(minimum=0, maximum=99, suffix=" tries")
        self.max_attempts.setValue(vendor.max_attempts if vendor else DEFAULT_ATTEMPTS)
        self.max_attempts.setToolTip("How often an answer is sent before it fails and waits for you")
        self.error_labels = {name: self._error_label() for name in FIELDS}
        self.general_error = self._error_label()

        key_row = QVBoxLayout()
        key_row.addWidget(self.api_key)
        if vendor:
            key_row.addWidget(QLabel(f"Saved key: {vendor.masked_key} (stored encrypted)", enabled=False))
        key_row.addWidget(self.error_labels["api_key"])
        form = QFormLayout()
        form.addRow("Name", self._with_error(self.name, "name"))
        form.addRow("API key", key_row)
        form.addRow("Endpoint", self._with_error(self.endpoint, "endpoint"))
        form.addRow("", self.auto_sync)
        form.addRow("Sync every", self._with_error(self.interval, "interval_minutes"))
        form.addRow("Default carrier", self.carrier)
        form.addRow("Send answers", self._with_error(self.max_attempts, "max_attempts"))
        form.addRow("", self.dry_run)

        # The key test and its answer.
        self.test_button = QPushButton("Test key")
        self.test_button.setToolTip("Ask Letzshop whether it accepts this key, without saving anything")
        self.test_result = QLabel(wordWrap=True)
        self.test_result.setVisible(False)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(test_row)
        layout.addWidget(self.test_result)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        for field, signal in ((self.name, "name"), (self.api_key, "api_key"), (self.endpoint, "endpoint")):
            field.textEdited.connect(lambda _text, key=signal: self._edited(key))
        self.interval.valueChanged.connect(lambda _value: self._edited("interval_minutes"))
        self.max_attempts.valueChanged.connect(lambda _value: self._edited("max_attempts"))
        self.test_button.clicked.connect(self.start_test)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    @staticmethod
    def _error_label() -> QLabel:
        label = QLabel(wordWrap=True, styleSheet=ERROR_STYLE)
        label.setVisible(False)
        return label

    def _with_error(self, field: QWidget, key: str) -> QVBoxLayout:
        column = QVBoxLayout()
        column.addWidget(field)
        column.addWidget(self.error_labels[key])
        return column

    # -- checking -------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        """What would be saved; in edit mode an empty key field and an untouched endpoint mean "keep"."""
        key = self.api_key.text()
        endpoint = self.endpoint.text().strip()
        return {
            "name": self.name.text().strip(),
            "api_key": key if key or self.vendor is None else None,
            "endpoint": endpoint if self.vendor is None or endpoint != self.vendor.endpoint else None,
            "auto_sync": self.auto_sync.isChecked(),
            "interval_minutes": self.interval.value(),
            "default_carrier": self.carrier.currentText().strip(),
            "dry_run": self.dry_run.isChecked(),
            "max_attempts": self.max_attempts.value(),
        }

    def check(self, *, show_all: bool = False) -> dict[str, str]:
        """Validate with the service's own rules; show messages for fields touched so far (or all)."""
        values = self.values()
        problems = validate(**{name: values[name] for name in FIELDS})  # type: ignore[arg-type]
        shown = {name: text for name, text in problems.items() if show_all or name in self._touched}
        self.show_errors(shown)
        return problems

    def show_errors(self, problems: dict[str, str], general: str = "") -> None:
        for name, label in self.error_labels.items():
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)
        self.general_error.setText(general)
        self.general_error.setVisible(bool(general))
        self._fit()

    def _fit(self) -> None:
        """Grow to show messages that appeared; a wrapped label would otherwise be cut off."""
        layout = self.layout()
        layout.activate()
        needed = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else self.sizeHint().height()
        if needed > self.height():
            self.resize(self.width(), needed)

    def _edited(self, key: str) -> None:
        self._touched.add(key)
        if key in ("api_key", "endpoint"):
            self.test_result.setVisible(False)  # an answer about other values would mislead
        self.check()

    # -- testing the key ------------------------------------------------------------------

    @property
    def testing(self) -> bool:
        return self._test_task is not None and not self._test_task.done()

    def start_test(self) -> asyncio.Task[None] | None:
        if self.testing:
            return self._test_task
        values = self.values()
        stored = self.vendor is not None and values["api_key"] is None
        problems = validate(endpoint=self.endpoint.text().strip(), api_key=None if stored else self.api_key.text())
        if problems:
            self._touched.update(problems)
            self.check()
            return None
        if stored and values["endpoint"] is not None:
            self._show_result(
                False, "The saved key can only be tested at the saved endpoint. Type the key again, or save first."
            )
            return None

        # Busy at once, before the task gets its first turn.
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        self._show_result(None, "Testing the saved key…" if stored else "Testing this key…")
        self._test_task = asyncio.ensure_future(self._test(stored))
        return self._test_task

    async def _test(self, stored: bool) -> None:
        try:
            if stored:
                assert self.vendor is not None
                report = await test_vendor(self.services.vendors, self.vendor.id)
            else:
                report = await test_key(self.services.vendors, self.endpoint.text().strip(), self.api_key.text())
        except (VendorError, VaultError, ValueError) as exc:
            report = ConnectionReport(False, str(exc))
        finally:
            self.test_button.setEnabled(True)
            self.test_button.setText("Test key")
        self._show_result(report.ok, report_text(report))

    def _show_result(self, ok: bool | None, text: str) -> None:
        self.test_result.setStyleSheet("" if ok is None else OK_STYLE if ok else ERROR_STYLE)
        self.test_result.setText(text)
        self.test_result.setVisible(True)
        self._fit()

    # -- saving ---------------------------------------------------------------------------

    @property
    def saving(self) -> bool:
        return self._save_task is not None and not self._save_task.done()

    def accept(self) -> None:
        self.start_save()

    def start_save(self) -> asyncio.Task[None] | None:
        """Check every field, then save in a worker thread; the dialog closes only when that worked."""
        if self.saving:
            return self._save_task
        if self.check(show_all=True):
            return None
        self.buttons.setEnabled(False)
        self._save_task = asyncio.ensure_future(self._save(self.values()))
        return self._save_task

    async def _save(self, values: dict[str, object]) -> None:
        vendors = self.services.vendors
        name = values["name"]
        try:
            if self.vendor is None:
                fields = dict(values)
                self.vendor_id = await asyncio.to_thread(
                    vendors.add, fields.pop("name"), fields.pop("api_key"), fields.pop("endpoint"), **fields
                )
            else:
                await asyncio.to_thread(vendors.edit, self.vendor.id, **values)
        except ValidationError as exc:
            self.show_errors(exc.fields)
            return
        except (VendorError, VaultError) as exc:
            self.show_errors({}, str(exc))
            return
        finally:
            self.buttons.setEnabled(True)
        logger.info("Vendor %s saved (id %s)", name, self.vendor_id)
        self.api_key.clear()  # the typed key leaves the window once it is stored
        super().accept()

    def reject(self) -> None:
        if not self.saving:  # a save in a thread cannot be called back; let it finish
            super().reject()

    def done(self, result: int) -> None:
        if self.testing:
            assert self._test_task is not None
            self._test_task.cancel()
        super().done(result)

    async def shutdown(self) -> None:
        for task in (self._test_task, self._save_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
