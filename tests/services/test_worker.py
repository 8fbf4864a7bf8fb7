"""The queue worker against the sandbox over loopback HTTP, with faults switched on."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from letzdesk.app import Services
from letzdesk.letzshop.client import LetzshopClient
from letzdesk.letzshop.retry import RetryPolicy
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.orders import orders_for
from letzdesk.services.worker import Backoff, QueueWorker
from letzdesk.store.models import FulfillmentTask
from letzdesk.store.types import utcnow
from tests.conftest import TEST_KEY


@pytest.fixture
def big_sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(generate_shipments(60, 23), api_key=TEST_KEY)
    server.start()
    yield server
    server.stop()


def _fast_worker(services: Services, url: str, seed: int = 1, backoff: Backoff | None = None) -> QueueWorker:
    """A worker whose waits are tens of milliseconds, so faults cost no real time."""
    retry = RetryPolicy(base=0.01, cap=0.05, retry_after_cap=0.3, rng=random.Random(seed))

    def client_for(_vendor_id: int) -> LetzshopClient:
        return LetzshopClient(url, TEST_KEY, deadline=5.0, retry=retry)

    backoff = backoff or Backoff(base=0.02, cap=0.2, retry_after_cap=0.3, min_wait=0.01, rng=random.Random(seed))
    return QueueWorker(
        services.db, services.vendors, services.settings.data_dir, client_for=client_for, backoff=backoff
    )


def _imported(services: Services, qloop, server: SandboxServer, **options) -> int:
    vendor = services.vendors.add("Shop", TEST_KEY, server.url, **options)
    run = qloop.run_until_complete(services.importer.run(vendor, "Shop"))
    assert run.error is None
    return vendor


@pytest.mark.parametrize("seed", [8, 21])
def test_fifty_orders_answered_under_faults_reach_letzshop_once(services, qloop, big_sandbox, seed) -> None:
    # The default three attempts: a 503 is a wait, not an attempt (seed 8 gives one answer three
    # 503s in a row, which failed it while 503s counted).
    vendor = _imported(services, qloop, big_sandbox)
    orders = orders_for(services.db, vendor)[:50]

    # Confirm 25, decline 10, answer 15 partly (first item confirmed, the rest declined); then
    # tracking for every order with a confirmed item.
    for order in orders[:25]:
        services.answers.confirm(vendor, order.id)
    for order in orders[25:35]:
        services.answers.decline(vendor, order.id, None, "out of stock")
    for order in orders[35:]:
        first, *rest = [u.unit_id for u in order.units]
        services.answers.confirm(vendor, order.id, [first])
        if rest:
            services.answers.decline(vendor, order.id, rest, "damaged")
    tracked = orders[:25] + orders[35:]
    for number, order in enumerate(tracked):
        services.answers.set_tracking(vendor, order.id, f"lu {number:06d}", "post_lu")

    # A third of every call fails: 429 with Retry-After, 503, or applied and then cut off.
    faults = Faults(rate=1 / 3, kinds={"429": 1, "5xx": 1, "drop": 1}, retry_after="0.1", seed=seed)
    big_sandbox.state.faults = faults
    worker = _fast_worker(services, big_sandbox.url)
    report = qloop.run_until_complete(worker.drain([vendor], wait=120))
    worker.stop()

    tasks = services.answers.tasks(vendor)
    assert {t.status for t in tasks} == {"done"}, [(t.id, t.status, t.last_error) for t in tasks if t.status != "done"]
    assert report.failed == 0
    injected = faults.counts()
    assert all(injected[kind] > 0 for kind in ("429", "5xx", "drop")), injected

    # Letzshop's record: every unit answered exactly once, every tracking number set once.
    units = [u for o in orders for u in o.units]
    counts = big_sandbox.state.answer_counts()
    assert {u.unit_id: counts.get(u.unit_id, 0) for u in units} == {u.unit_id: 1 for u in units}
    assert big_sandbox.state.tracking_counts() == {o.shipment_id: 1 for o in tracked}

    # Every unit is answered, locally and remotely alike.
    local = {o.shipment_id: o for o in orders_for(services.db, vendor)}
    for order in orders:
        remote = big_sandbox.state.shipment(order.shipment_id)
        mine = local[order.shipment_id]
        assert [u.state for u in mine.units] == [u["state"] for u in remote["inventoryUnits"]]
        assert all(u.state in ("confirmed_available", "confirmed_unavailable") for u in mine.units)
    print(f"faults injected: {injected}; drain: {report}")


def test_dropped_answer_is_read_back_not_sent_again(services, qloop, sandbox) -> None:
    vendor = _imported(services, qloop, sandbox)
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)

    # The answer is applied, then the connection dies: the outcome is unknown to us.
    sandbox.state.faults = Faults(rate=1.0, kinds={"drop": 1}, operations=frozenset({"ConfirmInventoryUnits"}))
    worker = _fast_worker(services, sandbox.url, backoff=Backoff(base=60, cap=60))
    qloop.run_until_complete(worker.drain([vendor]))
    [task] = services.answers.tasks(vendor)
    assert (task.status, task.verify, task.attempts) == ("pending", True, 1)
    assert set(sandbox.state.answer_counts().values()) == {1}

    # The next run reads the shipment back, finds the answer there and sends nothing.
    with services.db.write_session() as session:
        session.get(FulfillmentTask, task.id).next_attempt_at = utcnow()
    qloop.run_until_complete(worker.drain([vendor]))
    worker.stop()
    [task] = services.answers.tasks(vendor)
    assert (task.status, task.attempts) == ("done", 1)
    assert set(sandbox.state.answer_counts().values()) == {1}
    assert {u.state for u in orders_for(services.db, vendor)[0].units} == {"confirmed_available"}


def test_retry_after_is_honoured_and_does_not_count_as_an_attempt(services, qloop, sandbox) -> None:
    vendor = _imported(services, qloop, sandbox)
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)
    sandbox.state.faults = Faults(rate=1.0, kinds={"429": 1}, retry_after="120")
    worker = QueueWorker(services.db, services.vendors, services.settings.data_dir)
    before = utcnow()
    report = qloop.run_until_complete(worker.drain([vendor]))
    worker.stop()

    [task] = services.answers.tasks(vendor)
    assert (task.status, task.attempts, report.retrying) == ("pending", 0, 1)
    assert before + timedelta(seconds=119) <= task.next_attempt_at <= utcnow() + timedelta(seconds=121)
    assert "slow down" in task.last_error
    assert sandbox.state.answer_counts() == {}


def test_server_errors_end_in_failed_after_max_attempts_with_a_read_back_each_time(services, qloop, sandbox) -> None:
    vendor = _imported(services, qloop, sandbox, max_attempts=2)
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)
    # A 500: the server could not handle this request (unlike a 503, which only says "later").
    sandbox.state.faults = Faults(rate=1.0, kinds={"500": 1}, operations=frozenset({"ConfirmInventoryUnits"}))
    worker = _fast_worker(services, sandbox.url)
    qloop.run_until_complete(worker.drain([vendor], wait=10))
    worker.stop()

    [task] = services.answers.tasks(vendor)
    assert (task.status, task.attempts) == ("failed", 2)
    assert "Gave up after 2 attempts" in task.last_error
    # The items are open again, and the order says what happened.
    order = orders_for(services.db, vendor)[0]
    assert {u.answer for u in order.units} == {None}
    assert order.status == "pending"
    assert services.answers.writeback([order.id])[order.id].state == "failed"


def test_an_outage_is_waited_out_and_never_fails_an_answer(services, qloop, sandbox) -> None:
    vendor = _imported(services, qloop, sandbox, max_attempts=2)
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)
    # Letzshop answers 503 to every answer for a while: maintenance, an overloaded gateway.
    sandbox.state.faults = Faults(rate=1.0, kinds={"5xx": 1}, operations=frozenset({"ConfirmInventoryUnits"}))
    worker = _fast_worker(services, sandbox.url)
    qloop.run_until_complete(worker.drain([vendor], wait=1.5))

    [task] = services.answers.tasks(vendor)
    outage = sandbox.state.faults.counts()["5xx"]
    assert outage > 2  # more 503s than the vendor's two attempts ...
    assert (task.status, task.attempts) == ("pending", 0)  # ... and still waiting, none used
    assert "having trouble" in task.last_error

    sandbox.state.faults = None  # Letzshop is back
    qloop.run_until_complete(worker.drain([vendor], wait=10))
    worker.stop()
    [task] = services.answers.tasks(vendor)
    assert (task.status, task.attempts) == ("done", 1)
    assert set(sandbox.state.answer_counts().values()) == {1}


def test_letzshop_refusal_fails_the_task_with_its_message(services, qloop, sandbox) -> None:
    vendor = _imported(services, qloop, sandbox)
    order = orders_for(services.db, vendor)[0]
    unit = order.units[0]
    services.answers.confirm(vendor, order.id, [unit.unit_id])
    # Declined on Letzshop's side meanwhile (say, in its web portal).
    sandbox.state.confirm_units([{"inventoryUnitId": unit.unit_id, "isAvailable": False}])
    worker = _fast_worker(services, sandbox.url)
    qloop.run_until_complete(worker.drain([vendor]))
    worker.stop()

    [task] = services.answers.tasks(vendor)
    assert task.status == "failed"
    assert "is already declined and cannot be changed" in task.last_error
    stored = orders_for(services.db, vendor)[0].units[0]
    assert (stored.state, stored.answer) == ("confirmed_unavailable", None)


def test_dry_run_and_schema_drift_hold_answers(services, qloop, sandbox) -> None:
    vendor = _imported(services, qloop, sandbox, dry_run=True)
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)
    report = qloop.run_until_complete(services.worker.drain([vendor]))
    assert "Dry run" in report.held["Shop"]
    assert services.answers.writeback()[order.id].state == "held"

    services.vendors.edit(vendor, dry_run=False)
    services.vendors.record_schema_check(vendor, ["ConfirmInventoryUnits: Unknown argument 'input'"], utcnow())
    report = qloop.run_until_complete(services.worker.drain([vendor]))
    assert "API has changed" in report.held["Shop"]
    assert sandbox.state.answer_counts() == {}

    services.vendors.record_schema_check(vendor, [], utcnow())
    report = qloop.run_until_complete(services.worker.drain([vendor]))
    assert report.done == 1 and sandbox.state.answer_counts()


def test_one_sender_per_data_folder_and_crashed_tasks_recovered(services, qloop, sandbox, settings) -> None:
    vendor = _imported(services, qloop, sandbox)
    order = orders_for(services.db, vendor)[0]
    services.answers.confirm(vendor, order.id)
    with services.db.write_session() as session:
        task = session.get(FulfillmentTask, 1)
        task.status = "in_flight"  # as a killed process leaves it

    other = QueueWorker(services.db, services.vendors, settings.data_dir)
    assert other.start()
    try:
        [task] = services.answers.tasks(vendor)
        assert (task.status, task.verify) == ("pending", True)
        report = qloop.run_until_complete(services.worker.drain([vendor]))
        assert report.busy and sandbox.state.answer_counts() == {}
    finally:
        other.stop()
    report = qloop.run_until_complete(services.worker.drain([vendor]))
    assert report.done == 1
    assert set(sandbox.state.answer_counts().values()) == {1}
    log = [row for row in services.answers.tasks(vendor)]
    assert log[0].status == "done"
