"""The audit trail of syncs, written by the services and read by the command line and window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update

from ..store.db import Database
from ..store.models import Credential, SyncLog, Vendor
from ..store.types import utcnow

SUCCESS, PARTIAL, FAILED = "success", "partial", "failed"
TRIGGERS = ("user", "scheduler", "startup", "cli")
#: How long runs stay in the log; the newest of each vendor stays longer (see ``prune``).
RETENTION_DAYS = 180


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


def record(db: Database, run: SyncRun, finished: datetime | None = None) -> SyncLog:
    """Write the run's log row, and for an import the vendor's last-sync fields, in one transaction.

    A vendor removed while its sync ran still gets its row, under its name, without the link.
    Sending answers is not a sync: its troubles show in the queue, not as the vendor's last sync.
    """
    finished = finished or utcnow()
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


def query(
    db: Database,
    *,
    vendor_id: int | None = None,
    operation: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 5000,
) -> list[SyncLog]:
    """Runs newest first, narrowed in SQL: the window asks for a date range, so a long history
    is never read whole just to show the last month."""
    conditions = []
    if vendor_id is not None:
        conditions.append(SyncLog.vendor_id == vendor_id)
    if operation is not None:
        conditions.append(SyncLog.operation == operation)
    if status is not None:
        conditions.append(SyncLog.status == status)
    if since is not None:
        conditions.append(SyncLog.started_at >= since)
    if until is not None:
        conditions.append(SyncLog.started_at < until)

    newest_first = (SyncLog.started_at.desc(), SyncLog.id.desc())
    with db.session() as session:
        return list(session.scalars(select(SyncLog).where(*conditions).order_by(*newest_first).limit(limit)))


def prune(db: Database, older_than_days: int = RETENTION_DAYS) -> int:
    """Delete runs older than the retention period; returns how many went.

    The newest run of each vendor stays however old it is, so "when did this vendor last sync,
    and how did it go" always has an answer. A removed vendor's runs have no vendor id: they
    are kept apart by the name they were written under.
    """
    cutoff = utcnow() - timedelta(days=older_than_days)

    # Rank each vendor's runs newest first; rank 1 is the one to keep.
    removed_name = case((SyncLog.vendor_id.is_(None), SyncLog.vendor_name), else_=None)
    rank = (
        func.row_number()
        .over(partition_by=(SyncLog.vendor_id, removed_name), order_by=(SyncLog.started_at.desc(), SyncLog.id.desc()))
        .label("rank")
    )
    ranked = select(SyncLog.id, rank).subquery()
    newest = select(ranked.c.id).where(ranked.c.rank == 1)

    with db.write_session() as session:
        result = session.execute(delete(SyncLog).where(SyncLog.started_at < cutoff, SyncLog.id.not_in(newest)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
