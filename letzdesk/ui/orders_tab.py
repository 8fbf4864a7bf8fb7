"""The orders tab: search, filter, read and answer orders, and sync with Letzshop without freezing."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
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
from ..services.worker import DrainReport
from .answer_sender import AnswerSender, changed_anything
from .order_actions import OrderActions
from .order_detail import OrderDetail
from .orders_model import (
    CUSTOMER,
    DATE,
    LETZSHOP,
    ROW_ROLE,
    WRITEBACK_FAILED,
    OrderRow,
    OrdersFilterProxy,
    OrdersTableModel,
)

logger = logging.getLogger(__name__)


def load_rows(services: Services) -> list[OrderRow]:
    """Runs in a worker thread: every order with its units and write-back state, ready for the model."""
    names = services.vendors.names()
    carriers = services.vendors.default_carriers()
    writeback = services.answers.writeback()
    return [
        OrderRow.from_order(
            order, names.get(order.vendor_id, "?"), writeback.get(order.id), carriers.get(order.vendor_id)
        )
        for order in orders_for(services.db)
    ]


class OrdersTab(QWidget):
    #: Emitted on the GUI thread with a one-line summary when a sync ends.
    sync_finished = Signal(str)
    #: True when a sync starts, False when it ends.
    syncing_changed = Signal(bool)
    #: When a sync ends: its SyncRuns and its trigger (the window tells what needs a person).
    synced = Signal(list, str)
    #: Emitted whenever the table has been refilled from the database.
    reloaded = Signal(int)
    #: Emitted after answers were queued, retried or changed: the queue tab reads them again.
    answers_changed = Signal()

    def __init__(
        self, services: Services, answer_sender: AnswerSender | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self._own_sender = answer_sender is None
        self.answer_sender = answer_sender or AnswerSender(services, self)
        self._sync_task: asyncio.Task[None] | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False

        # Tool row: search, status filter, sync.
        self.search = QLineEdit(placeholderText="Search number, customer, e-mail, SKU, GTIN…")
        self.search.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All states", None)
        for status in STATUSES:
            self.status_filter.addItem(status.capitalize(), status)
        self.status_filter.addItem("Answer failed", WRITEBACK_FAILED)
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
        # Columns as wide as their content, except two: the customer takes what is left, and the
        # write-back state has a fixed share (a failure reason is elided; its tooltip has it whole).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CUSTOMER, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(LETZSHOP, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.resizeSection(LETZSHOP, self.fontMetrics().horizontalAdvance("Retry at 00:00: …") + 16)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.empty = QLabel(
            "No orders yet.\n\nAdd a vendor with “letzdesk vendor add NAME --endpoint URL”, then press “Sync now”."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        # Answers for the selected orders, under the table; the detail pane answers single units.
        self.detail = OrderDetail()
        self.actions = OrderActions(services, self.answer_sender, self.selected_rows, lambda: self.detail.row)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.stack, 1)
        left_layout.addWidget(self.actions)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 580])

        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(splitter, 1)

        self.search.textChanged.connect(self.proxy.set_search)
        self.status_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_status(self.status_filter.currentData())
        )
        self.sync_button.clicked.connect(self.start_sync)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.detail.confirm_requested.connect(self.actions.confirm_units)
        self.detail.decline_requested.connect(self.actions.decline_units)
        self.detail.retry_requested.connect(self.actions.retry_tasks)
        self.actions.busy_changed.connect(self.detail.set_busy)
        self.actions.answers_changed.connect(self.reload)
        self.actions.answers_changed.connect(self.answers_changed)
        self.answer_sender.drained.connect(self._drained)

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> asyncio.Task[None]:
        """Refill the table from the database in a worker thread; a request during a reload runs it again."""
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload())
        else:
            self._reload_again = True  # the running reload may have read the database before the change
        return self._reload_task

    async def _reload(self) -> None:
        self._reload_again = True
        while self._reload_again:
            self._reload_again = False
            rows = await asyncio.to_thread(load_rows, self.services)
            current = self.current_row()
            selected = [row.pk for row in self.selected_rows()]
            self.model.set_rows(rows)
            self.stack.setCurrentWidget(self.table if rows else self.empty)
            # Keep the selection, with the order shown in the detail pane first.
            if current is not None:
                selected.remove(current.pk)
                selected.insert(0, current.pk)
            self.select_pks(selected)
        self.reloaded.emit(len(rows))

    def current_row(self) -> OrderRow | None:
        """The order in the detail pane: the row with the selection's current index."""
        selection = self.table.selectionModel()
        current = selection.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row()):
            return current.data(ROW_ROLE)
        indexes = selection.selectedRows()
        return indexes[0].data(ROW_ROLE) if indexes else None

    def selected_rows(self) -> list[OrderRow]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda index: index.row())
        return [index.data(ROW_ROLE) for index in rows]

    def select_pk(self, pk: int) -> None:
        self.select_pks([pk])

    def select_pks(self, pks: list[int]) -> None:
        """Select these orders (the first becomes current); clears the selection for an empty list."""
        # Look the orders up in the plain rows, and map only those through the proxy: a table of
        # 100,000 orders stays quick to reselect.
        wanted = {pk: position for position, pk in enumerate(pks)}
        found: list[tuple[int, int]] = []
        for source_row in range(self.model.rowCount()):
            position = wanted.get(self.model.row_at(source_row).pk)
            if position is not None:
                row = self.proxy.mapFromSource(self.model.index(source_row, 0)).row()
                if row >= 0:  # not filtered out
                    found.append((position, row))
        found.sort()
        selection = QItemSelection()
        for _position, row in found:
            selection.select(self.proxy.index(row, 0), self.proxy.index(row, self.proxy.columnCount() - 1))
        model = self.table.selectionModel()
        if found:
            model.setCurrentIndex(self.proxy.index(found[0][1], 0), QItemSelectionModel.SelectionFlag.NoUpdate)
        model.select(
            selection, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self._selection_changed(QItemSelection(), QItemSelection())

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self.detail.show_row(self.current_row())
        self.actions.update_buttons()

    def _drained(self, report: DrainReport) -> None:
        if changed_anything(report):
            self.reload()

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
        self.syncing_changed.emit(True)
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
            self.syncing_changed.emit(False)
        summary = self._summary(runs)
        self.progress_label.setText(summary)
        self.sync_finished.emit(summary)
        self.synced.emit(runs, trigger)

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
        """Stop a running sync, answer and reload (and our own sender) before the loop closes."""
        if self._own_sender:
            await self.answer_sender.shutdown()
        await self.actions.shutdown()
        for task in (self._sync_task, self._reload_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
