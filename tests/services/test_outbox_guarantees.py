"""Three promises of the fulfillment queue that no other test pins down on its own.

An answer and its task commit together or not at all; the worker sends one task at a time per
vendor while vendors go side by side; the backoff between tries is full jitter and obeys a
capped ``Retry-After``. All against a real SQLite database and sandboxes over loopback.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.delivery import Backoff
from letzdesk.services.orders import orders_for
from tests.conftest import TEST_KEY


@pytest.fixture
def shop(services, sandbox, qloop) -> int:
    vendor = services.vendors.add("Shop", TEST_KEY, sandbox.url)
    assert qloop.run_until_complete(services.importer.run(vendor, "Shop")).error is None
    return vendor


def _refuse_new_tasks(services) -> None:
    """The task's insert fails inside the database, as a full disk or a broken file would make it."""
    with services.db.writing() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_tasks BEFORE INSERT ON fulfillment_tasks "
                "BEGIN SELECT RAISE(ABORT, 'no room for the task'); END"
            )
        )


def _snapshot(services, vendor: int) -> list[tuple]:
    return [
        (
            o.status,
            o.tracking_number,
            o.tracking_carrier,
            [(u.unit_id, u.state, u.answer, u.decline_reason) for u in o.units],
        )
        for o in orders_for(services.db, vendor)
    ]


def test_an_answer_whose_task_cannot_be_written_leaves_no_trace(services, shop) -> None:
    order = next(o for o in orders_for(services.db, shop) if len(o.units) >= 2)
    services.answers.confirm(shop, order.id, [order.units[0].unit_id])
    before = _snapshot(services, shop)
    _refuse_new_tasks(services)

    with pytest.raises(DBAPIError, match="no room for the task"):
        services.answers.decline(shop, order.id, None, "out of stock")
    with pytest.raises(DBAPIError, match="no room for the task"):
        services.answers.set_tracking(shop, order.id, "LU123456", "post_lu")

    # Neither the answers, the tracking, the derived status nor the earlier task changed.
    assert _snapshot(services, shop) == before
    [task] = services.answers.tasks(shop)
    assert (task.operation, task.status, task.payload["units"]) == ("confirm", "pending", [order.units[0].unit_id])


@pytest.fixture
def slow_sandboxes() -> Iterator[list[SandboxServer]]:
    """Two Letzshops whose every call takes 0.2-0.25 s, one per vendor."""
    servers = [SandboxServer(generate_shipments(6, seed), api_key=TEST_KEY) for seed in (31, 32)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_vendors_are_sent_side_by_side_and_each_vendor_one_task_at_a_time(services, qloop, slow_sandboxes) -> None:
    vendors = []
    for number, server in enumerate(slow_sandboxes):
        vendor = services.vendors.add(f"Shop {number}", TEST_KEY, server.url)
        assert qloop.run_until_complete(services.importer.run(vendor, f"Shop {number}")).error is None
        for order in orders_for(services.db, vendor)[:4]:
            services.answers.confirm(vendor, order.id)
        vendors.append(vendor)
        server.state.faults = Faults(latency=(0.2, 0.25), seed=number)

    # Watch the outbox from another thread: how many tasks each vendor has in flight at once.
    seen: list[dict[int, int]] = []
    stop = threading.Event()

    def watch() -> None:
        with services.db.engine.connect() as conn:
            while not stop.is_set():
                rows = conn.execute(
                    text("SELECT vendor_id, count(*) FROM fulfillment_tasks WHERE status = 'in_flight' GROUP BY 1")
                ).all()
                conn.rollback()
                seen.append(dict(rows))  # type: ignore[arg-type]
                time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        report = qloop.run_until_complete(services.worker.drain(vendors))
    finally:
        stop.set()
        watcher.join()
    elapsed = time.monotonic() - started

    assert report.done == 8 and report.failed == 0, report
    assert max(count for sample in seen for count in sample.values()) == 1, "two tasks of one vendor in flight"
    assert any(len(sample) == 2 for sample in seen), "the two vendors were never sent at the same time"
    # Eight sends of at least 0.2 s each: one after another would take 1.6 s or more.
    assert elapsed < 1.6, elapsed
    for vendor, server in zip(vendors, slow_sandboxes, strict=True):
        units = [u.unit_id for o in orders_for(services.db, vendor)[:4] for u in o.units]
        assert server.state.answer_counts() == dict.fromkeys(units, 1)


def test_backoff_is_full_jitter_and_obeys_a_capped_retry_after() -> None:
    backoff = Backoff(base=30, cap=900, retry_after_cap=600, min_wait=1, rng=random.Random(4))

    # Retry-After is obeyed as given, up to its cap, and never below the shortest wait.
    assert [backoff.delay(1, after) for after in (120, 5000, 0)] == [120, 600, 1]

    # Otherwise a uniform draw from [0, min(cap, base * 2^(tries-1))], floored at the shortest wait.
    for tries, ceiling in ((1, 30), (3, 120), (6, 900), (12, 900)):
        draws = [backoff.delay(tries) for _ in range(2000)]
        assert min(draws) >= 1 and max(draws) <= ceiling
        assert min(draws) < ceiling * 0.05 and max(draws) > ceiling * 0.95, "not spread over the whole range"
        assert abs(sum(draws) / len(draws) - ceiling / 2) < ceiling * 0.05
