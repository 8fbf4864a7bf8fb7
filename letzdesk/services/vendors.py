"""Vendors and their Letzshop connections: add, edit, remove, list, and open a client with the key."""

from __future__ import annotations

import contextlib
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..letzshop.client import DEFAULT_ENDPOINT, LetzshopClient, check_endpoint
from ..settings import Settings
from ..store.db import Database
from ..store.models import Credential, FulfillmentTask, InventoryUnit, Order, SyncLog, Vendor
from ..vault import KeyringUnavailable, PassphraseRequired, Vault, VaultError, mask

_NAME = re.compile(r"^\w[\w .&'-]{0,99}$", re.UNICODE)
MIN_INTERVAL, MAX_INTERVAL, DEFAULT_INTERVAL = 5, 1440, 30
MIN_ATTEMPTS, MAX_ATTEMPTS, DEFAULT_ATTEMPTS = 1, 20, 3

#: Carrier codes offered in the window; Letzshop's own list is not known, so any text is accepted.
CARRIERS = ("post_lu", "dhl", "dpd", "gls", "ups", "fedex", "bpost", "colissimo", "other")


class VendorError(ValueError):
    """A vendor request that cannot be carried out; the message is meant for the vendor."""


class ValidationError(VendorError):
    """One or more fields are wrong; ``fields`` maps each field name to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(" ".join(fields.values()))
        self.fields = fields


@dataclass(frozen=True)
class VendorInfo:
    id: int
    name: str
    endpoint: str
    masked_key: str
    auto_sync: bool
    interval_minutes: int
    default_carrier: str | None
    last_sync_at: datetime | None
    last_sync_status: str | None
    last_sync_error: str | None
    schema_checked_at: datetime | None
    schema_drift: list[str] = field(default_factory=list)
    orders: int = 0
    pending: int = 0
    #: Answers that failed for good and wait for a person.
    failing_tasks: int = 0
    #: Answers are queued but not sent.
    dry_run: bool = False
    max_attempts: int = DEFAULT_ATTEMPTS


@dataclass(frozen=True)
class RemovalSummary:
    """What removing a vendor deletes, said before it happens."""

    name: str
    orders: int
    units: int
    sync_logs: int


def validate(
    *,
    name: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
    interval_minutes: int | None = None,
    max_attempts: int | None = None,
) -> dict[str, str]:
    """Messages per field for the values given (None means "not being changed")."""
    problems: dict[str, str] = {}
    if name is not None and not _NAME.match(name.strip()):
        problems["name"] = "A vendor name is 1 to 100 letters, digits, spaces or . & ' - characters."
    if api_key is not None and not api_key.strip():
        problems["api_key"] = "The API key is empty."
    elif api_key is not None and (
        any(ch.isspace() for ch in api_key.strip())
        or not api_key.strip().isascii()
        or not api_key.strip().isprintable()
    ):
        problems["api_key"] = "An API key has no spaces or special characters; check that it was pasted whole."
    if endpoint is not None:
        try:
            check_endpoint(endpoint.strip())
        except ValueError as exc:
            problems["endpoint"] = str(exc)
    if interval_minutes is not None and not MIN_INTERVAL <= interval_minutes <= MAX_INTERVAL:
        problems["interval_minutes"] = f"The sync interval is {MIN_INTERVAL} to {MAX_INTERVAL} minutes."
    if max_attempts is not None and not MIN_ATTEMPTS <= max_attempts <= MAX_ATTEMPTS:
        problems["max_attempts"] = f"An answer is tried {MIN_ATTEMPTS} to {MAX_ATTEMPTS} times."
    return problems


class VendorService:
    def __init__(self, db: Database, vault: Vault, settings: Settings) -> None:
        self.db = db
        self.vault = vault
        self.settings = settings

    # -- changes ----------------------------------------------------------------------------

    def add(
        self,
        name: str,
        api_key: str,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        auto_sync: bool = False,
        interval_minutes: int = DEFAULT_INTERVAL,
        default_carrier: str | None = None,
        dry_run: bool = False,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> int:
        problems = validate(
            name=name, api_key=api_key, endpoint=endpoint, interval_minutes=interval_minutes, max_attempts=max_attempts
        )
        if problems:
            raise ValidationError(problems)
        try:
            with self.vault.locked(), self.db.write_session() as session:
                token = self.vault.encrypt(api_key.strip())
                vendor = Vendor(name=name.strip())
                vendor.credential = Credential(
                    api_key_encrypted=token,
                    endpoint=endpoint.strip(),
                    auto_sync=auto_sync,
                    interval_minutes=interval_minutes,
                    default_carrier=(default_carrier or "").strip() or None,
                    dry_run=dry_run,
                    max_attempts=max_attempts,
                )
                session.add(vendor)
                session.flush()
                return vendor.id
        except IntegrityError:
            raise ValidationError({"name": f"A vendor named {name.strip()!r} already exists."}) from None

    def edit(
        self,
        vendor_id: int,
        *,
        name: str | None = None,
        api_key: str | None = None,
        endpoint: str | None = None,
        auto_sync: bool | None = None,
        interval_minutes: int | None = None,
        default_carrier: str | None = None,
        dry_run: bool | None = None,
        max_attempts: int | None = None,
    ) -> None:
        """Change what is given; a new key or endpoint clears the last schema check."""
        problems = validate(
            name=name, api_key=api_key, endpoint=endpoint, interval_minutes=interval_minutes, max_attempts=max_attempts
        )
        if problems:
            raise ValidationError(problems)
        lock = self.vault.locked() if api_key is not None else contextlib.nullcontext()
        try:
            with lock, self.db.write_session() as session:
                token = self.vault.encrypt(api_key.strip()) if api_key is not None else None
                vendor = session.get(Vendor, vendor_id)
                if vendor is None or vendor.credential is None:
                    raise VendorError("This vendor no longer exists.")
                cred = vendor.credential
                if name is not None:
                    vendor.name = name.strip()
                if token is not None:
                    cred.api_key_encrypted = token
                if endpoint is not None:
                    cred.endpoint = endpoint.strip()
                if token is not None or endpoint is not None:
                    cred.schema_checked_at = None
                    cred.schema_drift = None
                if auto_sync is not None:
                    cred.auto_sync = auto_sync
                if interval_minutes is not None:
                    cred.interval_minutes = interval_minutes
                if default_carrier is not None:
                    cred.default_carrier = default_carrier.strip() or None
                if dry_run is not None:
                    cred.dry_run = dry_run
                if max_attempts is not None:
                    cred.max_attempts = max_attempts
        except IntegrityError:
            raise ValidationError({"name": f"A vendor named {(name or '').strip()!r} already exists."}) from None

    def removal_summary(self, vendor_id: int) -> RemovalSummary:
        with self.db.session() as session:
            vendor = session.get(Vendor, vendor_id)
            if vendor is None:
                raise VendorError("This vendor no longer exists.")
            orders = session.scalar(select(func.count()).select_from(Order).where(Order.vendor_id == vendor_id))
            units = session.scalar(
                select(func.count()).select_from(InventoryUnit).join(Order).where(Order.vendor_id == vendor_id)
            )
            logs = session.scalar(select(func.count()).select_from(SyncLog).where(SyncLog.vendor_id == vendor_id))
            return RemovalSummary(vendor.name, orders or 0, units or 0, logs or 0)

    def remove(self, vendor_id: int) -> RemovalSummary:
        """Delete the vendor, its key and its orders; its sync log rows stay, under its name."""
        summary = self.removal_summary(vendor_id)
        with self.db.write_session() as session:
            vendor = session.get(Vendor, vendor_id)
            if vendor is not None:
                session.delete(vendor)
        return summary

    def rotate_keys(self) -> int:
        """Re-encrypt every stored API key under a new master key; returns how many.

        The new key is saved beside the old one first, the tokens are rewritten in one
        transaction, and only then is the old key dropped: stopped anywhere, nothing is lost,
        and running it again finishes the job.
        """
        with self.vault.locked():
            self.vault.begin_rotation()
            with self.db.write_session() as session:
                credentials = list(session.scalars(select(Credential)))
                for cred in credentials:
                    cred.api_key_encrypted = self.vault.rotate_token(cred.api_key_encrypted)
            self.vault.finish_rotation()
        return len(credentials)

    def answers_on_hold(self, vendor_id: int) -> str | None:
        """Why answers to Letzshop must wait for this vendor, or None when they may go.

        The last connection test found that Letzshop's API no longer matches our documents;
        sending mutations shaped for the old API could be refused or, worse, misread.
        """
        with self.db.session() as session:
            drift = session.scalar(select(Credential.schema_drift).where(Credential.vendor_id == vendor_id))
        if drift:
            return (
                f"Letzshop's API has changed ({len(drift)} mismatch(es)); answers wait until a connection test passes."
            )
        return None

    def record_schema_check(self, vendor_id: int, drift: list[str], checked_at: datetime) -> None:
        with self.db.write_session() as session:
            cred = session.scalar(select(Credential).where(Credential.vendor_id == vendor_id))
            if cred is not None:
                cred.schema_checked_at = checked_at
                cred.schema_drift = drift or None

    # -- reading ----------------------------------------------------------------------------

    def get(self, name: str) -> Vendor:
        with self.db.session() as session:
            vendor = session.scalar(select(Vendor).where(Vendor.name == name.strip()))
            if vendor is None:
                raise VendorError(
                    f"No vendor named {name!r}. Add it with: letzdesk vendor add {shlex.quote(name)} --endpoint URL"
                )
            return vendor

    def names(self) -> dict[int, str]:
        """Vendor id -> name, without touching any key."""
        with self.db.session() as session:
            return dict(session.execute(select(Vendor.id, Vendor.name).order_by(Vendor.name)).all())

    def default_carriers(self) -> dict[int, str | None]:
        """Vendor id -> default carrier, without touching any key."""
        with self.db.session() as session:
            return dict(session.execute(select(Credential.vendor_id, Credential.default_carrier)).all())

    def info(self, vendor_id: int) -> VendorInfo:
        found = [v for v in self.list() if v.id == vendor_id]
        if not found:
            raise VendorError("This vendor no longer exists.")
        return found[0]

    def list(self) -> list[VendorInfo]:
        with self.db.session() as session:
            counts = dict(session.execute(select(Order.vendor_id, func.count()).group_by(Order.vendor_id)).all())
            pending = dict(
                session.execute(
                    select(Order.vendor_id, func.count()).where(Order.status == "pending").group_by(Order.vendor_id)
                ).all()
            )
            failing = dict(
                session.execute(
                    select(FulfillmentTask.vendor_id, func.count())
                    .where(FulfillmentTask.status == "failed")
                    .group_by(FulfillmentTask.vendor_id)
                ).all()
            )
            rows = session.execute(select(Vendor, Credential).join(Credential).order_by(Vendor.name)).all()
            return [
                VendorInfo(
                    id=vendor.id,
                    name=vendor.name,
                    endpoint=cred.endpoint,
                    masked_key=self._masked(cred.api_key_encrypted),
                    auto_sync=cred.auto_sync,
                    interval_minutes=cred.interval_minutes,
                    default_carrier=cred.default_carrier,
                    last_sync_at=cred.last_sync_at,
                    last_sync_status=cred.last_sync_status,
                    last_sync_error=cred.last_sync_error,
                    schema_checked_at=cred.schema_checked_at,
                    schema_drift=list(cred.schema_drift or []),
                    orders=counts.get(vendor.id, 0),
                    pending=pending.get(vendor.id, 0),
                    failing_tasks=failing.get(vendor.id, 0),
                    dry_run=cred.dry_run,
                    max_attempts=cred.max_attempts,
                )
                for vendor, cred in rows
            ]

    def _masked(self, token: bytes) -> str:
        try:
            return mask(self.vault.decrypt(token))
        except (PassphraseRequired, KeyringUnavailable):
            raise  # the whole store is locked, not this one key: no key is "unreadable"
        except VaultError:
            return "(unreadable: re-enter the key)"

    def client_for(self, vendor_id: int) -> LetzshopClient:
        """A client with the vendor's decrypted key; create it inside the running loop."""
        with self.db.session() as session:
            cred = session.scalar(select(Credential).where(Credential.vendor_id == vendor_id))
            if cred is None:
                raise VendorError("This vendor has no Letzshop connection.")
            api_key = self.vault.decrypt(cred.api_key_encrypted)
            endpoint = cred.endpoint
        return self.client(endpoint, api_key)

    def client(self, endpoint: str, api_key: str) -> LetzshopClient:
        return LetzshopClient(
            endpoint, api_key, deadline=self.settings.request_deadline, page_size=self.settings.page_size
        )
