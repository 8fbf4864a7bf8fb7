"""The audit trail of syncs, written by the services and read by the command line and window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..store.db import Database
from ..store.models import Credential, SyncLog, Vendor
from ..store.types import utcnow

SUCCESS, PARTIAL, FAILED = "success", "partial", "failed"
TRIGGERS = ("user", "scheduler", "startup", "cli")


@dataclass
class SyncRun:
    """Counts of one run as it happens; becomes one ``sync_logs`` row when it ends."""

    vendor_id: int
    vendor_name: str
    operation: str
    direction: str
    trigger: str
    started_at: datetime = field(default_factory=utcnow)
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    pages: int = 0
    error: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.imported + self.updated + self.unchanged + self.failed

    @property
    def succeeded(self) -> int:
        return self.imported + self.updated + self.unchanged

    @property
    def status(self) -> str:
        if self.failed == 0 and self.error is None:
            return SUCCESS
        return PARTIAL if self.succeeded else FAILED


def record(db: Database, run: SyncRun) -> SyncLog:
    """Write the run's log row, and for an import the vendor's last-sync fields, in one transaction.

    A vendor removed while its sync ran still gets its row, under its name, without the link.
    Sending answers is not a sync: its troubles show in the queue, not as the vendor's last sync.
    """
    finished = utcnow()
    with db.write_session() as session:
        vendor_exists = session.get(Vendor, run.vendor_id) is not None
        row = SyncLog(
            vendor_id=run.vendor_id if vendor_exists else None,
            vendor_name=run.vendor_name,
            operation=run.operation,
            direction=run.direction,
            status=run.status,
            processed=run.processed,
            succeeded=run.succeeded,
            failed=run.failed,
            imported=run.imported,
            updated=run.updated,
            unchanged=run.unchanged,
            error=run.error[:2000] if run.error else None,
            details=run.details[:200] or None,
            started_at=run.started_at,
            finished_at=finished,
            duration_ms=int((finished - run.started_at).total_seconds() * 1000),
            trigger=run.trigger,
        )
        session.add(row)
        if run.direction != "inbound":
            return row
        session.execute(
            update(Credential)
            .where(Credential.vendor_id == run.vendor_id)
            .values(last_sync_at=finished, last_sync_status=run.status, last_sync_error=run.error)
        )
    return row


def recent(db: Database, vendor_id: int | None = None, limit: int = 1000) -> list[SyncLog]:
    with db.session() as session:
        query = select(SyncLog).order_by(SyncLog.started_at.desc(), SyncLog.id.desc()).limit(limit)
        if vendor_id is not None:
            query = query.where(SyncLog.vendor_id == vendor_id)
        return list(session.scalars(query))
