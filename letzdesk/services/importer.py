"""Import a vendor's shipments from Letzshop, page by page, idempotently.

Each page is parsed on the event loop (cheap) and stored by a worker thread in its own
transaction, so the window stays responsive and a crash keeps every finished page. A
re-import of unchanged data writes nothing but its log row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..letzshop.client import LetzshopClient
from ..letzshop.errors import LetzshopError
from ..letzshop.parse import dumps_raw
from ..letzshop.records import Address, Shipment, ShipmentPage
from ..store import orders as order_store
from ..store.db import Database
from ..store.types import utcnow
from . import synclog
from .status import derive_status, effective_state

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    vendor_name: str
    pages: int
    fetched: int


@dataclass(frozen=True)
class PageCounts:
    imported: int
    updated: int
    unchanged: int


def _address(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {name: getattr(address, name) for name in Address.__slots__}  # type: ignore[attr-defined]


def shipment_rows(
    shipment: Shipment,
    raw_json: str,
    raw_hash: str,
    local_tracking: str | None,
    answers: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order row and unit rows for one shipment (remote columns only).

    ``answers`` are the vendor's own answers still on their way: the derived status shows them
    over a remote state that has not caught up, so a stale import never undoes an answer.
    """
    answers = answers or {}
    units = [
        {
            "unit_id": unit.id,
            "position": position,
            "state": unit.state,
            "variant_id": unit.variant_id,
            "sku": unit.sku,
            "mpn": unit.mpn,
            "gtin": unit.gtin,
            "gtin_kind": unit.gtin_kind,
            "name": unit.name,
            "names": unit.names or None,
            "brand": unit.brand,
            "price_cents": unit.price_cents,
        }
        for position, unit in enumerate(shipment.units)
    ]
    order = {
        "shipment_id": shipment.id,
        "shipment_number": shipment.number,
        "order_id": shipment.order_id,
        "order_number": shipment.order_number,
        "letzshop_state": shipment.state,
        "status": derive_status(
            (effective_state(u.state, answers.get(u.id)) for u in shipment.units),
            has_tracking=bool(local_tracking or shipment.tracking_code),
            shipment_state=shipment.state,
        ),
        "customer_name": shipment.customer_name or None,
        "customer_email": shipment.email,
        "total_cents": shipment.total_cents,
        "currency": shipment.currency,
        "locale": shipment.locale,
        "completed_at": shipment.completed_at,
        "ship_address": _address(shipment.ship_address),
        "bill_address": _address(shipment.bill_address),
        # A new order starts with Letzshop's tracking; afterwards only our own answers change it.
        "tracking_number": shipment.tracking_code,
        "tracking_carrier": shipment.tracking_provider,
        "remote_tracking_number": shipment.tracking_code,
        "remote_tracking_carrier": shipment.tracking_provider,
        "raw_json": raw_json,
        "raw_hash": raw_hash,
    }
    return order, units


def store_page(db: Database, vendor_id: int, page: ShipmentPage) -> PageCounts:
    """Store one page in one transaction; runs in a worker thread."""
    latest: dict[str, tuple[Shipment, str, str]] = {}
    for shipment in page.shipments:
        raw_json = dumps_raw(shipment.raw)
        latest[shipment.id] = (shipment, raw_json, hashlib.sha256(raw_json.encode()).hexdigest())

    with db.writing() as conn:
        existing = order_store.existing_orders(conn, vendor_id, list(latest))
        orders: list[dict[str, Any]] = []
        units: dict[str, list[dict[str, Any]]] = {}
        imported = updated = unchanged = 0
        for shipment_id, (shipment, raw_json, raw_hash) in latest.items():
            known = existing.get(shipment_id)
            if known is not None and known.raw_hash == raw_hash:
                unchanged += 1
                continue
            if known is None:
                imported += 1
            else:
                updated += 1
            order, unit_rows = shipment_rows(
                shipment,
                raw_json,
                raw_hash,
                known.tracking_number if known else None,
                known.answers if known else None,
            )
            orders.append(order)
            units[shipment_id] = unit_rows
        known = {sid: existing[sid].order_pk for sid in units if sid in existing}
        order_store.upsert_orders(conn, vendor_id, orders, units, known)
    return PageCounts(imported, updated, unchanged)


class Importer:
    def __init__(
        self, db: Database, client_for: Callable[[int], LetzshopClient], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.client_for = client_for
        #: Stamps the run's start and end (a test's clock can move the scheduler's world).
        self.clock = clock
        #: One import per vendor at a time (Sync now pressed during an auto-sync waits for it); an
        #: asyncio lock belongs to one loop, and the command line runs a loop per command.
        self._running: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    async def run(
        self,
        vendor_id: int,
        vendor_name: str,
        *,
        trigger: str = "user",
        state: str = "unconfirmed",
        progress: Callable[[Progress], None] | None = None,
    ) -> synclog.SyncRun:
        """Import every shipment in ``state``; always leaves a sync log row, even when cancelled.

        A second import of the same vendor waits for the first, then runs: what it finds is then
        counted once, as unchanged, instead of two imports racing over the same pages.
        """
        locks = self._running.setdefault(asyncio.get_running_loop(), {})
        async with locks.setdefault(vendor_id, asyncio.Lock()):
            return await self._run(vendor_id, vendor_name, trigger=trigger, state=state, progress=progress)

    async def _run(
        self,
        vendor_id: int,
        vendor_name: str,
        *,
        trigger: str,
        state: str,
        progress: Callable[[Progress], None] | None,
    ) -> synclog.SyncRun:
        run = synclog.SyncRun(vendor_id, vendor_name, "import orders", "inbound", trigger, started_at=self.clock())
        logger.info("Import of %s shipments for %s started (%s)", state, vendor_name, trigger)
        try:
            async with self.client_for(vendor_id) as client:
                async for page in client.iter_shipment_pages(state):
                    counts = await asyncio.to_thread(store_page, self.db, vendor_id, page)
                    run.pages += 1
                    run.imported += counts.imported
                    run.updated += counts.updated
                    run.unchanged += counts.unchanged
                    run.failed += len(page.failed)
                    run.details += [{"shipment": sid, "error": reason} for sid, reason in page.failed]
                    if progress:
                        progress(Progress(vendor_name, run.pages, run.processed))
        except LetzshopError as exc:
            run.error = f"{exc.user_message} ({exc})"
            logger.warning("Import for %s failed after %d page(s): %s", vendor_name, run.pages, exc)
        except asyncio.CancelledError:
            run.error = "The import was stopped before it finished."
            synclog.record(self.db, run, self.clock())
            raise
        except Exception as exc:
            # SQLAlchemy's text holds the statement and row values (customer data): keep its cause only.
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300] if str(exc) else ""
            run.error = f"The import stopped: {type(exc).__name__}: {detail}"
            logger.exception("Import for %s crashed", vendor_name)
        await asyncio.to_thread(synclog.record, self.db, run, self.clock())
        logger.info(
            "Import for %s %s: %d new, %d updated, %d unchanged, %d failed",
            vendor_name,
            run.status,
            run.imported,
            run.updated,
            run.unchanged,
            run.failed,
        )
        return run
