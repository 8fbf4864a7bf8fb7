"""The queue tab: every answer on its way to Letzshop, what became of it, and what a person can do.

Failed answers wait here for a person: "Retry now" sends them again, "Cancel" gives up on
them (a waiting answer's items are open again in the orders tab). Database reads and writes
run in a worker thread; sending goes through the window's one AnswerSender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..app import Services
from ..services.outbox import DONE, FAILED, PENDING, TaskView
from ..services.worker import DrainReport
from .answer_dialogs import ERROR_STYLE
from .answer_sender import AnswerSender, changed_anything, describe
from .queue_model import (
    ERROR,
    QUEUED,
    ROW_ROLE,
    STATE_WORDS,
    QueueFilterProxy,
    QueueTableModel,
    order_text,
)

logger = logging.getLogger(__name__)

EMPTY_TEXT = (
    "No answers yet.\n\nConfirm, decline or set tracking in the Orders tab: each answer waits here "
    "until Letzshop has it, and stays here afterwards as a record."
)
FILTERED_TEXT = "No answer matches these filters."


def load_tasks(services: Services) -> tuple[list[TaskView], dict[int, str]]:
    """Runs in a worker thread: every task, newest first, and the vendors for the filter."""
    return services.answers.tasks(), services.vendors.names()


class QueueTab(QWidget):
    """Questions go through ``ask`` so tests can answer them without a modal loop."""

    #: After a retry or a cancel: the orders tab reads the items' answers again.
    tasks_changed = Signal()
    #: The number of failed answers after each reload, for the tab title.
    failed_count_changed = Signal(int)
    #: Emitted whenever the table has been refilled from the database.
    reloaded = Signal(int)

    def __init__(self, services: Services, answer_sender: AnswerSender, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.answer_sender = answer_sender
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        #: The last retry or cancel; the buttons wait while it writes.
        self.action_task: asyncio.Task[None] | None = None
        self._acting = False
        #: The send was asked for here: its outcome goes in the note even when nothing was due.
        self._awaiting_send = False

        # Filters and actions.
        self.vendor_filter = QComboBox()
        self.vendor_filter.addItem("All vendors", None)
        self.state_filter = QComboBox()
        self.state_filter.addItem("All states", None)
        for status, words in STATE_WORDS.items():
            self.state_filter.addItem(words, status)
        self.retry_button = QPushButton("Retry now")
        self.retry_button.setToolTip("Send the selected failed or waiting answers again now")
        self.cancel_button = QPushButton("Cancel…")
        self.cancel_button.setToolTip("Give up on the selected answers; waiting items become open again")
        self.send_button = QPushButton("Send due answers")
        self.send_button.setToolTip("Send every answer whose time has come, for every vendor")
        tools = QHBoxLayout()
        tools.addWidget(self.vendor_filter)
        tools.addWidget(self.state_filter)
        tools.addStretch(1)
        for button in (self.retry_button, self.cancel_button, self.send_button):
            tools.addWidget(button)

        # The table, or a word when there is nothing to show.
        self.model = QueueTableModel(self)
        self.proxy = QueueFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(QUEUED, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(ERROR, QHeaderView.ResizeMode.Stretch)  # the reason takes what is left
        header.setMinimumSectionSize(60)
        self.empty = QLabel(EMPTY_TEXT, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        # The selected answer in full (the table elides a long reason), then the last send.
        self.detail = QLabel(wordWrap=True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel(wordWrap=True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.note)

        self.vendor_filter.currentIndexChanged.connect(lambda _i: self._filter_changed())
        self.state_filter.currentIndexChanged.connect(lambda _i: self._filter_changed())
        self.retry_button.clicked.connect(self.retry_selected)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.send_button.clicked.connect(self.send_due)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        answer_sender.busy_changed.connect(self._sending_changed)
        answer_sender.drained.connect(self._drained)
        self._update_buttons()

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
            tasks, vendors = await asyncio.to_thread(load_tasks, self.services)
            selected = {task.id for task in self.selected_tasks()}
            self._fill_vendors(vendors)
            self.model.set_rows(tasks)
            self._select_ids(selected)
            self._show_table_or_empty()
            self._update_buttons()
        self.reloaded.emit(self.model.rowCount())
        self.failed_count_changed.emit(sum(task.status == FAILED for task in tasks))

    def _fill_vendors(self, vendors: dict[int, str]) -> None:
        """The vendor filter lists every vendor and keeps its choice (back to all if it was removed)."""
        chosen = self.vendor_filter.currentData()
        self.vendor_filter.blockSignals(True)
        self.vendor_filter.clear()
        self.vendor_filter.addItem("All vendors", None)
        for vendor_id, name in vendors.items():
            self.vendor_filter.addItem(name, vendor_id)
        index = self.vendor_filter.findData(chosen) if chosen is not None else 0
        self.vendor_filter.setCurrentIndex(max(index, 0))
        self.vendor_filter.blockSignals(False)
        self.proxy.set_vendor(self.vendor_filter.currentData())

    def _filter_changed(self) -> None:
        self.proxy.set_vendor(self.vendor_filter.currentData())
        self.proxy.set_status(self.state_filter.currentData())
        self._show_table_or_empty()
        self._update_buttons()

    def _show_table_or_empty(self) -> None:
        if self.model.rowCount() == 0:
            self.empty.setText(EMPTY_TEXT)
            self.stack.setCurrentWidget(self.empty)
        elif self.proxy.rowCount() == 0:
            self.empty.setText(FILTERED_TEXT)
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.table)

    def selected_tasks(self) -> list[TaskView]:
        return [index.data(ROW_ROLE) for index in self.table.selectionModel().selectedRows()]

    def _select_ids(self, ids: set[int]) -> None:
        selection = QItemSelection()
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(ROW_ROLE).id in ids:
                selection.select(self.proxy.index(row, 0), self.proxy.index(row, self.proxy.columnCount() - 1))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_buttons()

    def _show_detail(self) -> None:
        tasks = self.selected_tasks()
        if len(tasks) != 1:
            self.detail.setText(f"{len(tasks)} answers selected." if tasks else "")
            self.detail.setStyleSheet("")
            return
        task = tasks[0]
        text = f"{task.vendor_name}, order {order_text(task)}: {task.summary} — {self.model.state_text(task).lower()}"
        text += f", {task.attempts} of {task.max_attempts} attempts."
        if task.last_error and task.status != DONE:
            text += f"\n{task.last_error}"
        self.detail.setText(text)
        self.detail.setStyleSheet(ERROR_STYLE if task.status == FAILED else "")

    def _update_buttons(self) -> None:
        self._show_detail()
        tasks = self.selected_tasks()
        idle = not self._acting
        actionable = [task for task in tasks if task.status in (PENDING, FAILED)]
        self.retry_button.setEnabled(idle and bool(actionable))
        self.cancel_button.setEnabled(idle and bool(actionable))

    # -- retry, cancel, send --------------------------------------------------------------

    def ask(self, title: str, text: str) -> bool:
        """A yes/no question (from a slot, never inside a task); tests replace this to answer it."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def retry_selected(self) -> asyncio.Task[None] | None:
        tasks = [task for task in self.selected_tasks() if task.status in (PENDING, FAILED)]
        if not tasks:
            return None
        return self._act(self._retry(tasks))

    def cancel_selected(self) -> asyncio.Task[None] | None:
        """Cancel the selected waiting or failed answers, asking first when there are several."""
        tasks = [task for task in self.selected_tasks() if task.status in (PENDING, FAILED)]
        if not tasks:
            return None
        if len(tasks) > 1 and not self.ask(
            "Cancel answers",
            f"Cancel {len(tasks)} answers? Waiting answers are not sent and their items are open again "
            "in the Orders tab; failed answers are closed.",
        ):
            return None
        return self._act(self._cancel(tasks))

    def send_due(self) -> asyncio.Task[None]:
        self._awaiting_send = True
        return self.answer_sender.request(None)

    def _act(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self._acting = True
        self._update_buttons()  # busy at once, before the task gets its first turn
        self.action_task = task = asyncio.ensure_future(work)
        return task

    def _acted(self) -> None:
        self._acting = False
        self._update_buttons()

    async def _retry(self, tasks: list[TaskView]) -> None:
        try:
            count = await asyncio.to_thread(self.services.answers.retry, [task.id for task in tasks])
        finally:
            self._acted()
        self._set_note(f"{count} answer{'s' if count != 1 else ''} to send again.")
        self.tasks_changed.emit()
        await self.reload()
        if count:
            self._awaiting_send = True
            self.answer_sender.request({task.vendor_id for task in tasks})

    async def _cancel(self, tasks: list[TaskView]) -> None:
        try:
            count = await asyncio.to_thread(self.services.answers.cancel, [task.id for task in tasks])
        finally:
            self._acted()
        self._set_note(f"{count} answer{'s' if count != 1 else ''} cancelled.")
        self.tasks_changed.emit()
        await self.reload()

    def _sending_changed(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.send_button.setText("Sending…" if busy else "Send due answers")

    def _drained(self, report: DrainReport) -> None:
        text = describe(report)
        if self._awaiting_send or (text and (changed_anything(report) or report.busy)):
            self._set_note(text or "Nothing was due to send.", error=bool(report.failed or report.errors))
        self._awaiting_send = False
        self.reload()

    def _set_note(self, text: str, *, error: bool = False) -> None:
        self.note.setStyleSheet(ERROR_STYLE if error else "")
        self.note.setText(f"{datetime.now().strftime('%H:%M')} — {text}")

    async def shutdown(self) -> None:
        for task in (self.action_task, self._reload_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
