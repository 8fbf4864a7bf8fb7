"""Property tests: whatever Letzshop sends, the parser and the client fail only in their typed ways."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import math
import re
import zlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from letzdesk.letzshop.client import LetzshopClient
from letzdesk.letzshop.errors import LetzshopError, MalformedResponseError, RateLimitedError
from letzdesk.letzshop.parse import parse_shipments_page
from letzdesk.letzshop.records import Shipment, ShipmentPage
from letzdesk.letzshop.retry import RetryPolicy

ENDPOINT = "https://letzshop.test/graphql"
KEY = "test-key-not-real"
FACTSHEET = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "factsheet_shipments.json").read_text(encoding="utf-8"),
    parse_float=Decimal,
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- strategies ----------------------------------------------------------------------------


def _decimals() -> st.SearchStrategy[Decimal]:
    ordinary = st.decimals(allow_nan=False, allow_infinity=False, places=None)
    # Exponents near and past the decimal context's limits (Emax 999999) once escaped as decimal.Overflow.
    exponents = st.one_of(
        st.integers(-30, 30),
        st.integers(999_990, 1_000_010),
        st.integers(-1_000_010, -999_990),
        st.integers(-2_000_000, 2_000_000),
    )
    scientific = st.builds(lambda m, e: Decimal(f"{m}E{e}"), st.integers(-999, 999), exponents)
    return st.one_of(ordinary, scientific)


def _timestamps() -> st.SearchStrategy[str]:
    """ISO 8601 text across the whole datetime range; at its ends an offset once overflowed astimezone(UTC)."""
    offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
    moments = st.one_of(
        st.datetimes(), st.datetimes(max_value=datetime(1, 1, 2)), st.datetimes(min_value=datetime(9999, 12, 30))
    )
    aware = st.builds(lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(), moments, offsets)
    naive = moments.map(datetime.isoformat)
    zulu = moments.map(lambda m: m.isoformat() + "Z")
    return st.one_of(aware, naive, zulu)


DECIMALS = _decimals()
TIMESTAMPS = _timestamps()
MONEY_TEXTS = st.one_of(
    DECIMALS.map(str),
    DECIMALS.map(lambda d: str(d).replace(".", ",")),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "sNaN", "", " ", "1,234.56", "24.90 EUR", "0x10", "1_0"]),
)
#: Every scalar json.loads(..., parse_float=Decimal) can produce, plus field-shaped text.
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    DECIMALS,
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),  # JSON NaN / Infinity literals
    st.text(max_size=20),
    TIMESTAMPS,
    MONEY_TEXTS,
    st.sampled_from(["en", "fr", "de", "lb", "gtin13", "unconfirmed", "Brand", "id", "nodes"]),
)
_KEYS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "id",
            "nodes",
            "shipments",
            "pageInfo",
            "hasNextPage",
            "endCursor",
            "order",
            "total",
            "inventoryUnits",
            "variant",
            "product",
            "name",
            "_brand",
            "tradeId",
            "price",
            "completedAt",
            "locale",
            "tracking",
        ]
    ),
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _base_data() -> dict:
    data = copy.deepcopy(FACTSHEET["data"])
    data["shipments"]["pageInfo"] = {"hasNextPage": True, "endCursor": "Y3Vyc29yOjE"}
    node = data["shipments"]["nodes"][0]
    data["shipments"]["nodes"].append(copy.deepcopy(node) | {"id": "U2hpcG1lbnQtNTUwMTI0"})
    return data


BASE = _base_data()
REPLACEMENTS = st.one_of(LEAVES, JSON_VALUES)
#: Values shaped for one field, so that amounts and timestamps get their edge cases where they are parsed.
TYPED_REPLACEMENTS = {
    key: st.one_of(values, REPLACEMENTS)
    for key, values in {
        "total": st.one_of(DECIMALS, MONEY_TEXTS, st.integers()),
        "price": st.one_of(DECIMALS, MONEY_TEXTS, st.integers()),
        "completedAt": TIMESTAMPS,
        "hasNextPage": st.one_of(st.booleans(), st.none()),
        "endCursor": st.one_of(st.text(max_size=10), st.none(), st.integers()),
        "locale": st.sampled_from(["en", "fr", "de", "lb", "", "FR"]),
        "parser": st.sampled_from(["gtin13", "gtin8", "isbn10", "ean", ""]),
    }.items()
}
_ALL_PATHS = _paths(BASE)
BASE_PATHS = st.one_of(
    st.sampled_from(_ALL_PATHS), st.sampled_from([p for p in _ALL_PATHS if p[-1] in TYPED_REPLACEMENTS])
)
ACTIONS = st.sampled_from(["replace", "replace", "replace", "delete", "append"])


def _apply(data: dict, path: tuple, action: str, value: Any) -> None:
    parent: Any = data
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation removed this branch
    last = path[-1]
    if not isinstance(parent, dict | list):
        return
    if isinstance(parent, list) and not (isinstance(last, int) and last < len(parent)):
        return
    if action == "delete":
        if isinstance(parent, dict):
            parent.pop(last, None)
        else:
            del parent[last]
    elif action == "append" and isinstance(parent, list):
        parent.append(value)
    else:
        parent[last] = value


@st.composite
def mutated_factsheets(draw: st.DrawFn) -> dict:
    """The fact sheet reply (two shipments, paged) with 1–6 random subtrees replaced, deleted or added to."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 6))):
        path = draw(BASE_PATHS)
        _apply(data, path, draw(ACTIONS), draw(TYPED_REPLACEMENTS.get(path[-1], REPLACEMENTS)))
    return data


