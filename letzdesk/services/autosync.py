"""Auto-sync: each vendor's import on its interval, and the answer queue, from one timer tick.

APScheduler is only the timer (DESIGN.md §3). What is due is decided at every tick from the
database: a vendor is due when its last sync is older than its interval. A missed tick, a
laptop that slept for hours or a restart therefore cause exactly one catch-up sync, never a
burst. Each run has a deadline; a run that hangs is stopped, logged, and the next one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from ..letzshop.errors import AuthError
from ..store.db import Database
from ..store.models import Credential, SyncLog, Vendor
from ..store.types import utcnow
from .importer import Importer, Progress
from .synclog import SyncRun
from .worker import QueueWorker

logger = logging.getLogger(__name__)

#: Refused keys in a row after which a vendor's auto-sync stops until someone looks.
AUTH_FAILURES_TO_PAUSE = 3
PAUSED_NOTE = "Auto-sync paused: Letzshop refused the API key {n} times in a row. Check the key, then turn it on again."


@dataclass(frozen=True)
class Due:
    vendor_id: int
    name: str
    next_at: datetime


@dataclass(frozen=True)
class VendorClock:
    """One vendor's last sync and, with auto-sync on, its next one (for the status line and the tray)."""

    vendor_id: int
    name: str
    auto_sync: bool
    last_at: datetime | None
    last_status: str | None
    next_at: datetime | None


class AutoSync:
    def __init__(
        self,
        db: Database,
        importer: Importer,
        worker: QueueWorker | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        run_deadline: float = 600.0,
        drain_deadline: float = 60.0,
    ) -> None:
        self.db = db
        self.importer = importer
        self.worker = worker
        self.clock = clock
        #: Seconds one vendor's sync may take before it is stopped.
        self.run_deadline = run_deadline
        #: Seconds a tick spends sending answers: a vendor whose Letzshop hangs must not hold back
        #: the other vendors' syncs. What is left is sent by the next tick (or the window's sender).
        self.drain_deadline = drain_deadline
        #: Paused by the vendor (tray or File menu): no vendor is due; answers are still sent.
        self.paused = False
        #: Told each imported page of an auto-sync (the window's status bar shows it).
        self.progress: Callable[[Progress], None] | None = None
        #: Called with a tick's runs after it ends (the window reloads its tables).
        self.after_tick: Callable[[list[SyncRun]], None] | None = None
        self._tick_lock = asyncio.Lock()
        self._running: asyncio.Task[object] | None = None
        self._scheduler: AsyncIOScheduler | None = None

    def clocks(self, now: datetime | None = None) -> list[VendorClock]:
        """Every vendor's last sync, and its next one when auto-sync is on (``now`` for one never synced).

        While auto-sync is paused nothing is next.
        """
        with self.db.session() as session:
            rows = session.execute(
                select(
                    Vendor.id,
                    Vendor.name,
                    Credential.auto_sync,
                    Credential.interval_minutes,
                    Credential.last_sync_at,
                    Credential.last_sync_status,
                )
                .join(Credential, Credential.vendor_id == Vendor.id)
                .order_by(Vendor.name)
            ).all()
        now = now or self.clock()
        clocks = []
        for vendor_id, name, auto, interval, last, status in rows:
            upcoming = None
            if auto and not self.paused:
                upcoming = last + timedelta(minutes=interval) if last else now
            clocks.append(VendorClock(vendor_id, name, bool(auto), last, status, upcoming))
        return clocks

    def schedule(self, now: datetime | None = None) -> list[Due]:
        """Every vendor whose auto-sync runs, and when its next sync is due."""
        return [
            Due(clock.vendor_id, clock.name, clock.next_at) for clock in self.clocks(now) if clock.next_at is not None
        ]

    def due(self) -> list[Due]:
        now = self.clock()  # one reading for both, or a vendor never synced would never be due
        return [entry for entry in self.schedule(now) if entry.next_at <= now]

    async def tick(self, trigger: str = "scheduler") -> list[SyncRun]:
        """Sync every due vendor (one after another), then send what the queue has due.

        Ticks never overlap: a tick that finds the previous one still running does nothing.
        """
        if self._tick_lock.locked():
            logger.info("Auto-sync tick skipped: the previous one is still running")
            return []
        async with self._tick_lock:
            self._running = asyncio.current_task()
            try:
                runs = []
                for entry in await asyncio.to_thread(self.due):
                    runs.append(await self._sync(entry, trigger))
                if self.worker is not None:
                    await self._drain(trigger)
            finally:
                self._running = None
            if self.after_tick is not None:
                self.after_tick(runs)
            return runs

    async def _drain(self, trigger: str) -> None:
        """Send what the queue has due, for at most ``drain_deadline`` seconds. A send cut off
        here is pending again and read back before it is sent again (see ``QueueWorker``)."""
        assert self.worker is not None
        try:
            async with asyncio.timeout(self.drain_deadline):
                await self.worker.drain(trigger=trigger)
        except TimeoutError:
            logger.warning("Sending answers stopped after %g s; the rest goes on the next tick", self.drain_deadline)

    async def _sync(self, entry: Due, trigger: str) -> SyncRun:
        if self.progress is not None:
            self.progress(Progress(entry.name, 0, 0))
        try:
            async with asyncio.timeout(self.run_deadline):
                run = await self.importer.run(entry.vendor_id, entry.name, trigger=trigger, progress=self.progress)
        except TimeoutError:
            # The importer logged the stopped run when it was cancelled; say why here.
            logger.warning("Auto-sync of %s stopped after %g s without finishing", entry.name, self.run_deadline)
            run = SyncRun(entry.vendor_id, entry.name, "import orders", "inbound", trigger)
            run.error = f"The sync did not finish within {self.run_deadline:g} s and was stopped."
            return run
        if run.error and run.error.startswith(AuthError.user_message):
            await asyncio.to_thread(self._pause_after_refusals, entry)
        return run

    def start_timer(self, every_seconds: float = 60.0) -> AsyncIOScheduler:
        """Tick on the running loop every ``every_seconds``; a late tick is coalesced into one.

        Stop it with ``scheduler.shutdown(wait=False)`` before the loop closes.
        """
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=every_seconds, timezone=UTC),
            id="autosync",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    async def stop(self) -> None:
        """Stop the timer and a tick in progress (its import logs itself as stopped)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        running = self._running
        if running is not None and not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running

    def _pause_after_refusals(self, entry: Due) -> None:
        """Turn auto-sync off after several refused keys in a row, and say so on the vendor."""
        with self.db.write_session() as session:
            errors = session.scalars(
                select(SyncLog.error)
                .where(SyncLog.vendor_id == entry.vendor_id, SyncLog.direction == "inbound")
                .order_by(SyncLog.started_at.desc(), SyncLog.id.desc())
                .limit(AUTH_FAILURES_TO_PAUSE)
            ).all()
            refused = [e for e in errors if e and e.startswith(AuthError.user_message)]
            if len(refused) < AUTH_FAILURES_TO_PAUSE:
                return
            cred = session.scalar(select(Credential).where(Credential.vendor_id == entry.vendor_id))
            if cred is not None and cred.auto_sync:
                cred.auto_sync = False
                cred.last_sync_error = PAUSED_NOTE.format(n=AUTH_FAILURES_TO_PAUSE)
                logger.warning("Auto-sync of %s paused after %d refused keys", entry.name, AUTH_FAILURES_TO_PAUSE)
