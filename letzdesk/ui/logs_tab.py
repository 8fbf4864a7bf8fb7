"""The logs tab: every import and every send, how it went, and what failed, in plain words.

This is the user's history, not the developer log: one row per run from ``sync_logs``. Reads
run in a worker thread; the first one also prunes runs past the retention period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..app import Services
from ..services import synclog
from ..store.models import SyncLog
from .logs_model import (
    COUNTS,
    OPERATIONS,
    ROW_ROLE,
    STARTED,
    STATUS_WORDS,
    LogsFilterProxy,
    LogsTableModel,
    detail_text,
    vendor_key,
)

logger = logging.getLogger(__name__)

EMPTY_TEXT = (
    "No syncs in this period.\n\nEvery import of orders and every batch of answers sent to Letzshop "
    "is written here, with what went wrong if anything did."
)
FILTERED_TEXT = "No run matches these filters."
NO_SELECTION_TEXT = "Select a run to see what happened."
#: The date range offers, as (words, days back; None for everything). "Today" is since midnight.
PERIODS = (("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30), ("All time", None))
DEFAULT_PERIOD = 2


def period_start(days: int | None, now: datetime | None = None) -> datetime | None:
    """Local midnight ``days`` days ago, so "last 7 days" means whole days as the user counts them."""
    if days is None:
        return None
    local_now = (now or datetime.now()).astimezone()
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=days)


def load_logs(services: Services, since: datetime | None, prune: bool) -> tuple[list[SyncLog], dict[int, str]]:
    """Runs in a worker thread: prune when asked, then the period's runs and the vendors for the filter."""
    if prune:
        removed = synclog.prune(services.db)
        if removed:
            logger.info("Pruned %d sync log rows past the retention period", removed)
    return synclog.query(services.db, since=since), services.vendors.names()


class LogsTab(QWidget):
    #: Emitted whenever the table has been refilled from the database.
    reloaded = Signal(int)

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        #: The first reload also prunes; the window loads the tab when it is first shown.
        self.loaded = False

        # Filters: vendor, operation and status in the proxy; the period is a query.
        self.vendor_filter = QComboBox()
        self.vendor_filter.addItem("All vendors", None)
        self.operation_filter = QComboBox()
        self.operation_filter.addItem("All operations", None)
        for operation in OPERATIONS:
            self.operation_filter.addItem(operation.capitalize(), operation)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All results", None)
        for status, words in STATUS_WORDS.items():
            self.status_filter.addItem(words, status)
        self.period_filter = QComboBox()
        for words, days in PERIODS:
            self.period_filter.addItem(words, days)
        self.period_filter.setCurrentIndex(DEFAULT_PERIOD)
        tools = QHBoxLayout()
        for combo in (self.vendor_filter, self.operation_filter, self.status_filter, self.period_filter):
            tools.addWidget(combo)
        tools.addStretch(1)

        # The table, or a word when there is nothing to show.
        self.model = LogsTableModel(self)
        self.proxy = LogsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(STARTED, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COUNTS, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        self.empty = QLabel(EMPTY_TEXT, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        # The selected run in full: its error and every shipment or answer that failed.
        self.detail = QPlainTextEdit(readOnly=True)
        self.detail.setPlaceholderText(NO_SELECTION_TEXT)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.stack)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(splitter, 1)

        for combo in (self.vendor_filter, self.operation_filter, self.status_filter):
            combo.currentIndexChanged.connect(lambda _i: self._filter_changed())
        self.period_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> asyncio.Task[None]:
        """Refill from the database in a worker thread; a request during a reload runs it again."""
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload())
        else:
            self._reload_again = True
        return self._reload_task

    async def _reload(self) -> None:
        self._reload_again = True
        while self._reload_again:
            self._reload_again = False
            since = period_start(self.period_filter.currentData())
            prune, self.loaded = not self.loaded, True
            rows, vendors = await asyncio.to_thread(load_logs, self.services, since, prune)
            selected = self.selected_run()
            self._fill_vendors(rows, vendors)
            self.model.set_rows(rows)
            self.select_id(selected.id if selected else None)
            self._show_table_or_empty()
        self.reloaded.emit(self.model.rowCount())

    def _fill_vendors(self, rows: list[SyncLog], vendors: dict[int, str]) -> None:
        """Every vendor, then removed vendors that still have runs; the choice is kept when it can be."""
        chosen = self.vendor_filter.currentData()
        self.vendor_filter.blockSignals(True)
        self.vendor_filter.clear()
        self.vendor_filter.addItem("All vendors", None)
        for vendor_id, name in vendors.items():
            self.vendor_filter.addItem(name, vendor_key(vendor_id, name))
        removed = sorted({row.vendor_name for row in rows if row.vendor_id is None}, key=str.casefold)
        for name in removed:
            self.vendor_filter.addItem(f"{name} (removed)", vendor_key(None, name))
        index = self.vendor_filter.findData(chosen) if chosen is not None else 0
        self.vendor_filter.setCurrentIndex(max(index, 0))
        self.vendor_filter.blockSignals(False)
        self._apply_filters()

    def _apply_filters(self) -> None:
        self.proxy.set_filters(
            self.vendor_filter.currentData(), self.operation_filter.currentData(), self.status_filter.currentData()
        )

    def _filter_changed(self) -> None:
        self._apply_filters()
        self._show_table_or_empty()
        self._show_detail()

    def _show_table_or_empty(self) -> None:
        if self.model.rowCount() == 0:
            self.empty.setText(EMPTY_TEXT)
            self.stack.setCurrentWidget(self.empty)
        elif self.proxy.rowCount() == 0:
            self.empty.setText(FILTERED_TEXT)
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.table)

    # -- selection and detail -------------------------------------------------------------

    def selected_run(self) -> SyncLog | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ROW_ROLE) if rows else None

    def select_id(self, run_id: int | None) -> None:
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(ROW_ROLE).id == run_id:
                self.table.selectRow(row)
                return
        self.table.clearSelection()
        self._show_detail()

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        run = self.selected_run()
        self.detail.setPlainText(detail_text(run) if run is not None else "")

    async def shutdown(self) -> None:
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reload_task