# --- checks --------------------------------------------------------------------------------


def _check_shipment(shipment: Shipment) -> None:
    assert isinstance(shipment.id, str) and shipment.id
    assert shipment.total_cents is None or type(shipment.total_cents) is int
    assert shipment.completed_at is None or shipment.completed_at.utcoffset() == timedelta(0)
    assert shipment.currency == "EUR"
    for unit in shipment.units:
        assert isinstance(unit.id, str) and unit.id
        assert unit.price_cents is None or type(unit.price_cents) is int
        assert unit.name is None or isinstance(unit.name, str)
    assert sum(line.quantity for line in shipment.lines()) == len(shipment.units)


def parse_typed(data: Any, bad_nodes: dict[int, str] | None = None) -> ShipmentPage | None:
    """Parse; the only exception allowed is MalformedResponseError, and a page must account for every node."""
    try:
        page = parse_shipments_page(data, bad_nodes)
    except MalformedResponseError:
        return None
    assert len(page.shipments) + len(page.failed) == len(data["shipments"]["nodes"])
    assert isinstance(page.page_info.has_next_page, bool)
    assert page.page_info.end_cursor is None or isinstance(page.page_info.end_cursor, str)
    for shipment in page.shipments:
        _check_shipment(shipment)
    for node_id, reason in page.failed:
        assert node_id is None or isinstance(node_id, str)
        assert isinstance(reason, str) and reason
    return page


# --- the parser ----------------------------------------------------------------------------


@FUZZ
@given(JSON_VALUES)
def test_parser_survives_arbitrary_json(data):
    parse_typed(data)


@FUZZ
@given(st.lists(JSON_VALUES, max_size=4), st.one_of(st.none(), JSON_VALUES))
def test_parser_survives_arbitrary_nodes_in_a_real_connection(nodes, page_info):
    parse_typed({"shipments": {"nodes": nodes, "pageInfo": page_info}})


_TOTAL_OVERFLOW = {"shipments": {"nodes": [{"id": "a", "order": {"total": Decimal("1E+1000000")}}, {"id": "b"}]}}
_TIME_OVERFLOW = {"shipments": {"nodes": [{"id": "a", "order": {"completedAt": "0001-01-01T00:00:00+01:00"}}]}}


@FUZZ
@example(_TOTAL_OVERFLOW)  # once escaped as decimal.Overflow
@example(_TIME_OVERFLOW)  # once escaped as OverflowError from astimezone(UTC)
@given(mutated_factsheets())
def test_parser_survives_a_mutated_factsheet_reply(data):
    parse_typed(data)


@FUZZ
@given(mutated_factsheets(), st.dictionaries(st.integers(-2, 4), st.text(min_size=1, max_size=10), max_size=3))
def test_parser_survives_server_reported_bad_nodes(data, bad_nodes):
    page = parse_typed(data, bad_nodes)
    if page is not None:
        failed_ids = [node_id for node_id, _ in page.failed]
        nodes = data["shipments"]["nodes"]
        for index in bad_nodes:
            if 0 <= index < len(nodes) and isinstance(nodes[index], dict) and isinstance(nodes[index].get("id"), str):
                assert nodes[index]["id"] in failed_ids


def test_mutation_strategy_keeps_real_shipments_often():
    """Guard against a strategy so destructive that the parser's happy path is never exercised."""
    parsed = 0

    @settings(max_examples=100, deadline=None, database=None)
    @given(mutated_factsheets())
    def probe(data):
        nonlocal parsed
        page = parse_typed(data)
        parsed += bool(page and any(s.units for s in page.shipments))

    probe()
    assert parsed >= 20


# --- the client ----------------------------------------------------------------------------

STATUSES = st.one_of(
    st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503]), st.integers(100, 599)
)


