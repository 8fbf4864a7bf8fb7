"""Test a Letzshop connection: is the key accepted, how fast, and do our documents still fit?"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..letzshop import documents
from ..letzshop.client import LetzshopClient
from ..letzshop.errors import (
    AuthError,
    LetzshopError,
    MalformedResponseError,
    RateLimitedError,
    SchemaDriftError,
    TransientError,
)
from ..letzshop.retry import RetryPolicy
from ..letzshop.schema_check import drift, schema_from_introspection
from ..store.types import utcnow
from ..vault import VaultError
from .vendors import VendorError, VendorService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    #: A sentence for the vendor.
    message: str
    #: Time of the authenticated request, when it got an answer.
    elapsed_ms: int | None = None
    #: "auth", "key", "network", "down", "rate_limited", "malformed", "drift", or None when all is well.
    problem: str | None = None
    #: Mismatches between our documents and the live schema, one line each.
    drift: list[str] = field(default_factory=list)
    schema_checked: bool = False


def _failure(exc: LetzshopError, host: str) -> ConnectionReport:
    if isinstance(exc, AuthError):
        return ConnectionReport(
            False, "Letzshop refused this API key. Check it, or ask Letzshop for a new one.", problem="auth"
        )
    if isinstance(exc, RateLimitedError):
        return ConnectionReport(
            False, "Letzshop is rate limiting this key; try again in a few minutes.", problem="rate_limited"
        )
    if isinstance(exc, TransientError) and not exc.sent:
        return ConnectionReport(
            False, f"No connection to {host}. Check the network and the endpoint address.", problem="network"
        )
    if isinstance(exc, TransientError):
        return ConnectionReport(False, f"{host} did not answer properly; Letzshop may be down. ({exc})", problem="down")
    if isinstance(exc, MalformedResponseError):
        return ConnectionReport(
            False, f"{host} answered with something that is not Letzshop's API. ({exc})", problem="malformed"
        )
    return ConnectionReport(False, f"Letzshop reported an error: {exc}", problem="malformed")


async def check_client(client: LetzshopClient) -> ConnectionReport:
    """One authenticated request (timed), then the schema check; no retries, nothing written remotely."""
    client.retry = RetryPolicy(attempts=1)
    host = urlsplit(client.endpoint).hostname or client.endpoint
    started = time.monotonic()
    ping_drift = False
    try:
        await client.shipments_page("unconfirmed", first=1)
    except SchemaDriftError:
        ping_drift = True  # the key worked; the introspection below names what changed
    except LetzshopError as exc:
        logger.info("Connection test to %s failed: %s", host, type(exc).__name__)
        return _failure(exc, host)
    elapsed_ms = round((time.monotonic() - started) * 1000)

    try:
        data = await client.execute(documents.load("introspection"), operation="IntrospectionQuery")
        problems = drift(schema_from_introspection(data))
    except (LetzshopError, ValueError) as exc:
        logger.info("Schema check at %s not possible: %s", host, exc)
        if ping_drift:
            return ConnectionReport(
                False,
                "Letzshop accepted the key but rejected our order query, and its schema could not be read to say why.",
                elapsed_ms,
                "drift",
            )
        return ConnectionReport(
            True,
            f"Connected in {elapsed_ms} ms. (Letzshop's schema could not be read, so it was not checked.)",
            elapsed_ms,
        )

    if problems:
        logger.warning("Schema drift at %s: %s", host, "; ".join(problems))
        return ConnectionReport(
            False,
            f"Connected in {elapsed_ms} ms, but Letzshop's API has changed: "
            f"{len(problems)} mismatch(es). Answers stay on hold for this vendor until a test passes.",
            elapsed_ms,
            "drift",
            problems,
            True,
        )
    return ConnectionReport(
        True, f"Connected in {elapsed_ms} ms; the API matches what letzdesk expects.", elapsed_ms, None, [], True
    )


async def test_vendor(vendors: VendorService, vendor_id: int) -> ConnectionReport:
    """Test the stored key and record the schema check, so drift blocks answers until fixed."""
    try:
        client = await asyncio.to_thread(vendors.client_for, vendor_id)  # reads the database and the vault
    except (VendorError, VaultError, ValueError) as exc:
        return ConnectionReport(False, str(exc), problem="key")
    async with client:
        report = await check_client(client)
    if report.schema_checked:
        await asyncio.to_thread(vendors.record_schema_check, vendor_id, report.drift, utcnow())
    return report


async def test_key(vendors: VendorService, endpoint: str, api_key: str) -> ConnectionReport:
    """Test a key that is typed but not saved; nothing is stored."""
    try:
        client = vendors.client(endpoint, api_key)
    except ValueError as exc:  # an unsendable key or an insecure endpoint, said without the key
        return ConnectionReport(False, str(exc), problem="key")
    async with client:
        return await check_client(client)


# Named for what a vendor does ("test the key"); not pytest tests when imported into one.
test_vendor.__test__ = False  # type: ignore[attr-defined]
test_key.__test__ = False  # type: ignore[attr-defined]
