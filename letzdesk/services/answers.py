"""The vendor's answers: confirm or decline items, set tracking, and the outbox that carries them.

Every answer is written in one transaction with the task that will send it (DESIGN.md §4-5):
the local change is visible at once, and the task survives a crash until Letzshop has it.
Only pending tasks can still be changed; a later answer for the same item replaces the earlier
one before it is sent, so Letzshop only ever sees the last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..store.db import Database
from ..store.models import Credential, FulfillmentTask, InventoryUnit, Order, Vendor
from ..store.types import utcnow
from .answer_input import MAX_REASON, carrier_problem, clean_reason, normalise_tracking, tracking_problem
from .outbox import (
    CANCELLED,
    CONFIRM,
    DECLINE,
    DONE,
    FAILED,
    IN_FLIGHT,
    PENDING,
    TARGET,
    TRACKING,
    TaskView,
    WriteBack,
    active_answer_tasks,
    close_task,
    drop_units,
    failed_answer_tasks,
    refresh_status,
    restore_tracking,
    summarise,
    task_view,
    tasks_by_id,
)
from .status import UNIT_AVAILABLE, UNIT_UNAVAILABLE, UNIT_UNCONFIRMED, effective_state
from .vendors import CARRIERS

logger = logging.getLogger(__name__)


class AnswerError(ValueError):
    """An answer that cannot be queued; the message says why in the vendor's words."""


@dataclass(frozen=True)
class Queued:
    """What one answer did: the new task (None when nothing needed sending) and what it replaced."""

    task_id: int | None
    units: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    replaced: tuple[int, ...] = ()


