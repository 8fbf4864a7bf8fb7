"""The orders tab: search, filter, read an order, and sync with Letzshop without freezing."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..app import Services
from ..services.importer import Progress
from ..services.orders import orders_for
from ..services.status import STATUSES
from ..services.synclog import SyncRun
from .order_detail import OrderDetail
from .orders_model import DATE, ROW_ROLE, OrderRow, OrdersFilterProxy, OrdersTableModel

logger = logging.getLogger(__name__)


def load_rows(services: Services) -> list[OrderRow]:
    """Runs in a worker thread: every order with its units, ready for the model."""
    names = services.vendors.names()
    return [OrderRow.from_order(order, names.get(order.vendor_id, "?")) for order in orders_for(services.db)]


class OrdersTab(QWidget):
    #: Emitted on the GUI thread with a one-line summary when a sync ends.
    sync_finished = Signal(str)
    #: Emitted whenever the table has been refilled from the database.
    reloaded = Signal(int)

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._sync_task: asyncio.Task[None] | None = None
        self._reload_task: asyncio.Task[None] | None = None

        # Tool row: search, status filter, sync.
        self.search = QLineEdit(placeholderText="Search number, customer, e-mail, SKU, GTIN…")
        self.search.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All states", None)
        for status in STATUSES:
            self.status_filter.addItem(status.capitalize(), status)
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setToolTip("Fetch unconfirmed orders from Letzshop for every vendor")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        tools = QHBoxLayout()
        tools.addWidget(self.search, 3)
        tools.addWidget(self.status_filter)
        tools.addStretch(1)
        tools.addWidget(self.progress_label)
        tools.addWidget(self.progress)
        tools.addWidget(self.sync_button)

        # Table and detail side by side.
        self.model = OrdersTableModel(self)
        self.proxy = OrdersFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(DATE, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel(
            "No orders yet.\n\nAdd a vendor with “letzdesk vendor add NAME --endpoint URL”, then press “Sync now”."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        self.detail = OrderDetail()
        splitter = QSplitter()
        splitter.addWidget(self.stack)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([680, 600])

        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(splitter, 1)

        self.search.textChanged.connect(self.proxy.set_search)
        self.status_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_status(self.status_filter.currentData())
        )
        self.sync_button.clicked.connect(self.start_sync)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> asyncio.Task[None]:
        """Refill the table from the database in a worker thread (never on the GUI thread)."""
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload())
        return self._reload_task

    async def _reload(self) -> None:
        rows = await asyncio.to_thread(load_rows, self.services)
        selected = self.current_row()
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.table if rows else self.empty)
        if selected is not None:
            self.select_pk(selected.pk)
        else:
            self.detail.show_order(None)
        self.reloaded.emit(len(rows))

    def current_row(self) -> OrderRow | None:
        indexes = self.table.selectionModel().selectedRows()
        return indexes[0].data(ROW_ROLE) if indexes else None

    def select_pk(self, pk: int) -> None:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(ROW_ROLE).pk == pk:
                self.table.selectRow(row)
                return

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        row = self.current_row()
        self.detail.show_order(row.order if row else None)

    # -- syncing --------------------------------------------------------------------------

    @property
    def syncing(self) -> bool:
        return self._sync_task is not None and not self._sync_task.done()

    def start_sync(self, trigger: str = "user") -> asyncio.Task[None] | None:
        if self.syncing:
            return self._sync_task
        # Show the busy state at once, before the task gets its first turn.
        self.sync_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress_label.setText("Contacting Letzshop…")
        self._sync_task = asyncio.ensure_future(self._sync(trigger if isinstance(trigger, str) else "user"))
        return self._sync_task

    async def _sync(self, trigger: str) -> None:
        runs: list[SyncRun] = []
        try:
            vendors = await asyncio.to_thread(self.services.vendors.names)
            for vendor_id, name in vendors.items():
                runs.append(
                    await self.services.importer.run(vendor_id, name, trigger=trigger, progress=self._on_progress)
                )
                await self.reload()
        finally:
            self.progress.setVisible(False)
            self.sync_button.setEnabled(True)
        summary = self._summary(runs)
        self.progress_label.setText(summary)
        self.sync_finished.emit(summary)

    def _on_progress(self, progress: Progress) -> None:
        self.progress_label.setText(f"{progress.vendor_name}: page {progress.pages}, {progress.fetched} orders read")

    @staticmethod
    def _summary(runs: list[SyncRun]) -> str:
        if not runs:
            return "No vendor to sync."
        parts = []
        for run in runs:
            if run.error:
                parts.append(f"{run.vendor_name}: sync failed — {run.error.split(' (')[0]}")
            else:
                parts.append(
                    f"{run.vendor_name}: {run.imported} new, {run.updated} updated"
                    + (f", {run.failed} could not be read" if run.failed else "")
                )
        return "; ".join(parts)

    async def shutdown(self) -> None:
        """Stop a running sync and reload before the loop closes."""
        for task in (self._sync_task, self._reload_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
