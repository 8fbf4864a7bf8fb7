"""Vendors and their Letzshop connections: add, list, and open a client with the stored key."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..letzshop.client import DEFAULT_ENDPOINT, LetzshopClient, check_endpoint
from ..settings import Settings
from ..store.db import Database
from ..store.models import Credential, Order, Vendor
from ..vault import Vault, VaultError, mask

_NAME = re.compile(r"^[\w][\w .&'-]{0,99}$", re.UNICODE)


class VendorError(ValueError):
    """A vendor request that cannot be carried out; the message is meant for the vendor."""


@dataclass(frozen=True)
class VendorInfo:
    id: int
    name: str
    endpoint: str
    masked_key: str
    auto_sync: bool
    interval_minutes: int
    last_sync_at: datetime | None
    last_sync_status: str | None
    last_sync_error: str | None
    orders: int
    pending: int


class VendorService:
    def __init__(self, db: Database, vault: Vault, settings: Settings) -> None:
        self.db = db
        self.vault = vault
        self.settings = settings

    def add(self, name: str, api_key: str, endpoint: str = DEFAULT_ENDPOINT) -> int:
        name = name.strip()
        api_key = api_key.strip()
        if not _NAME.match(name):
            raise VendorError("A vendor name is 1 to 100 letters, digits, spaces or . & ' - characters.")
        if not api_key:
            raise VendorError("The API key is empty.")
        try:
            check_endpoint(endpoint)
        except ValueError as exc:
            raise VendorError(str(exc)) from None

        token = self.vault.encrypt(api_key)
        try:
            with self.db.write_session() as session:
                vendor = Vendor(name=name)
                vendor.credential = Credential(api_key_encrypted=token, endpoint=endpoint)
                session.add(vendor)
                session.flush()
                return vendor.id
        except IntegrityError:
            raise VendorError(f"A vendor named {name!r} already exists.") from None

    def get(self, name: str) -> Vendor:
        with self.db.session() as session:
            vendor = session.scalar(select(Vendor).where(Vendor.name == name))
            if vendor is None:
                raise VendorError(f"No vendor named {name!r}. Add it with: "
                                  f"letzdesk vendor add {shlex.quote(name)} --endpoint URL")
            return vendor

    def names(self) -> dict[int, str]:
        """Vendor id -> name, without touching any key."""
        with self.db.session() as session:
            return dict(session.execute(select(Vendor.id, Vendor.name).order_by(Vendor.name)).all())

    def list(self) -> list[VendorInfo]:
        with self.db.session() as session:
            counts = dict(session.execute(select(Order.vendor_id, func.count()).group_by(Order.vendor_id)).all())
            pending = dict(session.execute(
                select(Order.vendor_id, func.count()).where(Order.status == "pending").group_by(Order.vendor_id)
            ).all())
            rows = session.execute(select(Vendor, Credential).join(Credential).order_by(Vendor.name)).all()
            return [
                VendorInfo(
                    id=vendor.id, name=vendor.name, endpoint=cred.endpoint,
                    masked_key=self._masked(cred.api_key_encrypted),
                    auto_sync=cred.auto_sync, interval_minutes=cred.interval_minutes,
                    last_sync_at=cred.last_sync_at, last_sync_status=cred.last_sync_status,
                    last_sync_error=cred.last_sync_error,
                    orders=counts.get(vendor.id, 0), pending=pending.get(vendor.id, 0),
                )
                for vendor, cred in rows
            ]

    def _masked(self, token: bytes) -> str:
        try:
            return mask(self.vault.decrypt(token))
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
        return LetzshopClient(endpoint, api_key, deadline=self.settings.request_deadline,
                              page_size=self.settings.page_size)