class AnswerService:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # -- finding an order -------------------------------------------------------------------

    def find_order(self, vendor_id: int, reference: str) -> int:
        """The order whose order number, shipment number or shipment id is ``reference``."""
        reference = reference.strip()
        with self.db.session() as session:
            rows = session.execute(
                select(Order.id, Order.order_number, Order.shipment_number).where(
                    Order.vendor_id == vendor_id,
                    or_(
                        func.upper(Order.order_number) == reference.upper(),
                        func.upper(Order.shipment_number) == reference.upper(),
                        Order.shipment_id == reference,
                    ),
                )
            ).all()
        if not rows:
            raise AnswerError(
                f"No order or shipment {reference!r} for this vendor. If it is new, import it first (letzdesk import)."
            )
        if len(rows) > 1:
            shipments = ", ".join(str(row.shipment_number) for row in rows)
            raise AnswerError(f"Order {reference} has several shipments ({shipments}); give the shipment number.")
        return rows[0].id

    # -- answering items --------------------------------------------------------------------

    def confirm(self, vendor_id: int, order_pk: int, unit_ids: Sequence[str] | None = None) -> Queued:
        """Confirm the given items (all unanswered ones when None)."""
        return self._answer(vendor_id, order_pk, CONFIRM, unit_ids, None)

    def decline(self, vendor_id: int, order_pk: int, unit_ids: Sequence[str] | None, reason: str) -> Queued:
        """Decline the given items (all unanswered ones when None); the reason stays local."""
        reason = clean_reason(reason)
        if not reason:
            raise AnswerError("Say why the items are declined; the reason is kept with the order.")
        if len(reason) > MAX_REASON:
            raise AnswerError(f"Keep the reason under {MAX_REASON} characters (it has {len(reason)}).")
        return self._answer(vendor_id, order_pk, DECLINE, unit_ids, reason)

    def _answer(
        self, vendor_id: int, order_pk: int, operation: str, unit_ids: Sequence[str] | None, reason: str | None
    ) -> Queued:
        target = TARGET[operation]
        now = self.clock()
        with self.db.write_session() as session:
            order = _order(session, vendor_id, order_pk)
            active = active_answer_tasks(session, order_pk)
            covering = {unit: task for task in active for unit in task.payload.get("units", ())}
            units = _chosen_units(order, unit_ids)

            chosen: list[InventoryUnit] = []
            unchanged: list[str] = []
            replaced: set[int] = set()
            for unit in units:
                task = covering.get(unit.unit_id)
                answered = unit.state not in (None, UNIT_UNCONFIRMED)
                if unit_ids is None and task is not None and TARGET[task.operation] != target:
                    continue  # "all" means the items still open: a queued answer of the other kind stands
                if task is not None and task.status == IN_FLIGHT:
                    raise AnswerError(f"Item {_label(unit)} is being sent to Letzshop right now; try again shortly.")
                if answered and unit.state != target:
                    if unit_ids is None:
                        continue  # "all" means the items still open
                    raise AnswerError(
                        f"Item {_label(unit)} is already {_words(unit.state)} on Letzshop, "
                        "which takes one answer per item."
                    )
                if task is not None and TARGET[task.operation] != target:
                    drop_units(task, [unit.unit_id], "replaced by a later answer", now)
                    replaced.add(task.id)
                    task = None
                if answered or task is not None:
                    unchanged.append(unit.unit_id)
                    if answered:
                        unit.answer = None
                    continue
                chosen.append(unit)

            # A failed answer for these items is settled by the new one.
            chosen_ids = {unit.unit_id for unit in chosen}
            for task in failed_answer_tasks(session, order_pk):
                if chosen_ids & set(task.payload.get("units", ())):
                    close_task(task, CANCELLED, "replaced by a later answer", now)
                    replaced.add(task.id)

            # Tracking needs a confirmed item: when none is left, a tracking number not yet sent
            # could only be refused, and would hold this answer back behind it.
            if UNIT_AVAILABLE not in (effective_state(u.state, u.answer) for u in order.units):
                for task in session.scalars(
                    select(FulfillmentTask).where(
                        FulfillmentTask.order_pk == order_pk,
                        FulfillmentTask.operation == TRACKING,
                        FulfillmentTask.status.in_((PENDING, FAILED)),
                    )
                ):
                    close_task(task, CANCELLED, "no confirmed item left to ship", now)
                    replaced.add(task.id)
                    if order.tracking_number == task.payload.get("code"):
                        restore_tracking(session, order)

            task_id = None
            if chosen:
                for unit in chosen:
                    unit.answer = target
                    unit.answered_at = now
                    unit.decline_reason = reason
                task = self._new_task(session, order, operation, {"units": sorted(chosen_ids, key=_position(order))})
                if reason:
                    task.payload = {**task.payload, "reason": reason}
                session.flush()
                task_id = task.id
            refresh_status(order)

        logger.info(
            "Order %s: %s %d item(s) queued as task %s (%d unchanged, %d task(s) replaced)",
            order.shipment_number,
            operation,
            len(chosen),
            task_id,
            len(unchanged),
            len(replaced),
        )
        return Queued(task_id, tuple(u.unit_id for u in chosen), tuple(unchanged), tuple(sorted(replaced)))

    # -- tracking ---------------------------------------------------------------------------

    def set_tracking(self, vendor_id: int, order_pk: int, number: str, carrier: str | None = None) -> Queued:
        """Keep the number and carrier as ours and queue them for Letzshop."""
        code = normalise_tracking(number)
        problem = tracking_problem(code)
        if problem:
            raise AnswerError(problem)
        now = self.clock()
        with self.db.write_session() as session:
            order = _order(session, vendor_id, order_pk)
            carrier = (carrier or "").strip() or session.scalar(
                select(Credential.default_carrier).where(Credential.vendor_id == vendor_id)
            )
            if not carrier:
                raise AnswerError(
                    f"Choose the carrier ({', '.join(CARRIERS[:-1])}, or its name), or set a default carrier "
                    "for this vendor."
                )
            problem = carrier_problem(carrier)
            if problem:
                raise AnswerError(problem)
            states = [effective_state(u.state, u.answer) for u in order.units]
            if UNIT_AVAILABLE not in states:
                raise AnswerError("Tracking can be set once at least one item of the order is confirmed.")

            payload = {"code": code, "carrier": carrier}
            tasks = list(
                session.scalars(
                    select(FulfillmentTask).where(
                        FulfillmentTask.order_pk == order_pk,
                        FulfillmentTask.operation == TRACKING,
                        FulfillmentTask.status.in_((PENDING, IN_FLIGHT, DONE, FAILED)),
                    )
                )
            )
            replaced = []
            for task in tasks:
                if task.status in (PENDING, FAILED):
                    close_task(task, CANCELLED, "replaced by a later tracking number", now)
                    replaced.append(task.id)
            last_sent = max((t for t in tasks if t.status in (IN_FLIGHT, DONE)), key=lambda t: t.id, default=None)
            order.tracking_number = code
            order.tracking_carrier = carrier
            refresh_status(order)
            task_id = None
            if last_sent is None or last_sent.payload != payload:
                task = self._new_task(session, order, TRACKING, payload)
                session.flush()
                task_id = task.id
        logger.info("Order %s: tracking queued as task %s (%d replaced)", order.shipment_number, task_id, len(replaced))
        return Queued(task_id, replaced=tuple(replaced))

    def _new_task(self, session: Session, order: Order, operation: str, payload: dict[str, Any]) -> FulfillmentTask:
        max_attempts = session.scalar(select(Credential.max_attempts).where(Credential.vendor_id == order.vendor_id))
        now = self.clock()
        task = FulfillmentTask(
            vendor_id=order.vendor_id,
            order_pk=order.id,
            operation=operation,
            payload=payload,
            status=PENDING,
            attempts=0,
            waits=0,
            max_attempts=max_attempts or 3,
            next_attempt_at=now,
            verify=False,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        return task

    # -- the queue --------------------------------------------------------------------------

    def tasks(
        self, vendor_id: int | None = None, statuses: Iterable[str] | None = None, order_pk: int | None = None
    ) -> list[TaskView]:
        """Tasks newest first, joined with what the queue tab and the command line show."""
        query = (
            select(FulfillmentTask, Vendor.name, Order.order_number, Order.shipment_number, Credential.dry_run)
            .join(Vendor, Vendor.id == FulfillmentTask.vendor_id)
            .join(Order, Order.id == FulfillmentTask.order_pk)
            .outerjoin(Credential, Credential.vendor_id == FulfillmentTask.vendor_id)
            .order_by(FulfillmentTask.id.desc())
        )
        if vendor_id is not None:
            query = query.where(FulfillmentTask.vendor_id == vendor_id)
        if statuses is not None:
            query = query.where(FulfillmentTask.status.in_(list(statuses)))
        if order_pk is not None:
            query = query.where(FulfillmentTask.order_pk == order_pk)
        with self.db.session() as session:
            return [task_view(task, *rest) for task, *rest in session.execute(query).all()]

    def retry(self, task_ids: Iterable[int]) -> int:
        """Send failed or waiting tasks now; a failed answer's items are marked answered again."""
        now = self.clock()
        count = 0
        with self.db.write_session() as session:
            for task in tasks_by_id(session, task_ids):
                if task.status == PENDING:
                    task.next_attempt_at = now
                elif task.status == FAILED:
                    if task.operation != TRACKING and not self._reclaim_units(session, task):
                        close_task(task, CANCELLED, "nothing left to send: every item already has an answer", now)
                        continue
                    task.status = PENDING
                    task.attempts = 0
                    task.waits = 0
                    task.next_attempt_at = now
                    task.finished_at = None
                else:
                    continue
                task.updated_at = now
                count += 1
        logger.info("Retry now: %d task(s)", count)
        return count

    def _reclaim_units(self, session: Session, task: FulfillmentTask) -> bool:
        """Mark a failed answer's items answered again, leaving out those answered since."""
        target = TARGET[task.operation]
        order = session.get(Order, task.order_pk, options=[selectinload(Order.units)])
        assert order is not None
        covered = {u for t in active_answer_tasks(session, task.order_pk) for u in t.payload.get("units", ())}
        units = {unit.unit_id: unit for unit in order.units}
        # Only items still open on Letzshop can take the answer again (one answer per item).
        keep = [
            u
            for u in task.payload.get("units", ())
            if u in units and u not in covered and units[u].state in (None, UNIT_UNCONFIRMED)
        ]
        for unit_id in keep:
            units[unit_id].answer = target
        task.payload = {**task.payload, "units": keep}
        refresh_status(order)
        return bool(keep)

    def cancel(self, task_ids: Iterable[int]) -> int:
        """Cancel pending or failed tasks; a cancelled answer's items are open again."""
        now = self.clock()
        count = 0
        with self.db.write_session() as session:
            for task in tasks_by_id(session, task_ids):
                if task.status not in (PENDING, FAILED):
                    continue
                if task.status == PENDING and task.operation != TRACKING:
                    drop_units(task, list(task.payload.get("units", ())), "cancelled by the vendor", now)
                else:
                    close_task(task, CANCELLED, "cancelled by the vendor", now)
                order = session.get(Order, task.order_pk)
                if order is None:
                    continue
                if task.operation == TRACKING and order.tracking_number == task.payload.get("code"):
                    restore_tracking(session, order)
                refresh_status(order)
                count += 1
        logger.info("Cancelled %d task(s)", count)
        return count

    def failing_counts(self) -> dict[int, int]:
        """Vendor id -> tasks that failed for good and wait for a person."""
        with self.db.session() as session:
            rows = session.execute(
                select(FulfillmentTask.vendor_id, func.count())
                .where(FulfillmentTask.status == FAILED)
                .group_by(FulfillmentTask.vendor_id)
            ).all()
        return dict(rows)  # type: ignore[arg-type]

    def writeback(self, order_pks: Iterable[int] | None = None) -> dict[int, WriteBack]:
        """Order -> where its answers are; orders without tasks are absent."""
        query = select(FulfillmentTask).where(FulfillmentTask.status != CANCELLED).order_by(FulfillmentTask.id)
        if order_pks is not None:
            query = query.where(FulfillmentTask.order_pk.in_(list(order_pks)))
        with self.db.session() as session:
            dry = set(session.scalars(select(Credential.vendor_id).where(Credential.dry_run)))
            by_order: dict[int, list[FulfillmentTask]] = {}
            for task in session.scalars(query):
                by_order.setdefault(task.order_pk, []).append(task)
        return {pk: summarise(tasks, tasks[0].vendor_id in dry) for pk, tasks in by_order.items()}


# -- helpers ------------------------------------------------------------------------------


def _order(session: Session, vendor_id: int, order_pk: int) -> Order:
    order = session.get(Order, order_pk, options=[selectinload(Order.units)])
    if order is None or order.vendor_id != vendor_id:
        raise AnswerError("This order no longer exists; import again.")
    return order


def _chosen_units(order: Order, unit_ids: Sequence[str] | None) -> list[InventoryUnit]:
    if unit_ids is None:
        return list(order.units)
    by_id = {unit.unit_id: unit for unit in order.units}
    unknown = [unit_id for unit_id in unit_ids if unit_id not in by_id]
    if unknown:
        raise AnswerError(f"Order {order.shipment_number} has no item {unknown[0]!r}.")
    return [by_id[unit_id] for unit_id in dict.fromkeys(unit_ids)]


def _position(order: Order) -> Callable[[str], int]:
    positions = {unit.unit_id: unit.position for unit in order.units}
    return lambda unit_id: positions.get(unit_id, 0)


def _label(unit: InventoryUnit) -> str:
    return f"{unit.name or unit.sku or unit.unit_id}"


def _words(state: str | None) -> str:
    return {UNIT_AVAILABLE: "confirmed", UNIT_UNAVAILABLE: "declined"}.get(state or "", state or "answered")
