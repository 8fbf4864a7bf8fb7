"""The fulfillment worker: sends queued answers to Letzshop, one at a time per vendor.

Each task is claimed (pending -> in flight) and committed before its mutation goes out, and
its outcome is committed after, so a process killed at any point leaves a task that says
"this may have been sent". Such a task, and any task whose send ended without an answer
(timeout, dropped connection, 5xx), reads the shipment back before it is sent again: an
answer Letzshop already has is marked done, never sent twice.

Only one process per data folder sends (``queue.lock``): the window and a ``letzdesk queue
--run`` started beside it would otherwise each take the other's in-flight task for a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import ColumnElement, exists, func, select, true, update
from sqlalchemy.orm import aliased, selectinload

from ..letzshop.client import LetzshopClient
from ..store.db import Database
from ..store.models import Credential, FulfillmentTask, InventoryUnit, Order, Vendor
from ..store.types import utcnow
from ..vault import VaultError
from . import synclog
from .delivery import Backoff, Claim, Delivery, Outcome
from .outbox import CANCELLED, DONE, FAILED, IN_FLIGHT, PENDING, TARGET, refresh_status
from .vendors import VendorError, VendorService

logger = logging.getLogger(__name__)

LOCK_NAME = "queue.lock"


@dataclass
class DrainReport:
    """What one drain did: tasks by where they ended (a task retried and then sent counts once,
    as done); ``held`` says why a vendor sent nothing."""

    done: int = 0
    failed: int = 0
    retrying: int = 0
    held: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: Another process holds this data folder's queue; nothing was sent from here.
    busy: bool = False

    def merge(self, other: DrainReport) -> None:
        self.done += other.done
        self.failed += other.failed
        self.retrying += other.retrying
        self.held.update(other.held)
        self.errors += other.errors


class QueueWorker:
    def __init__(
        self,
        db: Database,
        vendors: VendorService,
        data_dir: Path,
        *,
        client_for: Callable[[int], LetzshopClient] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.vendors = vendors
        self.client_for = client_for or vendors.client_for
        self.delivery = Delivery(backoff)
        self.clock = clock
        self.sleep = sleep
        # Protects the right to send for this data folder, across processes (see module docstring).
        self._lock = FileLock(Path(data_dir) / LOCK_NAME, thread_local=False)
        # One drain per vendor at a time within this process: an answer's own drain and the
        # periodic one would otherwise send two of the vendor's tasks side by side.
        self._vendor_locks: dict[int, asyncio.Lock] = {}
        #: Tasks this process has claimed and not finished; anything else in flight is orphaned.
        self._claimed: set[int] = set()

    # -- ownership ----------------------------------------------------------------------------

    @property
    def owner(self) -> bool:
        return self._lock.is_locked

    def start(self) -> bool:
        """Become the sender for this data folder if no other process is; recover crashed tasks."""
        if self._lock.is_locked:
            return True
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            logger.info("Another letzdesk process is sending answers for this data folder")
            return False
        recovered = self.recover()
        if recovered:
            logger.warning("%d answer(s) were being sent when letzdesk stopped; they will be checked first", recovered)
        return True

    def stop(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)

    def recover(self) -> int:
        """In-flight tasks nobody is sending go back to pending, to be read back before any resend.

        They are left by a process that died, or by a drain here that could not record an
        outcome (a full disk, say). Only the process holding the queue lock calls this.
        """
        with self.db.writing() as conn:
            result = conn.execute(
                update(FulfillmentTask)
                .where(FulfillmentTask.status == IN_FLIGHT, FulfillmentTask.id.not_in(list(self._claimed)))
                .values(status=PENDING, verify=True, updated_at=self.clock())
            )
        return result.rowcount or 0

    # -- draining -----------------------------------------------------------------------------

    async def drain(
        self,
        vendor_ids: Iterable[int] | None = None,
        *,
        wait: float = 0.0,
        trigger: str = "user",
        task_ids: Iterable[int] | None = None,
    ) -> DrainReport:
        """Send every due task, vendors in parallel, each task at most once unless ``wait`` > 0
        (then retries due within ``wait`` seconds go too). ``task_ids`` limits it to those tasks."""
        report = DrainReport()
        only = None if task_ids is None else frozenset(task_ids)
        if not self.start():
            report.busy = True
            return report
        if await asyncio.to_thread(self.recover):
            logger.warning("Answers left in flight by an earlier failure will be checked first")
        wanted = await asyncio.to_thread(self._vendors_with_work, None if vendor_ids is None else list(vendor_ids))
        deadline = asyncio.get_running_loop().time() + wait
        # Not a TaskGroup: its ExceptionGroup would hide a plain "disk full" from the caller.
        results = await asyncio.gather(
            *(self._drain_vendor(v, name, deadline, trigger, only, wait > 0) for v, name in wanted),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
            report.merge(result)
        return report

    def _vendors_with_work(self, vendor_ids: list[int] | None) -> list[tuple[int, str]]:
        query = (
            select(Vendor.id, Vendor.name)
            .where(exists().where(FulfillmentTask.vendor_id == Vendor.id, FulfillmentTask.status == PENDING))
            .order_by(Vendor.name)
        )
        if vendor_ids is not None:
            query = query.where(Vendor.id.in_(vendor_ids))
        with self.db.session() as session:
            return [(row.id, row.name) for row in session.execute(query)]

    async def _drain_vendor(
        self, vendor_id: int, name: str, deadline: float, trigger: str, only: frozenset[int] | None, again: bool
    ) -> DrainReport:
        async with self._vendor_locks.setdefault(vendor_id, asyncio.Lock()):
            return await self._drain_vendor_alone(vendor_id, name, deadline, trigger, only, again)

    async def _drain_vendor_alone(
        self, vendor_id: int, name: str, deadline: float, trigger: str, only: frozenset[int] | None, again: bool
    ) -> DrainReport:
        """One vendor's due tasks, one at a time. Without ``again`` a task is tried once per drain:
        a command that sends "now" must end even while Letzshop keeps failing."""
        report = DrainReport()
        held = await asyncio.to_thread(self._held_reason, vendor_id)
        if held:
            report.held[name] = held
            return report
        try:
            client = self.client_for(vendor_id)
        except (VendorError, VaultError) as exc:  # the vendor's key or settings cannot be used
            report.held[name] = str(exc)
            return report
        run = synclog.SyncRun(vendor_id, name, "send answers", "outbound", trigger)
        loop = asyncio.get_running_loop()
        ended: dict[int, tuple[Claim, str, str | None]] = {}
        async with client:
            while True:
                skip = frozenset() if again else frozenset(ended)
                claim = await asyncio.to_thread(self._claim, vendor_id, skip, only)
                if claim is None:
                    due = await asyncio.to_thread(self._next_due, vendor_id, only) if again else None
                    if due is None or loop.time() + due > deadline:
                        break
                    await self.sleep(max(due, 0.0))
                    continue
                try:
                    try:
                        outcome = await self.delivery.run(client, claim)
                    except asyncio.CancelledError:
                        # Quitting mid-send: the outcome is unknown, so read back before the next send.
                        stopped = Outcome(
                            PENDING, verify=True, error="Interrupted while sending; checked first next time."
                        )
                        await asyncio.to_thread(self._finish, claim, stopped)
                        raise
                    status = await asyncio.to_thread(self._finish, claim, outcome)
                finally:
                    self._claimed.discard(claim.id)
                if status is not None:
                    ended[claim.id] = (claim, status, outcome.error)
                if outcome.pause:
                    if loop.time() + outcome.delay > deadline:
                        break
                    await self.sleep(outcome.delay)
        for claim, status, error in ended.values():
            self._count(report, run, claim, status, error, name)
        if run.processed or run.error:
            await asyncio.to_thread(synclog.record, self.db, run)
        return report

    @staticmethod
    def _count(
        report: DrainReport, run: synclog.SyncRun, claim: Claim, status: str, error: str | None, name: str
    ) -> None:
        """Count a task by where it ended in this drain."""
        what = f"{claim.operation} {claim.shipment_number}"
        if status == DONE:
            report.done += 1
            run.updated += 1
        elif status == FAILED:
            report.failed += 1
            run.failed += 1
            run.details.append({"task": claim.id, "shipment": claim.shipment_number, "error": error})
            report.errors.append(f"{name}: {what}: {error}")
        else:
            report.retrying += 1
            if error:
                run.error = error

    def _held_reason(self, vendor_id: int) -> str | None:
        with self.db.session() as session:
            dry_run = session.scalar(select(Credential.dry_run).where(Credential.vendor_id == vendor_id))
        if dry_run:
            return "Dry run: answers are queued but not sent."
        return self.vendors.answers_on_hold(vendor_id)

    def _claim(
        self, vendor_id: int, skip: frozenset[int] = frozenset(), only: frozenset[int] | None = None
    ) -> Claim | None:
        """The oldest due task of the vendor whose order has no earlier task still open or failed.

        An order's tasks go out in the order they were made: tracking waits for the answers
        before it, and a failed answer holds what follows until the vendor retries or cancels it.
        """
        now = self.clock()
        claimed: int | None = None
        try:
            with self.db.write_session() as session:
                row = session.execute(
                    select(FulfillmentTask, Order.shipment_id, Order.shipment_number)
                    .join(Order, Order.id == FulfillmentTask.order_pk)
                    .where(
                        FulfillmentTask.vendor_id == vendor_id,
                        FulfillmentTask.status == PENDING,
                        FulfillmentTask.next_attempt_at <= now,
                        _ready(),
                        FulfillmentTask.id.not_in(list(skip)),
                        true() if only is None else FulfillmentTask.id.in_(list(only)),
                    )
                    .order_by(FulfillmentTask.id)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                task, shipment_id, shipment_number = row
                # Marked ours before the claim commits, so a recover() starting meanwhile leaves it alone.
                claimed = task.id
                self._claimed.add(claimed)
                task.status = IN_FLIGHT
                task.updated_at = now
                names = dict(
                    session.execute(
                        select(InventoryUnit.unit_id, InventoryUnit.name).where(
                            InventoryUnit.order_pk == task.order_pk, InventoryUnit.name.is_not(None)
                        )
                    ).all()
                )
                return Claim(
                    task.id,
                    task.vendor_id,
                    task.order_pk,
                    shipment_id,
                    shipment_number,
                    task.operation,
                    dict(task.payload),
                    task.attempts,
                    task.max_attempts,
                    task.waits,
                    task.verify,
                    names,
                    task.last_error,
                )
        except BaseException:
            if claimed is not None:  # the claim did not commit
                self._claimed.discard(claimed)
            raise

    def _next_due(self, vendor_id: int, only: frozenset[int] | None = None) -> float | None:
        """Seconds until the vendor's next sendable task is due, or None if there is none."""
        with self.db.session() as session:
            due = session.scalar(
                select(func.min(FulfillmentTask.next_attempt_at)).where(
                    FulfillmentTask.vendor_id == vendor_id,
                    FulfillmentTask.status == PENDING,
                    _ready(),
                    true() if only is None else FulfillmentTask.id.in_(list(only)),
                )
            )
        return None if due is None else (due - self.clock()).total_seconds()

    # -- one task -----------------------------------------------------------------------------

    def _finish(self, claim: Claim, outcome: Outcome) -> str | None:
        """Commit the outcome and the local state it implies, in one transaction; the task's new
        status (None when the task is gone: its vendor was removed meanwhile)."""
        now = self.clock()
        with self.db.write_session() as session:
            task = session.get(FulfillmentTask, claim.id)
            if task is None or task.status == CANCELLED:
                return None
            order = session.get(Order, claim.order_pk, options=[selectinload(Order.units)])
            task.status = outcome.status
            task.attempts += int(outcome.sent)
            task.waits += int(outcome.status == PENDING and not outcome.sent)
            task.verify = outcome.verify if outcome.status == PENDING else False
            task.updated_at = now
            if outcome.error is not None:
                task.last_error = outcome.error
            if outcome.response is not None:
                task.response = outcome.response
            if outcome.status == PENDING:
                task.next_attempt_at = now + timedelta(seconds=outcome.delay)
                if task.attempts >= task.max_attempts and not task.verify:
                    task.status = FAILED
                    task.finished_at = now
            else:
                task.finished_at = now
            if order is not None:
                self._apply(order, task, outcome)
            return task.status

    @staticmethod
    def _apply(order: Order, task: FulfillmentTask, outcome: Outcome) -> None:
        units = {unit.unit_id: unit for unit in order.units}
        for unit_id, state in outcome.unit_states.items():
            if unit_id in units and state is not None:
                units[unit_id].state = state
        if outcome.shipment_state:
            order.letzshop_state = outcome.shipment_state
        if outcome.remote_tracking is not None:
            order.remote_tracking_number, order.remote_tracking_carrier = outcome.remote_tracking
        # Letzshop calls a shipment confirmed once no item awaits an answer, declined ones
        # included (fact sheet §4.2); the mutation's reply does not say so itself.
        answered = all(unit.state not in (None, "unconfirmed") for unit in order.units)
        if task.status == DONE and task.operation in TARGET and outcome.shipment_state is None and answered:
            order.letzshop_state = "confirmed"
        if task.status == FAILED and task.operation in TARGET:
            # Items Letzshop did not take are open again; the failed task keeps the answer.
            for unit_id in task.payload.get("units", ()):
                unit = units.get(unit_id)
                if unit is not None and unit.state != TARGET[task.operation]:
                    unit.answer = None
                    unit.decline_reason = None
        refresh_status(order)


def _ready() -> ColumnElement[bool]:
    """No earlier task of the same order is still open or failed (see ``QueueWorker._claim``)."""
    earlier = aliased(FulfillmentTask)
    return ~exists().where(
        earlier.order_pk == FulfillmentTask.order_pk,
        earlier.id < FulfillmentTask.id,
        earlier.status.in_((PENDING, IN_FLIGHT, FAILED)),
    )
