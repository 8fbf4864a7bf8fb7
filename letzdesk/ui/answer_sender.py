"""When the window sends queued answers: after each answer, on request, and every 30 seconds.

The worker does the sending; this object only decides when, for the whole window. Drains run
one at a time: a request that arrives during a drain is merged into one more drain after it,
so a vendor's tasks never go out from two drains at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from PySide6.QtCore import QObject, QTimer, Signal

from ..app import Services
from ..services.worker import DrainReport

logger = logging.getLogger(__name__)

#: How often the window looks for answers whose wait has ended.
DRAIN_INTERVAL_MS = 30_000

BUSY_NOTE = "Another letzdesk is sending answers for this data folder; answers queued here go out from there."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe(report: DrainReport) -> str:
    """One line for the status bar; empty when the drain had nothing to say."""
    if report.busy:
        return BUSY_NOTE
    parts = []
    if report.done:
        parts.append(f"{_plural(report.done, 'answer')} sent to Letzshop")
    if report.failed:
        parts.append(f"{_plural(report.failed, 'answer')} refused (see the Queue tab)")
    if report.retrying:
        parts.append(f"{_plural(report.retrying, 'answer')} will be retried")
    parts += [f"{name}: {reason}" for name, reason in report.held.items()]
    if report.errors and not report.failed:  # the drain itself broke
        parts.append(report.errors[0])
    return "; ".join(parts)


def changed_anything(report: DrainReport) -> bool:
    """True when the drain changed a task, so the tables are worth reading again."""
    return bool(report.done or report.failed or report.retrying)


class AnswerSender(QObject):
    #: True when a drain starts, False when the last queued one ends.
    busy_changed = Signal(bool)
    #: After every drain, with its DrainReport (on the GUI thread).
    drained = Signal(object)
    #: A line for the status bar.
    message = Signal(str)

    def __init__(self, services: Services, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._task: asyncio.Task[None] | None = None
        #: What the next drain covers: None means every vendor; absent means no drain asked for.
        self._wanted: set[int] | None = set()
        self._asked = False
        self._trigger = "user"
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def request(self, vendor_ids: Iterable[int] | None = None, trigger: str = "user") -> asyncio.Task[None]:
        """Drain these vendors (every vendor for None) now, or right after the running drain."""
        if vendor_ids is None or self._wanted is None:
            self._wanted = None
        else:
            self._wanted |= set(vendor_ids)
        # A person asking outranks the timer in the sync log.
        if not self._asked or trigger == "user":
            self._trigger = trigger
        self._asked = True
        if not self.busy:
            self.busy_changed.emit(True)
            self._task = asyncio.ensure_future(self._run())
        assert self._task is not None
        return self._task

    async def wait_idle(self) -> None:
        """Until no drain runs or is asked for (tests and shutdown)."""
        while self.busy:
            assert self._task is not None
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._asked:
                wanted, trigger = self._wanted, self._trigger
                self._wanted, self._asked = set(), False
                report = await self._drain_once(None if wanted is None else sorted(wanted), trigger)
                text = describe(report)
                if text and (trigger == "user" or changed_anything(report) or report.busy):
                    self.message.emit(text)
                self.drained.emit(report)
        finally:
            self.busy_changed.emit(False)

    async def _drain_once(self, vendor_ids: list[int] | None, trigger: str) -> DrainReport:
        worker = self.services.worker
        try:
            # Taking the lock may recover crashed tasks (a database write): not on the GUI thread.
            if not await asyncio.to_thread(worker.start):
                return DrainReport(busy=True)
            return await worker.drain(vendor_ids, trigger=trigger)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database or programming error must not end the sending for good
            logger.exception("Sending answers failed")
            return DrainReport(errors=[f"Sending answers failed: {exc}"])

    # -- the periodic drain ---------------------------------------------------------------------

    def start_periodic(self, interval_ms: int = DRAIN_INTERVAL_MS) -> None:
        """Look for due answers (retries whose wait ended) every ``interval_ms`` while the window runs."""
        self._timer.start(interval_ms)

    def _tick(self) -> None:
        if not self.busy:
            self.request(None, trigger="scheduler")

    async def shutdown(self) -> None:
        """Stop the timer and a running drain; the worker marks an interrupted send to be read back."""
        self._timer.stop()
        self._asked = False
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
