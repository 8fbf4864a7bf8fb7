"""The outbox's vocabulary: task states and operations, read-only views of tasks, and the small
steps on tasks and orders that the answer service and the worker share.

A task and the local change it carries are always written together (DESIGN.md §4); these helpers
run inside the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import FulfillmentTask, Order
from .status import UNIT_AVAILABLE, UNIT_UNAVAILABLE, derive_status, effective_state

CONFIRM, DECLINE, TRACKING = "confirm", "decline", "tracking"
OPERATIONS = (CONFIRM, DECLINE, TRACKING)
PENDING, IN_FLIGHT, DONE, FAILED, CANCELLED = "pending", "in_flight", "done", "failed", "cancelled"
TASK_STATUSES = (PENDING, IN_FLIGHT, DONE, FAILED, CANCELLED)
ACTIVE = (PENDING, IN_FLIGHT)
TARGET = {CONFIRM: UNIT_AVAILABLE, DECLINE: UNIT_UNAVAILABLE}


@dataclass(frozen=True)
class TaskView:
    """One row of the queue, detached from any session."""

    id: int
    vendor_id: int
    vendor_name: str
    order_pk: int
    order_number: str | None
    shipment_number: str | None
    operation: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    verify: bool
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    dry_run: bool

    @property
    def summary(self) -> str:
        """What the task asks of Letzshop, in a few words."""
        if self.operation == TRACKING:
            return f"tracking {self.payload.get('code')} ({self.payload.get('carrier')})"
        count = len(self.payload.get("units", ()))
        return f"{self.operation} {count} item{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class WriteBack:
    """Where an order's answers are on their way to Letzshop, for the orders table."""

    state: str  # queued, sending, retrying, sent, failed, held
    text: str
    failed_tasks: tuple[int, ...] = ()


def active_answer_tasks(session: Session, order_pk: int) -> list[FulfillmentTask]:
    return list(
        session.scalars(
            select(FulfillmentTask)
            .where(
                FulfillmentTask.order_pk == order_pk,
                FulfillmentTask.operation.in_((CONFIRM, DECLINE)),
                FulfillmentTask.status.in_(ACTIVE),
            )
            .order_by(FulfillmentTask.id)
        )
    )


def failed_answer_tasks(session: Session, order_pk: int) -> list[FulfillmentTask]:
    return list(
        session.scalars(
            select(FulfillmentTask).where(
                FulfillmentTask.order_pk == order_pk,
                FulfillmentTask.operation.in_((CONFIRM, DECLINE)),
                FulfillmentTask.status == FAILED,
            )
        )
    )


def tasks_by_id(session: Session, task_ids: Iterable[int]) -> list[FulfillmentTask]:
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        return []
    return list(
        session.scalars(select(FulfillmentTask).where(FulfillmentTask.id.in_(ids)).order_by(FulfillmentTask.id))
    )


def drop_units(task: FulfillmentTask, unit_ids: list[str], why: str, now: datetime) -> None:
    """Take items out of a pending answer task, cancelling it when none are left.

    The items' local answers are cleared; the caller sets new ones where it replaces them.
    """
    remaining = [u for u in task.payload.get("units", ()) if u not in unit_ids]
    for unit in task.order.units:
        if unit.unit_id in unit_ids and unit.answer == TARGET[task.operation]:
            unit.answer = None
            unit.decline_reason = None
    if remaining:
        task.payload = {**task.payload, "units": remaining}
        task.updated_at = now
    else:
        close_task(task, CANCELLED, why, now)


def close_task(task: FulfillmentTask, status: str, note: str | None, now: datetime) -> None:
    task.status = status
    if note:
        task.last_error = note
    task.finished_at = now
    task.updated_at = now


def refresh_status(order: Order) -> None:
    """The derived status with the vendor's answers laid over Letzshop's unit states."""
    order.status = derive_status(
        (effective_state(u.state, u.answer) for u in order.units),
        has_tracking=bool(order.tracking_number),
        shipment_state=order.letzshop_state,
    )


def restore_tracking(session: Session, order: Order) -> None:
    """Back to the last tracking that went to Letzshop (or that Letzshop set), since this one never will."""
    sent = session.scalars(
        select(FulfillmentTask)
        .where(
            FulfillmentTask.order_pk == order.id,
            FulfillmentTask.operation == TRACKING,
            FulfillmentTask.status.in_((IN_FLIGHT, DONE)),
        )
        .order_by(FulfillmentTask.id.desc())
        .limit(1)
    ).first()
    if sent is not None:
        order.tracking_number, order.tracking_carrier = sent.payload["code"], sent.payload["carrier"]
    else:
        order.tracking_number, order.tracking_carrier = order.remote_tracking_number, order.remote_tracking_carrier


def task_view(
    task: FulfillmentTask, vendor: str, order_number: str | None, shipment: str | None, dry: bool | None
) -> TaskView:
    return TaskView(
        id=task.id,
        vendor_id=task.vendor_id,
        vendor_name=vendor,
        order_pk=task.order_pk,
        order_number=order_number,
        shipment_number=shipment,
        operation=task.operation,
        payload=dict(task.payload),
        status=task.status,
        attempts=task.attempts,
        max_attempts=task.max_attempts,
        next_attempt_at=task.next_attempt_at,
        verify=task.verify,
        last_error=task.last_error,
        created_at=task.created_at,
        finished_at=task.finished_at,
        dry_run=bool(dry),
    )


def summarise(tasks: list[FulfillmentTask], dry_run: bool) -> WriteBack:
    failed = tuple(t.id for t in tasks if t.status == FAILED)
    if failed:
        error = next(t.last_error for t in reversed(tasks) if t.status == FAILED)
        return WriteBack(FAILED, f"Failed: {error or 'no reason given'}", failed)
    if any(t.status == IN_FLIGHT for t in tasks):
        return WriteBack("sending", "Sending…")
    pending = [t for t in tasks if t.status == PENDING]
    if pending and dry_run:
        return WriteBack("held", "Queued (dry run: not sent)")
    waiting = [t for t in pending if t.attempts or t.waits or t.verify]
    if waiting:
        when = min(t.next_attempt_at for t in waiting).astimezone().strftime("%H:%M")
        return WriteBack("retrying", f"Retry at {when}: {waiting[0].last_error or 'waiting'}")
    if pending:
        return WriteBack("queued", "Answer queued")
    return WriteBack("sent", "Sent to Letzshop")
