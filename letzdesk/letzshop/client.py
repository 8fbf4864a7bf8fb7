"""Async client for Letzshop's GraphQL endpoint.

One instance per vendor endpoint, created inside the running event loop and closed with
``aclose()`` before the loop stops. Every call has an overall deadline (httpx's own read
timeout is per chunk), and every failure surfaces as a typed ``LetzshopError``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx

from . import documents
from .errors import (
    AuthError,
    GraphQLErrorDetail,
    GraphQLResponseError,
    LetzshopError,
    MalformedResponseError,
    RateLimitedError,
    SchemaDriftError,
    TransientError,
)
from .parse import ParseError, parse_answer_result, parse_shipments_page, parse_tracking_result
from .records import AnswerResult, Shipment, ShipmentPage, TrackingResult
from .retry import RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://letzshop.lu/graphql"
USER_AGENT = "letzdesk/0.1"
_AUTH_CODES = {"UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN", "AUTHENTICATION_ERROR", "ACCESS_DENIED"}
_AUTH_WORDS = re.compile(
    r"unauthori[sz]ed|unauthenticated|not authenticated|access denied|forbidden|"
    r"(invalid|missing|wrong|expired|revoked) (api[ -]?key|access token|bearer token|credentials)",
    re.I,
)
_DRIFT_CODES = {
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
    "undefinedField",
    "argumentNotAccepted",
    "undefinedType",
    "missingRequiredArguments",
}
_DRIFT_WORDS = re.compile(
    r"cannot query field|doesn't exist on type|unknown (argument|type)|"
    r"isn't a defined input type|field .* argument .* (of type|is required)|"
    r"variable .* of type .* (used|expected)|has no argument",
    re.I,
)


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (building it reads the CA bundle: ~50 ms)."""
    return ssl.create_default_context(cafile=certifi.where())


class InsecureEndpointError(ValueError):
    """A Bearer key would travel over plain HTTP to a host that is not this machine."""


MAX_URL_LENGTH = 2000
#: The largest reply we read; a page of 100 shipments is well under a megabyte.
MAX_BODY_BYTES = 64 * 1024 * 1024


