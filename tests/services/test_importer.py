"""The importer against the sandbox over real loopback HTTP: counts, idempotency, partial failure."""

from __future__ import annotations

import asyncio
import copy

from sqlalchemy import select

from letzdesk.app import Services
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services import synclog
from letzdesk.services.orders import orders_for
from letzdesk.store.models import InventoryUnit, Order
from tests.conftest import TEST_KEY


def _import(services: Services, vendor_id: int) -> synclog.SyncRun:
    return asyncio.run(services.importer.run(vendor_id, "Atelier", trigger="cli"))


def _snapshot(services: Services) -> list[tuple]:
    with services.db.session() as session:
        orders = session.execute(select(Order.id, Order.raw_hash, Order.updated_at).order_by(Order.id)).all()
        units = session.execute(select(InventoryUnit.id, InventoryUnit.order_pk).order_by(InventoryUnit.id)).all()
    return [tuple(row) for row in orders + units]


def test_import_then_reimport_is_idempotent(services: Services, sandbox: SandboxServer) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)

    first = _import(services, vendor_id)
    assert (first.imported, first.updated, first.unchanged, first.failed) == (40, 0, 0, 0)
    assert first.status == "success"
    before = _snapshot(services)

    second = _import(services, vendor_id)
    assert (second.imported, second.updated, second.unchanged, second.failed) == (0, 0, 40, 0)
    assert _snapshot(services) == before  # nothing rewritten

    orders = orders_for(services.db, vendor_id)
    assert len(orders) == 40
    units = sum(len(order.units) for order in orders)
    expected_units = sum(len(s["inventoryUnits"]) for s in sandbox.state.shipments)
    assert units == expected_units
    logs = synclog.recent(services.db, vendor_id)
    assert [log.imported for log in logs] == [0, 40]
    assert all(log.duration_ms is not None and log.trigger == "cli" for log in logs)


def test_changed_shipment_is_updated_and_vanished_unit_removed(services: Services, sandbox: SandboxServer) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    _import(services, vendor_id)

    multi = next(s for s in sandbox.state.shipments if len(s["inventoryUnits"]) >= 2)
    multi["order"]["email"] = "changed@example.lu"
    removed = multi["inventoryUnits"].pop()
    sandbox.state.touch()

    run = _import(services, vendor_id)
    assert (run.imported, run.updated, run.unchanged) == (0, 1, 39)
    order = next(o for o in orders_for(services.db, vendor_id) if o.shipment_id == multi["id"])
    assert order.customer_email == "changed@example.lu"
    assert removed["id"] not in {unit.unit_id for unit in order.units}
    assert len(order.units) == len(multi["inventoryUnits"])


def test_local_tracking_survives_a_reimport(services: Services, sandbox: SandboxServer) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    _import(services, vendor_id)
    target = sandbox.state.shipments[0]
    with services.db.write_session() as session:
        order = session.scalar(select(Order).where(Order.shipment_id == target["id"]))
        order.tracking_number = "LU123456789"
        order.tracking_carrier = "post_lu"

    target["tracking"] = {"code": "STALE", "provider": "other"}
    sandbox.state.touch()
    run = _import(services, vendor_id)
    assert run.updated == 1
    with services.db.session() as session:
        order = session.scalar(select(Order).where(Order.shipment_id == target["id"]))
    assert (order.tracking_number, order.tracking_carrier) == ("LU123456789", "post_lu")
    assert order.remote_tracking_number == "STALE"


def test_unreadable_shipment_is_counted_failed_and_the_rest_imported(
    services: Services, sandbox: SandboxServer
) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    broken = copy.deepcopy(sandbox.state.shipments[3])
    sandbox.state.shipments[3]["inventoryUnits"] = [{"id": "", "state": "unconfirmed", "variant": None}]
    sandbox.state.touch()

    run = _import(services, vendor_id)
    assert (run.imported, run.failed) == (39, 1)
    assert run.status == "partial"
    assert run.details and run.details[0]["shipment"] == broken["id"]


def test_wrong_key_fails_with_a_readable_reason_and_no_key(services: Services, sandbox: SandboxServer) -> None:
    wrong = "wrong-key-not-real-1111"
    vendor_id = services.vendors.add("Atelier", wrong, sandbox.url)
    run = _import(services, vendor_id)
    assert run.status == "failed"
    assert "refused the API key" in run.error
    assert wrong not in run.error
    log = synclog.recent(services.db, vendor_id)[0]
    assert log.status == "failed" and wrong not in (log.error or "")
    with services.db.session() as session:
        assert session.scalar(select(Order.id)) is None


def test_a_vendor_removed_during_its_import_still_gets_a_log_row(services: Services, sandbox: SandboxServer) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    run = synclog.SyncRun(vendor_id, "Atelier", "import orders", "inbound", "cli")
    services.vendors.remove(vendor_id)
    synclog.record(services.db, run)
    row = synclog.recent(services.db)[0]
    assert (row.vendor_id, row.vendor_name) == (None, "Atelier")


def test_two_imports_of_one_vendor_at_once_run_one_after_the_other(services: Services, sandbox: SandboxServer) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)

    async def both() -> list[synclog.SyncRun]:
        # Sync now pressed while the auto-sync imports the same vendor.
        return list(
            await asyncio.gather(
                services.importer.run(vendor_id, "Atelier", trigger="scheduler"),
                services.importer.run(vendor_id, "Atelier", trigger="user"),
            )
        )

    first, second = asyncio.run(both())
    assert (first.imported, first.error) == (40, None)
    assert (second.imported, second.updated, second.unchanged, second.error) == (0, 0, 40, None)
    rows = sorted(synclog.recent(services.db), key=lambda row: row.started_at)
    assert [row.trigger for row in rows] == ["scheduler", "user"]
    assert rows[1].started_at >= rows[0].finished_at
    assert len(orders_for(services.db)) == 40
