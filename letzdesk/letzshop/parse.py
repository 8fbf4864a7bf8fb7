"""Turn decoded GraphQL JSON into records, tolerating Letzshop's sparse data.

Input comes from ``json.loads(..., parse_float=Decimal)``, so amounts reach us as ``Decimal``
(or ``int`` or ``str``) and never pass through binary floating point. A node that cannot be
understood is reported in ``ShipmentPage.failed`` with the reason; it never stops the page.
"""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import MalformedResponseError
from .records import (
    Address,
    AnswerResult,
    InventoryUnit,
    MutationProblem,
    PageInfo,
    Shipment,
    ShipmentPage,
    TrackingResult,
)

logger = logging.getLogger(__name__)

CURRENCY = "EUR"  # Letzshop sells in euros; the API has no currency field.
LANGUAGES = ("en", "fr", "de")
_CENT = Decimal("0.01")
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d{1,2}$")


class ParseError(ValueError):
    """One field or node has a shape we cannot use."""


def dumps_raw(node: Any) -> str:
    """Compact JSON of a node as received (Decimal amounts written back as numbers).

    Keys keep the server's order, which GraphQL fixes to the query's field order, so the same
    data always gives the same text and hash.
    """
    return json.dumps(node, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A number when a float writes it back digit for digit (every real price); else its text,
        # so the audit copy never loses digits nor becomes non-JSON "Infinity".
        as_float = float(value)
        if math.isfinite(as_float) and Decimal(repr(as_float)) == value:
            return as_float
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def money_to_cents(value: Any) -> int | None:
    """Euros as number or text -> integer cents, rounding half up at the cent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError("amount is a boolean")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if not text:
            return None
        if _DECIMAL_COMMA.match(text):  # "24,90" is euros and cents; "1,234" is ambiguous and refused
            text = text.replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ParseError(f"amount {value[:40]!r} is not a number") from None
    else:
        raise ParseError(f"amount has type {type(value).__name__}")
    try:
        if not amount.is_finite() or abs(amount) >= 10**12:
            raise ParseError("amount is not a finite number in range")
        return int((amount.quantize(_CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())
    except ArithmeticError:  # decimal.Overflow and friends for absurd exponents
        raise ParseError("amount is out of range") from None


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 text -> aware UTC. Text without an offset is taken as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ParseError(f"timestamp has type {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ParseError(f"timestamp {value[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ParseError(f"timestamp {value[:40]!r} is out of range") from None


def _text(value: Any, what: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise ParseError(f"{what} has type {type(value).__name__}")


def _object(value: Any, what: str) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    raise ParseError(f"{what} is not an object")


def parse_address(value: Any) -> Address | None:
    data = _object(value, "address")
    if data is None:
        return None
    country = _object(data.get("country"), "address country") or {}
    return Address(
        first_name=_text(data.get("firstName"), "firstName"),
        last_name=_text(data.get("lastName"), "lastName"),
        company=_text(data.get("company"), "company"),
        street_name=_text(data.get("streetName"), "streetName"),
        street_number=_text(data.get("streetNumber"), "streetNumber"),
        city=_text(data.get("city"), "city"),
        zip_code=_text(data.get("zipCode"), "zipCode"),
        phone=_text(data.get("phone"), "phone"),
        country_name=_text(country.get("name"), "country name"),
        country_iso=_text(country.get("iso"), "country iso"),
    )


def pick_name(names: dict[str, str], locale: str | None) -> str | None:
    """The product name in the customer's language, else English, French, German, else any."""
    if locale and names.get(locale):
        return names[locale]
    for lang in LANGUAGES:
        if names.get(lang):
            return names[lang]
    return next((name for name in names.values() if name), None)


def parse_unit(value: Any, locale: str | None) -> InventoryUnit:
    data = _object(value, "inventory unit")
    if data is None:
        raise ParseError("inventory unit is null")
    unit_id = _text(data.get("id"), "inventory unit id")
    if not unit_id:
        raise ParseError("inventory unit has no id")
    variant = _object(data.get("variant"), "variant")
    if variant is None:
        return InventoryUnit(id=unit_id, state=_text(data.get("state"), "unit state"))

    trade = _object(variant.get("tradeId"), "tradeId") or {}
    product = _object(variant.get("product"), "product") or {}
    raw_names = _object(product.get("name"), "product name") or {}
    names = {lang: text for lang, text in raw_names.items() if isinstance(text, str) and text}
    brand = _object(product.get("_brand"), "brand") or {}
    return InventoryUnit(
        id=unit_id,
        state=_text(data.get("state"), "unit state"),
        variant_id=_text(variant.get("id"), "variant id"),
        sku=_text(variant.get("sku"), "sku"),
        mpn=_text(variant.get("mpn"), "mpn"),
        gtin=_text(trade.get("number"), "tradeId number"),
        gtin_kind=_text(trade.get("parser"), "tradeId parser"),
        name=pick_name(names, locale),
        names=names,
        brand=_text(brand.get("name"), "brand name"),
        price_cents=money_to_cents(variant.get("price")),
    )


def parse_shipment(value: Any) -> Shipment:
    data = _object(value, "shipment")
    if data is None:
        raise ParseError("shipment is null")
    shipment_id = _text(data.get("id"), "shipment id")
    if not shipment_id:
        raise ParseError("shipment has no id")

    order = _object(data.get("order"), "order") or {}
    locale = _text(order.get("locale"), "locale")
    units_raw = data.get("inventoryUnits")
    if units_raw is None:
        units_raw = []
    if not isinstance(units_raw, list):
        raise ParseError("inventoryUnits is not a list")
    tracking = _object(data.get("tracking"), "tracking") or {}
    return Shipment(
        id=shipment_id,
        number=_text(data.get("number"), "shipment number"),
        state=_text(data.get("state"), "shipment state"),
        order_id=_text(order.get("id"), "order id"),
        order_number=_text(order.get("number"), "order number"),
        email=_text(order.get("email"), "email"),
        total_cents=money_to_cents(order.get("total")),
        currency=CURRENCY,
        completed_at=parse_timestamp(order.get("completedAt")),
        locale=locale,
        ship_address=parse_address(order.get("shipAddress")),
        bill_address=parse_address(order.get("billAddress")),
        units=tuple(parse_unit(unit, locale) for unit in units_raw),
        tracking_code=_text(tracking.get("code"), "tracking code"),
        tracking_provider=_text(tracking.get("provider"), "tracking provider"),
        raw=data,
    )


def parse_shipments_page(data: Any, bad_nodes: dict[int, str] | None = None) -> ShipmentPage:
    """Parse ``data`` of the Shipments query. Raises MalformedResponseError if the page itself is unusable.

    ``bad_nodes`` maps node indexes that the server reported errors for to the message.
    """
    if not isinstance(data, dict) or not isinstance(data.get("shipments"), dict):
        raise MalformedResponseError("response has no shipments connection")
    connection = data["shipments"]
    nodes = connection.get("nodes")
    if not isinstance(nodes, list):
        raise MalformedResponseError("shipments connection has no list of nodes")

    info = connection.get("pageInfo")
    if info is None:
        page_info = PageInfo(has_next_page=False, end_cursor=None)
    elif isinstance(info, dict) and isinstance(info.get("hasNextPage", False), bool):
        cursor = info.get("endCursor")
        if cursor is not None and not isinstance(cursor, str):
            raise MalformedResponseError("pageInfo.endCursor is not text")
        page_info = PageInfo(has_next_page=bool(info.get("hasNextPage")), end_cursor=cursor)
    else:
        raise MalformedResponseError("pageInfo is not an object with a boolean hasNextPage")

    shipments: list[Shipment] = []
    failed: list[tuple[str | None, str]] = []
    bad_nodes = bad_nodes or {}
    for index, node in enumerate(nodes):
        node_id = node.get("id") if isinstance(node, dict) and isinstance(node.get("id"), str) else None
        if index in bad_nodes:
            failed.append((node_id, bad_nodes[index]))
            continue
        try:
            shipments.append(parse_shipment(node))
        except ParseError as exc:
            logger.warning("Skipping shipment %s: %s", node_id or f"#{index}", exc)
            failed.append((node_id, str(exc)))
    return ShipmentPage(tuple(shipments), page_info, tuple(failed))


def parse_problems(value: Any) -> tuple[MutationProblem, ...]:
    """A payload's ``errors`` list; null or missing means none."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ParseError("the payload's errors is not a list")
    problems = []
    for item in value:
        if not isinstance(item, dict):
            raise ParseError("an entry of the payload's errors is not an object")
        message = item.get("message")
        problems.append(
            MutationProblem(
                message=str(message)[:500] if message else "Letzshop refused this without saying why.",
                code=_text(item.get("code"), "error code"),
                id=_text(item.get("id"), "error id"),
            )
        )
    return tuple(problems)


def parse_answer_result(data: Any) -> AnswerResult:
    payload = _object(data.get("confirmInventoryUnits") if isinstance(data, dict) else None, "payload")
    if payload is None:
        raise ParseError("confirmInventoryUnits returned no payload")
    units = payload.get("inventoryUnits") or []
    if not isinstance(units, list):
        raise ParseError("confirmInventoryUnits: inventoryUnits is not a list")
    states: dict[str, str | None] = {}
    for unit in units:
        unit = _object(unit, "inventory unit")
        unit_id = _text(unit.get("id") if unit else None, "unit id")
        if unit is None or unit_id is None:
            raise ParseError("confirmInventoryUnits: a unit without an id")
        states[unit_id] = _text(unit.get("state"), "unit state")
    return AnswerResult(states, parse_problems(payload.get("errors")))


def parse_tracking_result(data: Any) -> TrackingResult:
    payload = _object(data.get("setShipmentTracking") if isinstance(data, dict) else None, "payload")
    if payload is None:
        raise ParseError("setShipmentTracking returned no payload")
    shipment = _object(payload.get("shipment"), "shipment") or {}
    tracking = _object(shipment.get("tracking"), "tracking") or {}
    return TrackingResult(
        shipment_state=_text(shipment.get("state"), "shipment state"),
        code=_text(tracking.get("code"), "tracking code"),
        provider=_text(tracking.get("provider"), "tracking provider"),
        problems=parse_problems(payload.get("errors")),
    )