def _error_entries() -> st.SearchStrategy[Any]:
    entry = st.fixed_dictionaries(
        {},
        optional={
            "message": st.one_of(
                st.text(max_size=40),
                JSON_VALUES,
                st.sampled_from(
                    ["Unauthorized", 'Cannot query field "foo" on type "Shipment"', "Internal server error"]
                ),
            ),
            "path": st.one_of(
                JSON_VALUES,
                st.lists(st.one_of(st.sampled_from(["shipments", "nodes"]), st.integers(-1, 3)), max_size=5),
            ),
            "extensions": st.one_of(
                JSON_VALUES,
                st.fixed_dictionaries(
                    {
                        "code": st.one_of(
                            JSON_VALUES,
                            st.sampled_from(
                                ["UNAUTHENTICATED", "GRAPHQL_VALIDATION_FAILED", "undefinedField", "INTERNAL"]
                            ),
                        )
                    }
                ),
            ),
        },
    )
    return st.one_of(st.lists(st.one_of(entry, JSON_VALUES), max_size=3), JSON_VALUES)


_NUMBER_MARK = re.compile(r'"\\u0000num:([^"]*)"')


def _json_bytes(value: Any) -> bytes:
    """JSON text with each Decimal written as a bare number, exactly as Letzshop would send it."""
    text = json.dumps(value, default=lambda d: f"\0num:{d}")
    return _NUMBER_MARK.sub(r"\1", text).encode()


BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(_json_bytes),
    st.fixed_dictionaries(
        {}, optional={"data": st.one_of(JSON_VALUES, mutated_factsheets()), "errors": _error_entries()}
    ).map(_json_bytes),
    mutated_factsheets().map(lambda data: _json_bytes({"data": data})),
)
RETRY_AFTER = st.one_of(
    st.none(),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "7", " 7 ", "0"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    st.integers(-10, 10**6).map(str),
    st.builds(
        lambda d, m, y, t: f"{d}, {m:02d} Jan {y} {t} GMT",
        st.sampled_from(["Mon", "Tue", "Xyz"]),
        st.integers(0, 40),
        st.integers(0, 99999),
        st.sampled_from(["00:00:00", "25:61:61", "12:00"]),
    ),
)


@pytest.fixture(scope="module")
def plain_client():
    client = LetzshopClient(ENDPOINT, KEY, retry=RetryPolicy(attempts=1))
    yield client
    asyncio.run(client.aclose())


def _response(status: int, retry_after: str | None) -> httpx.Response:
    return httpx.Response(status, headers={"Retry-After": retry_after} if retry_after is not None else {})


def _assert_typed(exc: LetzshopError) -> None:
    assert KEY not in str(exc)
    assert isinstance(exc.user_message, str) and exc.user_message


@FUZZ
@given(STATUSES, BODIES, RETRY_AFTER)
def test_data_from_raises_only_letzshop_errors(plain_client, status, body, retry_after):
    try:
        data = plain_client._data_from(_response(status, retry_after), body, "Fuzz")
    except LetzshopError as exc:
        _assert_typed(exc)
    else:
        assert isinstance(data, dict)


def _encoded(body: bytes, encoding: str | None, compress: bool) -> tuple[dict[str, str], bytes]:
    """The body with a Content-Encoding header; compressed for real, or (to fuzz broken replies) not."""
    if encoding is None:
        return {}, body
    if compress and encoding == "gzip":
        body = gzip.compress(body)
    elif compress and encoding == "deflate":
        body = zlib.compress(body)
    return {"Content-Encoding": encoding}, body


WIRE_BODIES = st.one_of(mutated_factsheets().map(lambda data: _json_bytes({"data": data})), BODIES)
ENCODINGS = st.one_of(st.none(), st.sampled_from(["gzip", "deflate", "identity", "x-unknown"]))


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.just(200), STATUSES), WIRE_BODIES, RETRY_AFTER, ENCODINGS, st.booleans())
def test_client_over_the_wire_returns_a_page_or_a_letzshop_error(status, body, retry_after, encoding, compress):
    headers, content = _encoded(body, encoding, compress)
    if retry_after is not None:
        headers["Retry-After"] = retry_after

    async def go() -> ShipmentPage | LetzshopError:
        async with LetzshopClient(ENDPOINT, KEY, retry=RetryPolicy(attempts=1)) as client:
            try:
                return await client.shipments_page("unconfirmed")
            except LetzshopError as exc:
                return exc

    with respx.mock() as router:
        # A stream, not content=: httpx decodes a Content-Encoding lazily, as it does for a real reply.
        response = httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))
        router.post(ENDPOINT).mock(return_value=response)
        outcome = asyncio.run(go())
    if isinstance(outcome, RateLimitedError):
        assert outcome.retry_after is None or 0 <= outcome.retry_after < math.inf
    if isinstance(outcome, LetzshopError):
        _assert_typed(outcome)
    else:
        assert isinstance(outcome, ShipmentPage)
        for shipment in outcome.shipments:
            _check_shipment(shipment)