def check_endpoint(url: str) -> str:
    """Return ``url`` if an API key may be sent to it: https, or http to a loopback host only."""
    if len(url) > MAX_URL_LENGTH or not url.isprintable() or any(ch.isspace() for ch in url):
        raise InsecureEndpointError("The endpoint address is too long or contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number from 0 to 65535
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise InsecureEndpointError(f"{url[:100]!r} is not a valid web address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureEndpointError(f"{url[:100]!r} is not an http(s) address")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InsecureEndpointError(f"Refusing to send an API key over plain http to {parts.hostname}; use https://")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """``Retry-After`` as seconds or as an HTTP date -> seconds from now (never negative)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now()).total_seconds(), 0.0)


def _error_details(errors: Any) -> list[GraphQLErrorDetail]:
    details = []
    for item in errors if isinstance(errors, list) else [errors]:
        if isinstance(item, dict):
            message = item.get("message")
            path = item.get("path")
            extensions = item.get("extensions")
            code = extensions.get("code") if isinstance(extensions, dict) else None
            details.append(
                GraphQLErrorDetail(
                    message=str(message)[:500] if message is not None else "unnamed error",
                    path=tuple(p for p in path if isinstance(p, str | int)) if isinstance(path, list) else (),
                    code=str(code) if code is not None else None,
                )
            )
        else:
            details.append(GraphQLErrorDetail(message=str(item)[:200]))
    return details or [GraphQLErrorDetail(message="empty errors array")]


def classify_errors(errors: Any, data: Any) -> LetzshopError:
    """The typed error for a GraphQL ``errors`` array.

    Only an error about the whole request (no path below the root field) means the key was
    refused; "access denied" on one field of one node is that node's problem.
    """
    details = _error_details(errors)
    partial = data if isinstance(data, dict) else None
    if any((d.code in _AUTH_CODES or _AUTH_WORDS.search(d.message)) and len(d.path) <= 1 for d in details):
        return AuthError("Letzshop refused the API key: " + details[0].message)
    if partial is None and any(d.code in _DRIFT_CODES or _DRIFT_WORDS.search(d.message) for d in details):
        return SchemaDriftError(details)
    return GraphQLResponseError(details, partial)


class LetzshopClient:
    """Talks to one Letzshop endpoint with one API key."""

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        deadline: float = 30.0,
        page_size: int = 50,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint = check_endpoint(endpoint)
        if not api_key or not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key):
            # Said without the key: it must not reach an exception attribute or a log.
            raise ValueError("The API key contains spaces or characters that cannot be sent; paste it again.")
        self.deadline = deadline
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        #: Which form of the shipments query this server accepts, once known.
        self._shipment_form: str | None = None
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=httpx.Timeout(min(deadline, 15.0), connect=min(deadline, 10.0)),
            transport=transport,
            verify=_tls_context(),
            follow_redirects=False,
        )

    async def __aenter__(self) -> LetzshopClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, operation: str | None = None
    ) -> dict[str, Any]:
        """Send one GraphQL request and return ``data``; raise a LetzshopError on any failure."""
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation:
            payload["operationName"] = operation
        what = operation or "request"
        started = time.monotonic()
        try:
            async with (
                asyncio.timeout(self.deadline),
                self._http.stream("POST", self.endpoint, json=payload) as response,
            ):
                body = await self._read_limited(response, what)
        except TimeoutError:
            raise TransientError(f"{what}: no complete answer within {self.deadline:g} s", sent=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                f"{what}: cannot connect to {urlsplit(self.endpoint).hostname} ({type(exc).__name__})"
            ) from None
        except httpx.TimeoutException as exc:
            raise TransientError(f"{what}: timed out ({type(exc).__name__})", sent=True) from None
        except httpx.TransportError as exc:
            raise TransientError(f"{what}: connection failed ({type(exc).__name__})", sent=True) from None
        except httpx.DecodingError:
            raise MalformedResponseError(f"{what}: the answer's compression is broken") from None
        except httpx.HTTPError as exc:  # anything else httpx raises mid-request: outcome unknown
            raise TransientError(f"{what}: request failed ({type(exc).__name__})", sent=True) from None
        logger.debug(
            "%s: HTTP %s, %d bytes in %.0f ms",
            what,
            response.status_code,
            len(body),
            (time.monotonic() - started) * 1000,
        )
        return self._data_from(response, body, what)

    @staticmethod
    async def _read_limited(response: httpx.Response, what: str) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise MalformedResponseError(f"{what}: the answer is larger than {MAX_BODY_BYTES // 2**20} MB")
            chunks.append(chunk)
        return b"".join(chunks)

    def _data_from(self, response: httpx.Response, body: bytes, what: str) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise AuthError(f"{what}: Letzshop refused the API key (HTTP {status})")
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimitedError(f"{what}: rate limited (HTTP 429)", retry_after)
        if status >= 500:
            raise TransientError(f"{what}: Letzshop answered HTTP {status}", sent=True, status=status)

        try:
            decoded = json.loads(body, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise MalformedResponseError(
                f"{what}: HTTP {status} with a body that is not JSON ({len(body)} bytes)"
            ) from None
        if not isinstance(decoded, dict):
            raise MalformedResponseError(f"{what}: HTTP {status} with JSON that is not an object")

        data = decoded.get("data")
        if decoded.get("errors"):
            raise classify_errors(decoded["errors"], data)
        if status != 200:
            raise MalformedResponseError(f"{what}: unexpected HTTP {status}")
        if not isinstance(data, dict):
            raise MalformedResponseError(f"{what}: response has no data object")
        return data

    async def shipments_page(self, state: str, after: str | None = None, first: int | None = None) -> ShipmentPage:
        """One page of shipments in ``state``. Retries transient failures (reading is safe to repeat).

        If Letzshop rejects the document itself, the next form of SHIPMENT_FORMS is tried and
        remembered for this client; only when every form is rejected does the first error surface.
        """
        if self._shipment_form is not None:
            return await self._shipments_page(self._shipment_form, state, after, first)
        first_error: SchemaDriftError | None = None
        for form in documents.SHIPMENT_FORMS:
            try:
                page = await self._shipments_page(form, state, after, first)
            except SchemaDriftError as exc:
                first_error = first_error or exc
                logger.warning("Letzshop rejected the %s form of the shipments query: %s", form, exc)
                continue
            self._shipment_form = form
            return page
        assert first_error is not None
        raise first_error

    async def _shipments_page(self, form: str, state: str, after: str | None, first: int | None) -> ShipmentPage:
        if form == "variable":
            variables: dict[str, Any] = {"state": state, "first": first or self.page_size, "after": after}
        elif form == "literal":
            variables = {"first": first or self.page_size, "after": after}
        else:
            variables = {}
        query = documents.shipments(form, state)

        async def attempt() -> ShipmentPage:
            try:
                data = await self.execute(query, variables, "Shipments")
            except GraphQLResponseError as exc:
                # Errors tied to single nodes keep the rest of the page (partial data).
                bad = _bad_node_indexes(exc)
                if exc.data is None or bad is None:
                    raise
                logger.warning("Shipments page came with %d node error(s); keeping the rest", len(bad))
                return parse_shipments_page(exc.data, bad)
            return parse_shipments_page(data)

        return await self.retry.run(attempt, "Shipments", attempt_time=self.deadline)

    async def iter_shipment_pages(self, state: str = "unconfirmed") -> AsyncIterator[ShipmentPage]:
        """Every page of shipments in ``state``, following ``endCursor`` until ``hasNextPage`` is false."""
        after: str | None = None
        seen_cursors: set[str] = set()
        while True:
            page = await self.shipments_page(state, after)
            yield page
            cursor = page.page_info.end_cursor
            if not page.page_info.has_next_page:
                return
            if not cursor:
                raise MalformedResponseError("Letzshop said more pages follow but gave no cursor to reach them")
            if cursor in seen_cursors:
                raise MalformedResponseError("Letzshop returned the same page cursor twice")
            seen_cursors.add(cursor)
            after = cursor

    # -- answers ------------------------------------------------------------------------------
    #
    # A mutation is sent exactly once per call: never retried here, because a repeat is only
    # safe after reading back what the first one did. The fulfillment worker owns that decision.

    async def answer_units(self, answers: dict[str, bool]) -> AnswerResult:
        """Confirm (True) or decline (False) inventory units by id, in one ``confirmInventoryUnits``."""
        variables = {
            "input": {
                "inventoryUnits": [
                    {"inventoryUnitId": unit_id, "isAvailable": available} for unit_id, available in answers.items()
                ]
            }
        }
        data = await self.execute(documents.load("confirm_inventory_units"), variables, "ConfirmInventoryUnits")
        return self._parsed(parse_answer_result, data, "ConfirmInventoryUnits")

    async def set_tracking(self, shipment_id: str, code: str, provider: str) -> TrackingResult:
        """Set a shipment's tracking number and carrier with ``setShipmentTracking``."""
        variables = {"input": {"shipmentId": shipment_id, "code": code, "provider": provider}}
        data = await self.execute(documents.load("set_shipment_tracking"), variables, "SetShipmentTracking")
        return self._parsed(parse_tracking_result, data, "SetShipmentTracking")

    @staticmethod
    def _parsed(parse: Callable[[Any], Any], data: dict[str, Any], what: str) -> Any:
        try:
            return parse(data)
        except ParseError as exc:
            # The request did reach Letzshop: the caller must treat the outcome as unknown.
            raise MalformedResponseError(f"{what}: {exc}") from None

    async def find_shipment(
        self, shipment_id: str, states: tuple[str, ...] = ("unconfirmed", "confirmed")
    ) -> Shipment | None:
        """Read one shipment back by id, or None if Letzshop lists it under none of ``states``.

        Letzshop has no known query for a single shipment, so this pages through the lists;
        it runs only when an answer's outcome is unknown.
        """
        for state in states:
            async for page in self.iter_shipment_pages(state):
                for shipment in page.shipments:
                    if shipment.id == shipment_id:
                        return shipment
        return None


def _bad_node_indexes(exc: GraphQLResponseError) -> dict[int, str] | None:
    """Map node index -> message when every error points into ``shipments.nodes[i]``; else None."""
    bad: dict[int, str] = {}
    for detail in exc.errors:
        path = detail.path
        if len(path) >= 3 and path[0] == "shipments" and path[1] == "nodes" and isinstance(path[2], int):
            bad.setdefault(path[2], detail.message)
        else:
            return None
    return bad
