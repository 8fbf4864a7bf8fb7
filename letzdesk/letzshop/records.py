"""Immutable records parsed from Letzshop's replies.

Nothing here touches the network, the database or Qt. Money is integer cents; timestamps
are timezone-aware UTC; absent optional fields are ``None`` rather than errors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    street_name: str | None = None
    street_number: str | None = None
    city: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    country_name: str | None = None
    country_iso: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def lines(self) -> list[str]:
        """The address as a vendor would write it on a parcel."""
        street = " ".join(p for p in (self.street_number, self.street_name) if p)
        town = " ".join(p for p in (self.zip_code, self.city) if p)
        if self.country_iso and self.country_iso != "LU" and town:
            town = f"{self.country_iso}-{town}"
        rows = [self.full_name, self.company, street, town, self.country_name, self.phone]
        return [row for row in rows if row]


@dataclass(frozen=True, slots=True)
class InventoryUnit:
    """One physical piece of a shipment: Letzshop has no quantity field."""

    id: str
    state: str | None
    variant_id: str | None = None
    sku: str | None = None
    mpn: str | None = None
    gtin: str | None = None
    gtin_kind: str | None = None
    name: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    brand: str | None = None
    price_cents: int | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """Units of one variant grouped together, the way a packing list shows them."""

    variant_id: str | None
    quantity: int
    unit: InventoryUnit

    @property
    def total_cents(self) -> int | None:
        price = self.unit.price_cents
        return None if price is None else price * self.quantity


@dataclass(frozen=True, slots=True)
class Shipment:
    """A vendor's share of a customer order: the unit of work on Letzshop."""

    id: str
    number: str | None
    state: str | None
    order_id: str | None
    order_number: str | None
    email: str | None
    total_cents: int | None
    currency: str
    completed_at: datetime | None
    locale: str | None
    ship_address: Address | None
    bill_address: Address | None
    units: tuple[InventoryUnit, ...]
    tracking_code: str | None = None
    tracking_provider: str | None = None
    #: The node exactly as received, for the audit trail and later re-parsing.
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def customer_name(self) -> str:
        for address in (self.ship_address, self.bill_address):
            if address and address.full_name:
                return address.full_name
        return self.email or ""

    def lines(self) -> list[Line]:
        """Units grouped by variant, in first-seen order; quantity is the number of units."""
        counts = Counter(unit.variant_id or unit.id for unit in self.units)
        seen: dict[str, Line] = {}
        for unit in self.units:
            key = unit.variant_id or unit.id
            if key not in seen:
                seen[key] = Line(unit.variant_id, counts[key], unit)
        return list(seen.values())


@dataclass(frozen=True, slots=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class ShipmentPage:
    """One page of the shipments connection. ``failed`` holds nodes that could not be parsed."""

    shipments: tuple[Shipment, ...]
    page_info: PageInfo
    failed: tuple[tuple[str | None, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MutationProblem:
    """One entry of a mutation payload's ``errors``: Letzshop refusing part of an answer."""

    message: str
    code: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """What ``confirmInventoryUnits`` said: each named unit's state after the call, and refusals."""

    states: dict[str, str | None]
    problems: tuple[MutationProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class TrackingResult:
    """What ``setShipmentTracking`` said. The tracking echoed here is not trusted (fact sheet §3.2)."""

    shipment_state: str | None
    code: str | None
    provider: str | None
    problems: tuple[MutationProblem, ...] = ()
