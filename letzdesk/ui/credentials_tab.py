"""The vendors tab: which shops this desk manages, how each one reaches Letzshop, and whether that works."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..app import Services
from ..services.connection import ConnectionReport, test_vendor
from ..services.vendors import VendorError, VendorInfo
from ..vault import VaultError
from .vendor_dialog import ERROR_STYLE, OK_STYLE, VendorDialog, report_text
from .vendors_model import NAME, ROW_ROLE, VendorsSortProxy, VendorsTableModel, last_sync_text, local_time

logger = logging.getLogger(__name__)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def removal_question(name: str, orders: int, units: int, logs: int) -> str:
    """Say before it happens what removing deletes, what it keeps, and that Letzshop is not touched."""
    entries = "1 sync log entry is" if logs == 1 else f"{logs} sync log entries are"
    return (
        f"Remove {name}? Its API key and its {_count(orders, 'order')} ({_count(units, 'item')}) are deleted "
        f"from this computer. Its {entries} kept. Nothing is changed on Letzshop."
    )


def load_vendors(services: Services) -> tuple[list[VendorInfo], str]:
    """Runs in a worker thread: the rows, and where the master key is (opening a keyring may wait)."""
    return services.vendors.list(), services.vault.describe()


class CredentialsTab(QWidget):
    """Vendors and their keys. Dialogs and questions go through ``make_dialog`` and ``confirm`` so
    tests can drive them without a modal loop."""

    #: Emitted after a vendor was added, edited or removed: the orders tab shows vendor names.
    vendors_changed = Signal()
    #: Emitted whenever the table has been refilled from the database.
    reloaded = Signal(int)

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._select_next: int | None = None
        self._test_task: asyncio.Task[None] | None = None
        self._remove_task: asyncio.Task[None] | None = None
        #: Set synchronously when work starts, so the buttons say "busy" before the task runs.
        self._testing_id: int | None = None
        self._removing = False
        #: The dialog opened last; kept until the next one opens, so its outcome can be read.
        self.dialog: VendorDialog | None = None
        #: The last connection test per vendor id, with when it ran; kept for this session only.
        self._reports: dict[int, tuple[ConnectionReport, datetime]] = {}

        # Where the keys are, and the actions.
        self.header = QLabel("API keys are encrypted; looking up where the master key is kept…", wordWrap=True)
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove…")
        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Check the saved key and whether Letzshop's API still fits letzdesk")
        tools = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button, self.test_button):
            tools.addWidget(button)
        tools.addStretch(1)

        # The table.
        self.model = VendorsTableModel(self)
        self.proxy = VendorsSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        # Every column as wide as its content; the vendor name takes what is left, not the last column.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)

        # What is known about the selected vendor.
        self.detail_title = QLabel(styleSheet="font-weight: bold;")
        self.result_label = self._detail_label()
        self.schema_label = self._detail_label()
        self.sync_label = self._detail_label()
        detail = QGroupBox("Connection")
        detail_layout = QVBoxLayout(detail)
        for label in (self.detail_title, self.result_label, self.schema_label, self.sync_label):
            detail_layout.addWidget(label)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(detail)

        self.add_button.clicked.connect(self.add_vendor)
        self.edit_button.clicked.connect(self.edit_vendor)
        self.remove_button.clicked.connect(self.start_remove)
        self.test_button.clicked.connect(self.start_test)
        self.table.doubleClicked.connect(lambda _index: self.edit_vendor())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._update_buttons()
        self.show_detail()

    @staticmethod
    def _detail_label() -> QLabel:
        label = QLabel(wordWrap=True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    # -- loading --------------------------------------------------------------------------

    def reload(self, select_id: int | None = None) -> asyncio.Task[None]:
        """Refill the table from the database in a worker thread; a request during a reload runs it again."""
        if select_id is not None:
            self._select_next = select_id
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload())
        else:
            self._reload_again = True  # the running reload may have read the database before the change
        return self._reload_task

    def refresh(self) -> None:
        """Reload now if the tab is on screen; otherwise showing it will."""
        if self.isVisible():
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.reload()

    async def _reload(self) -> None:
        self._reload_again = True
        while self._reload_again:
            self._reload_again = False
            rows, store = await asyncio.to_thread(load_vendors, self.services)
            self.header.setText(f"API keys are encrypted; master key in {store}.")

            # Keep the selection (or move it to what was just saved) across the refill.
            selected = self.current_vendor()
            target = self._select_next or (selected.id if selected else None)
            self._select_next = None
            self.model.set_rows(rows)
            self._reports = {pk: report for pk, report in self._reports.items() if any(r.id == pk for r in rows)}
            if not (target is not None and self.select_id(target)) and rows:
                self.table.selectRow(0)
            self._update_buttons()
            self.show_detail()
        self.reloaded.emit(self.model.rowCount())

    def current_vendor(self) -> VendorInfo | None:
        indexes = self.table.selectionModel().selectedRows()
        return indexes[0].data(ROW_ROLE) if indexes else None

    def select_id(self, vendor_id: int) -> bool:
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(ROW_ROLE).id == vendor_id:
                self.table.selectRow(row)
                return True
        return False

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_buttons()
        self.show_detail()

    def _update_buttons(self) -> None:
        chosen = self.current_vendor() is not None
        self.edit_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen and not self._removing)
        self.test_button.setEnabled(chosen and self._testing_id is None)

    # -- the detail area ------------------------------------------------------------------

    def show_detail(self) -> None:
        info = self.current_vendor()
        if info is None:
            self.detail_title.setText(
                "No vendor selected."
                if self.model.rowCount()
                else "No vendor yet. Press “Add…” and paste the API key Letzshop gave you."
            )
            for label in (self.result_label, self.schema_label, self.sync_label):
                label.clear()
            return
        self.detail_title.setText(f"{info.name} — {info.endpoint}")

        if self._testing_id == info.id:
            self._set(self.result_label, None, "Testing…")
        elif info.id in self._reports:
            report, when = self._reports[info.id]
            self._set(self.result_label, report.ok, f"Last test ({local_time(when)}): {report_text(report)}")
        else:
            self._set(self.result_label, None, "Not tested in this session. Press “Test connection”.")

        if info.schema_checked_at is None:
            self._set(self.schema_label, None, "API check: not done yet for this key and endpoint.")
        elif info.schema_drift:
            lines = [
                f"API check ({local_time(info.schema_checked_at)}): Letzshop's API has changed; "
                "answers are held back until a connection test passes (update letzdesk, then test again).",
                *(f"• {d}" for d in info.schema_drift),
            ]
            self._set(self.schema_label, False, "\n".join(lines))
        else:
            self._set(
                self.schema_label,
                True,
                f"API check ({local_time(info.schema_checked_at)}): matches what letzdesk expects.",
            )

        sync = f"Last sync: {last_sync_text(info)}"
        if info.last_sync_error:
            sync += f"\n{info.last_sync_error}"
        self._set(self.sync_label, False if info.last_sync_status == "failed" else None, sync)

    @staticmethod
    def _set(label: QLabel, ok: bool | None, text: str) -> None:
        label.setStyleSheet("" if ok is None else OK_STYLE if ok else ERROR_STYLE)
        label.setText(text)

    # -- add and edit ---------------------------------------------------------------------

    def make_dialog(self, vendor: VendorInfo | None) -> VendorDialog:
        """The add/edit dialog; tests replace or drive it."""
        return VendorDialog(self.services, vendor, self)

    def add_vendor(self) -> VendorDialog:
        return self._open_dialog(None)

    def edit_vendor(self) -> VendorDialog | None:
        info = self.current_vendor()
        return self._open_dialog(info) if info is not None else None

    def _open_dialog(self, vendor: VendorInfo | None) -> VendorDialog:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog = self.make_dialog(vendor)
        dialog.finished.connect(lambda result: self._dialog_finished(dialog, result))
        dialog.open()  # window-modal, without a nested event loop: the asyncio loop keeps turning
        return dialog

    def _dialog_finished(self, dialog: VendorDialog, result: int) -> None:
        if result == VendorDialog.DialogCode.Accepted and dialog.vendor_id is not None:
            self._reports.pop(dialog.vendor_id, None)  # a new key or endpoint makes the old test meaningless
            self.vendors_changed.emit()
            self.reload(select_id=dialog.vendor_id)
        else:
            self.reload()  # a key test inside the dialog may have recorded an API check

    # -- remove ---------------------------------------------------------------------------

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question; tests replace this to answer it."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def start_remove(self) -> asyncio.Task[None] | None:
        info = self.current_vendor()
        if info is None or self._removing:
            return self._remove_task
        self._removing = True
        self.remove_button.setEnabled(False)
        self._remove_task = asyncio.ensure_future(self._remove(info))
        return self._remove_task

    async def _remove(self, info: VendorInfo) -> None:
        try:
            summary = await asyncio.to_thread(self.services.vendors.removal_summary, info.id)
            text = removal_question(summary.name, summary.orders, summary.units, summary.sync_logs)
            if not self.confirm("Remove vendor", text):
                return
            await asyncio.to_thread(self.services.vendors.remove, info.id)
            logger.info("Vendor %s removed with %s orders", summary.name, summary.orders)
        except VendorError as exc:
            self._set(self.result_label, False, str(exc))
            return
        finally:
            self._removing = False
            self._update_buttons()
        self._reports.pop(info.id, None)
        self.vendors_changed.emit()
        await self.reload()

    # -- testing the stored connection ----------------------------------------------------

    def start_test(self) -> asyncio.Task[None] | None:
        info = self.current_vendor()
        if info is None or self._testing_id is not None:
            return self._test_task
        # Busy at once, before the task gets its first turn.
        self._testing_id = info.id
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        self.show_detail()
        self._test_task = asyncio.ensure_future(self._test(info))
        return self._test_task

    async def _test(self, info: VendorInfo) -> None:
        try:
            report = await test_vendor(self.services.vendors, info.id)
        except (VendorError, VaultError, ValueError) as exc:
            report = ConnectionReport(False, str(exc))
        finally:
            self._testing_id = None
            self.test_button.setText("Test connection")
            self._update_buttons()
        self._reports[info.id] = (report, datetime.now().astimezone())
        self.show_detail()
        await self.reload()

    async def shutdown(self) -> None:
        """Stop a running test or reload before the loop closes."""
        for task in (self._test_task, self._remove_task, self._reload_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
