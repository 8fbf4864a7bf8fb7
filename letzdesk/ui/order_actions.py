"""Answering orders from the orders tab: confirm, decline and tracking for the chosen orders or units.

The row of buttons under the orders table, and the flow behind every answer: queue it in a
worker thread (the service writes the local change and the task together), say what happened,
then ask the sender to drain that vendor's queue in the background. The tab says which orders
are selected and which order the detail pane shows; this widget never reads the table itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from ..app import Services
from ..services.answers import AnswerError, Queued
from ..services.worker import DrainReport
from .answer_dialogs import ERROR_STYLE, DeclineDialog, TrackingDialog, TrackingTarget
from .answer_sender import AnswerSender, describe
from .orders_model import OrderRow

logger = logging.getLogger(__name__)

#: One answer to queue: the order it is for, and the service call.
Step = tuple[OrderRow, Callable[[], Queued]]


def queue_answers(steps: list[Step]) -> tuple[list[Queued], list[str]]:
    """Runs in a worker thread: each order on its own, so one refusal leaves the others queued."""
    results, errors = [], []
    for row, step in steps:
        try:
            results.append(step())
        except AnswerError as exc:
            errors.append(f"{row.number}: {exc}")
    return results, errors


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


class OrderActions(QWidget):
    """Dialogs and questions go through ``make_*_dialog`` and ``ask`` so tests can drive them."""

    #: After answers were queued or retried: the tables read the database again.
    answers_changed = Signal()
    #: True while an answer is being queued, so nothing is queued twice by a double click.
    busy_changed = Signal(bool)

    def __init__(
        self,
        services: Services,
        answer_sender: AnswerSender,
        selected_rows: Callable[[], list[OrderRow]],
        shown_row: Callable[[], OrderRow | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.answer_sender = answer_sender
        self.selected_rows = selected_rows
        self.shown_row = shown_row
        #: The last answer (or retry) being queued.
        self.task: asyncio.Task[None] | None = None
        self._running = 0
        #: A drain was asked for after queuing; its outcome replaces the "sending…" note.
        self._awaiting_send = False
        #: The dialog opened last; kept until the next one opens, so tests can fill and accept it.
        self.dialog: DeclineDialog | TrackingDialog | None = None

        self.confirm_all_button = QPushButton("Confirm all")
        self.confirm_all_button.setToolTip("Confirm every open item of the selected orders")
        self.decline_all_button = QPushButton("Decline all…")
        self.decline_all_button.setToolTip("Decline every open item of the selected orders")
        self.tracking_button = QPushButton("Set tracking…")
        self.tracking_button.setToolTip("Type the parcel's tracking number (orders with a confirmed item)")
        self.note = QLabel(wordWrap=True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for button in (self.confirm_all_button, self.decline_all_button, self.tracking_button):
            layout.addWidget(button)
        layout.addWidget(self.note, 1)

        self.confirm_all_button.clicked.connect(self.confirm_all)
        self.decline_all_button.clicked.connect(self.decline_all)
        self.tracking_button.clicked.connect(self.set_tracking)
        answer_sender.drained.connect(self._drained)
        self.update_buttons()

    @property
    def busy(self) -> bool:
        return self._running > 0

    def update_buttons(self) -> None:
        """Enable what the selection allows: answers need an open item, tracking a confirmed one."""
        rows = self.selected_rows()
        self.confirm_all_button.setEnabled(not self.busy and any(row.open_units for row in rows))
        self.decline_all_button.setEnabled(not self.busy and any(row.open_units for row in rows))
        self.tracking_button.setEnabled(not self.busy and any(row.has_confirmed for row in rows))

    def ask(self, title: str, text: str) -> bool:
        """A yes/no question (from a slot, never inside a task); tests replace this to answer it."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- what the vendor asks for ---------------------------------------------------------

    def confirm_all(self) -> asyncio.Task[None] | None:
        """Confirm every open item of the selected orders (asking first when there are several)."""
        rows = [row for row in self.selected_rows() if row.open_units]
        if not rows:
            return None
        count = sum(len(row.open_units) for row in rows)
        if len(rows) > 1 and not self.ask(
            "Confirm orders", f"Confirm every open item of {len(rows)} orders ({_items(count)})?"
        ):
            return None
        confirm = self.services.answers.confirm
        return self._start([(row, partial(confirm, row.vendor_id, row.pk, None)) for row in rows], "confirmed")

    def confirm_units(self, unit_ids: list[str]) -> asyncio.Task[None] | None:
        """Confirm the ticked items of the order in the detail pane."""
        row = self.shown_row()
        if row is None or not unit_ids:
            return None
        step = (row, partial(self.services.answers.confirm, row.vendor_id, row.pk, list(unit_ids)))
        return self._start([step], "confirmed")

    def decline_all(self) -> DeclineDialog | None:
        rows = [row for row in self.selected_rows() if row.open_units]
        if not rows:
            return None
        count = sum(len(row.open_units) for row in rows)
        orders = f"order {rows[0].number}" if len(rows) == 1 else f"{len(rows)} orders"
        dialog = self.make_decline_dialog(f"Decline every open item of {orders} ({_items(count)}).")
        decline = self.services.answers.decline

        def apply() -> None:
            reason = dialog.reason_text()
            self._start([(row, partial(decline, row.vendor_id, row.pk, None, reason)) for row in rows], "declined")

        return self._open(dialog, apply)

    def decline_units(self, unit_ids: list[str]) -> DeclineDialog | None:
        """Ask why, then decline the ticked items of the order in the detail pane."""
        row = self.shown_row()
        if row is None or not unit_ids:
            return None
        units = list(unit_ids)
        dialog = self.make_decline_dialog(f"Decline {_items(len(units))} of order {row.number}.")
        decline = self.services.answers.decline

        def apply() -> None:
            self._start([(row, partial(decline, row.vendor_id, row.pk, units, dialog.reason_text()))], "declined")

        return self._open(dialog, apply)

    def set_tracking(self) -> TrackingDialog | None:
        """Ask for the tracking number of each selected order that has a confirmed item."""
        rows = {row.pk: row for row in self.selected_rows() if row.has_confirmed}
        if not rows:
            return None
        targets = [TrackingTarget(row.pk, row.number, row.order.tracking_number) for row in rows.values()]
        defaults = {row.default_carrier for row in rows.values()}
        dialog = self.make_tracking_dialog(targets, defaults.pop() if len(defaults) == 1 else None)
        track = self.services.answers.set_tracking

        def apply() -> None:
            carrier = dialog.carrier_code()
            steps = [
                (rows[pk], partial(track, rows[pk].vendor_id, pk, number, carrier))
                for pk, number in dialog.values().items()
            ]
            self._start(steps, "tracking")

        return self._open(dialog, apply)

    def retry_tasks(self, task_ids: list[int]) -> asyncio.Task[None] | None:
        """Send failed answers again now (the detail pane's Retry)."""
        row = self.shown_row()
        if row is None or not task_ids:
            return None
        self._set_running(+1)
        self.task = asyncio.ensure_future(self._retry(list(task_ids), row.vendor_id))
        return self.task

    def make_decline_dialog(self, what: str) -> DeclineDialog:
        return DeclineDialog(what, self.window())

    def make_tracking_dialog(self, targets: list[TrackingTarget], default_carrier: str | None) -> TrackingDialog:
        return TrackingDialog(targets, default_carrier, self.window())

    def _open(
        self, dialog: DeclineDialog | TrackingDialog, apply: Callable[[], None]
    ) -> DeclineDialog | TrackingDialog:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.accepted.connect(apply)
        dialog.open()  # window-modal, without a nested event loop: the asyncio loop keeps turning
        return dialog

    # -- queuing and sending --------------------------------------------------------------

    def _set_running(self, delta: int) -> None:
        self._running += delta
        self.update_buttons()
        self.busy_changed.emit(self.busy)

    def _start(self, steps: list[Step], verb: str) -> asyncio.Task[None]:
        # Busy at once, before the task gets its first turn.
        self._set_running(+1)
        self.set_note("Queuing…")
        vendor_ids = {row.vendor_id for row, _call in steps}
        self.task = task = asyncio.ensure_future(self._queue(steps, verb, vendor_ids))
        return task

    async def _queue(self, steps: list[Step], verb: str, vendor_ids: set[int]) -> None:
        try:
            results, errors = await asyncio.to_thread(queue_answers, steps)
        finally:
            self._set_running(-1)
        queued = [result for result in results if result.task_id is not None]
        if verb == "tracking":
            text = f"Tracking set on {len(queued)} order{'s' if len(queued) != 1 else ''}"
        else:
            text = f"{_items(sum(len(result.units) for result in results))} {verb}"
        lines = [f"{text}; sending to Letzshop…" if queued else "Nothing new to send."] if results else []
        self.set_note("\n".join(lines + errors), error=bool(errors))
        if results:
            self.answers_changed.emit()
        if queued:
            self._awaiting_send = True
            self.answer_sender.request(vendor_ids)

    async def _retry(self, task_ids: list[int], vendor_id: int) -> None:
        try:
            count = await asyncio.to_thread(self.services.answers.retry, task_ids)
        finally:
            self._set_running(-1)
        self.set_note(f"{count} answer{'s' if count != 1 else ''} to send again; sending to Letzshop…")
        self.answers_changed.emit()
        if count:
            self._awaiting_send = True
            self.answer_sender.request([vendor_id])

    def set_note(self, text: str, *, error: bool = False) -> None:
        self.note.setStyleSheet(ERROR_STYLE if error else "")
        self.note.setText(text)

    def _drained(self, report: DrainReport) -> None:
        if self._awaiting_send:
            self._awaiting_send = False
            self.set_note(describe(report) or "Nothing was due to send.", error=bool(report.failed or report.errors))

    async def shutdown(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
