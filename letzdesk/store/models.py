"""The tables of DESIGN.md §4.

Remote fields (what Letzshop said) and local fields (what the vendor decided) live side by
side; an import only ever writes the remote ones, plus the status derived from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Vendor(Base):
    """A Letzshop shop this desk manages; one install may manage several."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    credential: Mapped[Credential | None] = relationship(
        back_populates="vendor", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )


class Credential(Base):
    """How to reach Letzshop for one vendor. The API key is only ever stored Fernet-encrypted."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"), unique=True)
    api_key_encrypted: Mapped[bytes] = mapped_column()
    endpoint: Mapped[str] = mapped_column(String(500))
    auto_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    default_carrier: Mapped[str | None] = mapped_column(String(50))
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_status: Mapped[str | None] = mapped_column(String(20))
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    #: When our documents were last validated against the live schema, and what did not match.
    schema_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    schema_drift: Mapped[list[str] | None] = mapped_column(JSON)
    #: Answers are queued but never sent (trying letzdesk on a real shop without touching it).
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: How many times an answer is sent before it fails for good and waits for a person.
    max_attempts: Mapped[int] = mapped_column(Integer, default=3, server_default="3")

    vendor: Mapped[Vendor] = relationship(back_populates="credential")


class Order(Base):
    """One Letzshop shipment (a vendor's share of a customer order)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("vendor_id", "shipment_id", name="uq_orders_vendor_shipment"),
        Index("ix_orders_vendor_status", "vendor_id", "status"),
        Index("ix_orders_completed_at", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(String(200))
    shipment_number: Mapped[str | None] = mapped_column(String(100))
    order_id: Mapped[str | None] = mapped_column(String(200))
    order_number: Mapped[str | None] = mapped_column(String(100))
    letzshop_state: Mapped[str | None] = mapped_column(String(50))
    #: Derived: pending, confirmed, partially confirmed, declined, shipped.
    status: Mapped[str] = mapped_column(String(30), default="pending")
    customer_name: Mapped[str | None] = mapped_column(String(300))
    customer_email: Mapped[str | None] = mapped_column(String(300))
    total_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    locale: Mapped[str | None] = mapped_column(String(10))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ship_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bill_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Ours is the truth for tracking; Letzshop's read-back is unreliable.
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_carrier: Mapped[str | None] = mapped_column(String(100))
    remote_tracking_number: Mapped[str | None] = mapped_column(String(100))
    remote_tracking_carrier: Mapped[str | None] = mapped_column(String(100))
    raw_json: Mapped[str] = mapped_column(Text)
    #: SHA-256 of raw_json: an unchanged re-import is detected without rewriting the row.
    raw_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    units: Mapped[list[InventoryUnit]] = relationship(
        back_populates="order", order_by="InventoryUnit.position", cascade="all, delete-orphan", passive_deletes=True
    )


class InventoryUnit(Base):
    """One physical piece of an order, the level at which Letzshop takes answers."""

    __tablename__ = "inventory_units"
    __table_args__ = (UniqueConstraint("order_pk", "unit_id", name="uq_units_order_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str | None] = mapped_column(String(50))
    variant_id: Mapped[str | None] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(200))
    mpn: Mapped[str | None] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(50))
    gtin_kind: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(500))
    names: Mapped[dict[str, str] | None] = mapped_column(JSON)
    brand: Mapped[str | None] = mapped_column(String(200))
    price_cents: Mapped[int | None] = mapped_column(Integer)
    #: The state the vendor asked for (confirmed_available or confirmed_unavailable) while it is
    #: queued or after it was sent; ``state`` stays what Letzshop last said. Never touched by imports.
    answer: Mapped[str | None] = mapped_column(String(50))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why the vendor declined; kept here only (Letzshop's mutation has no field for it).
    decline_reason: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="units")


class FulfillmentTask(Base):
    """The outbox: one answer to send to Letzshop, written with the local change it carries.

    ``status`` moves pending -> in_flight -> done | failed, or to cancelled. ``verify`` is set
    when a send may have reached Letzshop without us hearing the outcome (a timeout, a dropped
    connection, a crash while in flight): the shipment is read back before anything is sent again.
    """

    __tablename__ = "fulfillment_tasks"
    __table_args__ = (
        Index("ix_tasks_vendor_status_due", "vendor_id", "status", "next_attempt_at"),
        Index("ix_tasks_order", "order_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    #: confirm, decline or tracking.
    operation: Mapped[str] = mapped_column(String(20))
    #: confirm/decline: {"units": [...], "reason": ...}; tracking: {"code": ..., "carrier": ...}.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    #: Sends that reached Letzshop or may have; waits for rate limits and an unreachable network do not count.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    #: Times the task was put back without a send (429, no network): drives the backoff with attempts.
    waits: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verify: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship()


class SyncLog(Base):
    """The audit trail: one row per sync run, readable by the vendor."""

    __tablename__ = "sync_logs"
    __table_args__ = (Index("ix_sync_logs_vendor_started", "vendor_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id", ondelete="SET NULL"))
    #: Kept so the trail still reads well after the vendor is removed.
    vendor_name: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(50))
    direction: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    processed: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))
