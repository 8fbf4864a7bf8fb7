"""Bulk writes and reads of orders and their units, in SQLAlchemy Core for speed.

The importer hands in plain row dicts; this module knows tables, not Letzshop. One call
to ``upsert_page`` is one transaction, so a killed process keeps every committed page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, tuple_
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session, selectinload

from .models import InventoryUnit, Order
from .types import utcnow

#: Columns an import may overwrite; everything else on an order belongs to the vendor.
REMOTE_ORDER_COLUMNS = (
    "shipment_number", "order_id", "order_number", "letzshop_state", "status", "customer_name", "customer_email",
    "total_cents", "currency", "locale", "completed_at", "ship_address", "bill_address",
    "remote_tracking_number", "remote_tracking_carrier", "raw_json", "raw_hash", "updated_at",
)
REMOTE_UNIT_COLUMNS = (
    "position", "state", "variant_id", "sku", "mpn", "gtin", "gtin_kind", "name", "names", "brand", "price_cents",
)


@dataclass(frozen=True)
class Existing:
    order_pk: int
    raw_hash: str
    tracking_number: str | None


def existing_orders(conn: Connection, vendor_id: int, shipment_ids: Sequence[str]) -> dict[str, Existing]:
    """What we already hold for these shipments: primary key, content hash, our tracking."""
    if not shipment_ids:
        return {}
    rows = conn.execute(
        select(Order.shipment_id, Order.id, Order.raw_hash, Order.tracking_number)
        .where(Order.vendor_id == vendor_id, Order.shipment_id.in_(shipment_ids))
    )
    return {sid: Existing(pk, digest, tracking) for sid, pk, digest, tracking in rows}


def upsert_orders(conn: Connection, vendor_id: int, orders: list[dict[str, Any]],
                  units_by_shipment: dict[str, list[dict[str, Any]]]) -> None:
    """Insert or update orders (remote columns only) and replace their remote unit data."""
    if not orders:
        return
    now = utcnow()
    for row in orders:
        row["vendor_id"] = vendor_id
        row["updated_at"] = now
        row.setdefault("imported_at", now)

    statement = insert(Order)
    statement = statement.on_conflict_do_update(
        index_elements=[Order.vendor_id, Order.shipment_id],
        set_={
            **{name: statement.excluded[name] for name in REMOTE_ORDER_COLUMNS},
            # Ours is the truth once set; Letzshop's tracking only fills a gap.
            "tracking_number": func.coalesce(Order.tracking_number, statement.excluded.tracking_number),
            "tracking_carrier": func.coalesce(Order.tracking_carrier, statement.excluded.tracking_carrier),
        },
    ).returning(Order.shipment_id, Order.id, sort_by_parameter_order=True)
    pks = dict(conn.execute(statement, orders).all())

    unit_rows: list[dict[str, Any]] = []
    keep: list[tuple[int, str]] = []
    for shipment_id, units in units_by_shipment.items():
        order_pk = pks[shipment_id]
        for unit in units:
            unit_rows.append({**unit, "order_pk": order_pk})
            keep.append((order_pk, unit["unit_id"]))

    # Units that vanished from a shipment on Letzshop's side go here too.
    stale = delete(InventoryUnit).where(InventoryUnit.order_pk.in_(list(pks.values())))
    if keep:
        stale = stale.where(tuple_(InventoryUnit.order_pk, InventoryUnit.unit_id).not_in(keep))
    conn.execute(stale)
    if unit_rows:
        unit_statement = insert(InventoryUnit)
        unit_statement = unit_statement.on_conflict_do_update(
            index_elements=[InventoryUnit.order_pk, InventoryUnit.unit_id],
            set_={name: unit_statement.excluded[name] for name in REMOTE_UNIT_COLUMNS},
        )
        conn.execute(unit_statement, unit_rows)


def count_orders(session: Session, vendor_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Order).where(Order.vendor_id == vendor_id)) or 0


def load_orders(session: Session, vendor_ids: Iterable[int] | None = None) -> list[Order]:
    """Orders with their units, newest first; detached-safe (units loaded eagerly)."""
    query = select(Order).options(selectinload(Order.units)).order_by(Order.completed_at.desc(), Order.id.desc())
    if vendor_ids is not None:
        query = query.where(Order.vendor_id.in_(list(vendor_ids)))
    return list(session.scalars(query))
