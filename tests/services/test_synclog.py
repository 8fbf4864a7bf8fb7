"""The sync log's retention and its filtered query, on a real database."""

from __future__ import annotations

from datetime import timedelta

from letzdesk.app import Services
from letzdesk.services import synclog
from letzdesk.services.synclog import SyncRun
from letzdesk.store.types import utcnow
from tests.conftest import TEST_KEY

ENDPOINT = "http://127.0.0.1:9/graphql"


def run_at(vendor_id: int, name: str, days_ago: float, **counts: object) -> SyncRun:
    """An import run that started ``days_ago`` days back; ``counts`` set its fields."""
    run = SyncRun(
        vendor_id, name, "import orders", "inbound", "scheduler", started_at=utcnow() - timedelta(days=days_ago)
    )
    for key, value in counts.items():
        setattr(run, key, value)
    return run


def ages(services: Services, name: str) -> list[int]:
    now = utcnow()
    return [round((now - row.started_at).days) for row in synclog.recent(services.db) if row.vendor_name == name]


def test_prune_drops_old_runs_and_keeps_recent_ones(services: Services) -> None:
    shop = services.vendors.add("Shop", TEST_KEY, ENDPOINT)
    for days in (1, 10, 179, 181, 400):
        synclog.record(services.db, run_at(shop, "Shop", days))

    assert synclog.prune(services.db, older_than_days=180) == 2
    assert ages(services, "Shop") == [1, 10, 179]
    assert synclog.prune(services.db, older_than_days=180) == 0


def test_prune_keeps_the_newest_run_of_a_vendor_even_when_old(services: Services) -> None:
    quiet = services.vendors.add("Quiet", TEST_KEY, ENDPOINT)
    busy = services.vendors.add("Busy", TEST_KEY, ENDPOINT)
    for days in (200, 300, 500):
        synclog.record(services.db, run_at(quiet, "Quiet", days))
    synclog.record(services.db, run_at(busy, "Busy", 2))
    synclog.record(services.db, run_at(busy, "Busy", 250))

    assert synclog.prune(services.db, older_than_days=180) == 3
    assert ages(services, "Quiet") == [200]
    assert ages(services, "Busy") == [2]


def test_prune_keeps_the_newest_run_of_each_removed_vendor_by_name(services: Services) -> None:
    gone = services.vendors.add("Gone", TEST_KEY, ENDPOINT)
    also_gone = services.vendors.add("Also gone", TEST_KEY, ENDPOINT)
    for vendor_id, name in ((gone, "Gone"), (also_gone, "Also gone")):
        for days in (190, 365):
            synclog.record(services.db, run_at(vendor_id, name, days))
    services.vendors.remove(gone)
    services.vendors.remove(also_gone)
    assert {row.vendor_id for row in synclog.recent(services.db)} == {None}

    assert synclog.prune(services.db, older_than_days=180) == 2
    assert ages(services, "Gone") == [190]
    assert ages(services, "Also gone") == [190]


def test_query_narrows_by_vendor_operation_status_and_dates(services: Services) -> None:
    shop = services.vendors.add("Shop", TEST_KEY, ENDPOINT)
    other = services.vendors.add("Other", TEST_KEY, ENDPOINT)
    synclog.record(services.db, run_at(shop, "Shop", 1, imported=3))
    synclog.record(services.db, run_at(shop, "Shop", 20, failed=2, error="Letzshop refused the key."))
    synclog.record(services.db, run_at(other, "Other", 3, imported=1, failed=1))
    send = SyncRun(other, "Other", "send answers", "outbound", "user", started_at=utcnow() - timedelta(days=5))
    send.updated = 4
    synclog.record(services.db, send)

    def names(**filters: object) -> list[tuple[str, str]]:
        return [(row.vendor_name, row.status) for row in synclog.query(services.db, **filters)]  # type: ignore[arg-type]

    assert names() == [("Shop", "success"), ("Other", "partial"), ("Other", "success"), ("Shop", "failed")]
    assert names(vendor_id=shop) == [("Shop", "success"), ("Shop", "failed")]
    assert names(operation="send answers") == [("Other", "success")]
    assert names(status="failed") == [("Shop", "failed")]
    assert names(since=utcnow() - timedelta(days=4)) == [("Shop", "success"), ("Other", "partial")]
    assert names(since=utcnow() - timedelta(days=30), until=utcnow() - timedelta(days=4)) == [
        ("Other", "success"),
        ("Shop", "failed"),
    ]
    assert names(vendor_id=other, status="success") == [("Other", "success")]
    assert len(synclog.query(services.db, limit=2)) == 2
