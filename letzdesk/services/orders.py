"""Read-side views of orders for the command line and the window."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..store.db import Database
from ..store.models import Order
from ..store.orders import load_orders


def format_cents(cents: int | None) -> str | None:
    """Integer cents -> "74.70" (no float involved)."""
    if cents is None:
        return None
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def order_to_dict(order: Order) -> dict[str, Any]:
    return {
        "order_number": order.order_number,
        "shipment_number": order.shipment_number,
        "shipment_id": order.shipment_id,
        "order_id": order.order_id,
        "letzshop_state": order.letzshop_state,
        "status": order.status,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "total": format_cents(order.total_cents),
        "currency": order.currency,
        "locale": order.locale,
        "completed_at": order.completed_at.isoformat() if order.completed_at else None,
        "tracking_number": order.tracking_number,
        "tracking_carrier": order.tracking_carrier,
        "ship_address": order.ship_address,
        "bill_address": order.bill_address,
        "units": [
            {
                "id": unit.unit_id,
                "state": unit.state,
                "variant_id": unit.variant_id,
                "sku": unit.sku,
                "mpn": unit.mpn,
                "gtin": unit.gtin,
                "gtin_kind": unit.gtin_kind,
                "name": unit.name,
                "brand": unit.brand,
                "price": format_cents(unit.price_cents),
                "answer": unit.answer,
                "decline_reason": unit.decline_reason,
            }
            for unit in order.units
        ],
    }


def orders_for(db: Database, vendor_id: int | None = None) -> list[Order]:
    with db.session() as session:
        return load_orders(session, None if vendor_id is None else [vendor_id])
