"""Auto-sync decided from the database, driven with a controllable clock against the sandbox."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from letzdesk.app import Services
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services import synclog
from letzdesk.services.autosync import PAUSED_NOTE, AutoSync
from letzdesk.services.importer import Importer
from letzdesk.services.orders import orders_for
from letzdesk.store.types import utcnow
from tests.conftest import TEST_KEY


class Clock:
    """A clock the test moves; each reading is a microsecond later, as a real clock's would be."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _autosync(services: Services, clock: Clock, deadline: float = 600.0, drain_deadline: float = 60.0) -> AutoSync:
    importer = Importer(services.db, services.vendors.client_for, clock=clock)
    return AutoSync(
        services.db, importer, services.worker, clock=clock, run_deadline=deadline, drain_deadline=drain_deadline
    )


def _imports(services: Services) -> list[synclog.SyncLog]:
    return [row for row in synclog.recent(services.db) if row.direction == "inbound"]


def test_one_sync_per_interval(services: Services, qloop, sandbox: SandboxServer) -> None:
    clock = Clock()
    services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True, interval_minutes=30)
    services.vendors.add("Manual", TEST_KEY, sandbox.url)  # auto-sync off: never synced by a tick
    auto = _autosync(services, clock)

    synced = []
    for tick in range(19):  # a tick every five minutes for an hour and a half
        if tick:
            clock.advance(minutes=5)
        synced += [run.vendor_name for run in qloop.run_until_complete(auto.tick())]
    # Never synced, so at once; then every 30 minutes: at 0, 30, 60 and 90.
    assert synced == ["Shop"] * 4
    assert [row.trigger for row in _imports(services)] == ["scheduler"] * 4


def test_three_hours_asleep_give_one_catch_up_sync(services: Services, qloop, sandbox: SandboxServer) -> None:
    clock = Clock()
    services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True, interval_minutes=15)
    auto = _autosync(services, clock)
    assert len(qloop.run_until_complete(auto.tick())) == 1

    clock.advance(hours=3)  # the laptop slept through twelve intervals
    assert len(qloop.run_until_complete(auto.tick())) == 1
    clock.advance(seconds=30)
    assert qloop.run_until_complete(auto.tick()) == []
    last = services.vendors.list()[0].last_sync_at
    assert last is not None and auto.schedule()[0].next_at == last + timedelta(minutes=15)


def test_a_hung_sync_ends_at_its_deadline_and_the_next_one_runs(
    services: Services, qloop, sandbox: SandboxServer
) -> None:
    clock = Clock()
    services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True, interval_minutes=5)
    auto = _autosync(services, clock, deadline=0.5)
    sandbox.state.faults = Faults(latency=5.0, operations=frozenset({"Shipments"}))  # Letzshop hangs

    [hung] = qloop.run_until_complete(asyncio.wait_for(auto.tick(), 5))
    assert hung.error == "The sync did not finish within 0.5 s and was stopped."
    [logged] = _imports(services)
    assert logged.status == "failed" and "stopped before it finished" in logged.error

    sandbox.state.faults = None
    clock.advance(minutes=5)
    [run] = qloop.run_until_complete(auto.tick())
    assert run.error is None and run.imported == 40


def test_a_hung_answer_does_not_hold_back_the_next_tick(services: Services, qloop, sandbox: SandboxServer) -> None:
    clock = Clock()
    vendor = services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True, interval_minutes=5)
    auto = _autosync(services, clock, drain_deadline=0.5)
    assert len(qloop.run_until_complete(auto.tick())) == 1
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)
    # Letzshop takes every answer and then never replies.
    sandbox.state.faults = Faults(latency=30.0, operations=frozenset({"ConfirmInventoryUnits"}))

    started = time.monotonic()
    assert qloop.run_until_complete(asyncio.wait_for(auto.tick(), 10)) == []
    assert time.monotonic() - started < 5
    [task] = services.answers.tasks(vendor)
    assert (task.status, task.verify) == ("pending", True)  # cut off mid-send: read back first

    # The next tick syncs on time; once Letzshop answers again the answer is checked and done.
    sandbox.state.faults = None
    clock.advance(minutes=5)
    assert [run.vendor_name for run in qloop.run_until_complete(auto.tick())] == ["Shop"]
    [task] = services.answers.tasks(vendor)
    assert task.status == "done"
    assert sandbox.state.answer_counts() == {unit.unit_id: 1 for unit in order.units}


def test_ticks_never_overlap(services: Services, qloop, sandbox: SandboxServer) -> None:
    clock = Clock()
    services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True)
    auto = _autosync(services, clock, deadline=2.0)
    sandbox.state.faults = Faults(latency=0.5, operations=frozenset({"Shipments"}))

    async def both() -> tuple[list, list]:
        first = asyncio.ensure_future(auto.tick())
        await asyncio.sleep(0.1)
        second = await auto.tick()
        return await first, second

    first, second = qloop.run_until_complete(both())
    assert len(first) == 1 and second == []


def test_a_key_refused_three_times_pauses_auto_sync(services: Services, qloop, sandbox: SandboxServer) -> None:
    clock = Clock()
    vendor = services.vendors.add("Shop", "wrong-key-not-real-0000", sandbox.url, auto_sync=True, interval_minutes=5)
    auto = _autosync(services, clock)
    for _ in range(3):
        [run] = qloop.run_until_complete(auto.tick())
        assert "refused the API key" in run.error
        clock.advance(minutes=5)

    info = services.vendors.info(vendor)
    assert not info.auto_sync
    assert info.last_sync_error == PAUSED_NOTE.format(n=3)
    assert qloop.run_until_complete(auto.tick()) == []  # paused: nothing more is tried


def test_the_timer_ticks_on_the_running_loop(services: Services, qloop) -> None:
    auto = _autosync(services, Clock())
    ticks = []

    async def tick(trigger: str = "scheduler") -> list:
        ticks.append(trigger)
        return []

    auto.tick = tick  # type: ignore[method-assign]

    async def run() -> None:
        scheduler = auto.start_timer(every_seconds=0.2)
        await asyncio.sleep(0.7)
        scheduler.shutdown(wait=False)

    qloop.run_until_complete(run())
    assert 2 <= len(ticks) <= 4
