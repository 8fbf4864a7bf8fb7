"""parse.py turns Letzshop's JSON into records: the fact sheet example, money, timestamps, sparse data."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from letzdesk.letzshop.errors import MalformedResponseError
from letzdesk.letzshop.parse import (
    ParseError,
    dumps_raw,
    money_to_cents,
    parse_shipment,
    parse_shipments_page,
    parse_timestamp,
    pick_name,
)
from letzdesk.letzshop.records import Address, PageInfo, Shipment

DATA = Path(__file__).resolve().parent.parent / "data"


def load_json(name: str) -> Any:
    """A recorded reply decoded the way the client decodes it (amounts as Decimal, never float)."""
    return json.loads((DATA / name).read_text(encoding="utf-8"), parse_float=Decimal)


def factsheet_data() -> dict:
    return load_json("factsheet_shipments.json")["data"]


def factsheet_node() -> dict:
    return copy.deepcopy(factsheet_data()["shipments"]["nodes"][0])


def page_of(*nodes: Any, page_info: Any = None) -> dict:
    connection: dict[str, Any] = {"nodes": list(nodes)}
    if page_info is not None:
        connection["pageInfo"] = page_info
    return {"shipments": connection}


def only_shipment(node: Any) -> Shipment:
    page = parse_shipments_page(page_of(node))
    assert page.failed == ()
    (shipment,) = page.shipments
    return shipment


# --- the fact sheet example -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fact() -> Shipment:
    page = parse_shipments_page(factsheet_data())
    assert page.failed == ()
    (shipment,) = page.shipments
    return shipment


def test_factsheet_shipment_identity(fact):
    assert fact.id == "U2hpcG1lbnQtNTUwMTIz"
    assert fact.number == "H48213377905"
    assert fact.state == "unconfirmed"
    assert fact.order_id == "T3JkZXItOTkwMTQ1"
    assert fact.order_number == "R532918304"
    assert fact.email == "anne.schmit@example.lu"
    assert fact.locale == "fr"


def test_factsheet_total_is_integer_cents_in_euros(fact):
    assert fact.total_cents == 7470
    assert type(fact.total_cents) is int
    assert fact.currency == "EUR"


def test_factsheet_completed_at_is_aware_utc(fact):
    assert fact.completed_at == datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)
    assert fact.completed_at.tzinfo == UTC
    assert (fact.completed_at.hour, fact.completed_at.minute, fact.completed_at.second) == (8, 41, 27)


def test_factsheet_units_carry_french_name_gtin_brand_and_price(fact):
    assert len(fact.units) == 3
    mug = fact.units[0]
    assert mug.id == "SW52ZW50b3J5VW5pdC0xMDAx"
    assert mug.state == "unconfirmed"
    assert mug.variant_id == "VmFyaWFudC03NzAx"
    assert mug.sku == "MUG-LUX-350"
    assert mug.mpn == "ML350-W"
    assert mug.name == "Tasse Luxembourg 350 ml"
    assert mug.names == {"en": "Luxembourg mug 350 ml", "fr": "Tasse Luxembourg 350 ml", "de": "Luxemburg-Tasse 350 ml"}
    assert mug.gtin == "5412345678908"
    assert mug.gtin_kind == "gtin13"
    assert mug.brand == "Lëtzebuerger Keramik"
    assert mug.price_cents == 2490


def test_factsheet_unknown_brand_and_missing_mpn_become_none(fact):
    tote = fact.units[2]
    assert tote.name == "Sac cabas en toile"
    assert tote.gtin == "4006381333931"
    assert tote.brand is None
    assert tote.mpn is None


def test_factsheet_lines_group_the_two_mug_units_into_quantity_two(fact):
    lines = fact.lines()
    assert [(line.variant_id, line.quantity) for line in lines] == [("VmFyaWFudC03NzAx", 2), ("VmFyaWFudC04ODEy", 1)]
    assert lines[0].unit.name == "Tasse Luxembourg 350 ml"
    assert [line.total_cents for line in lines] == [4980, 2490]


def test_factsheet_addresses(fact):
    ship, bill = fact.ship_address, fact.bill_address
    assert ship.company is None
    assert bill.company == "Schmit Sàrl"
    for address in (ship, bill):
        assert address.full_name == "Anne Schmit"
        assert (address.street_name, address.street_number) == ("Rue de la Gare", "12")
        assert (address.zip_code, address.city) == ("4131", "Esch-sur-Alzette")
        assert address.phone == "+352 621 000 111"
        assert (address.country_name, address.country_iso) == ("Luxembourg", "LU")
    assert fact.customer_name == "Anne Schmit"


def test_factsheet_without_page_info_has_no_next_page():
    page = parse_shipments_page(factsheet_data())
    assert page.page_info == PageInfo(has_next_page=False, end_cursor=None)


def test_factsheet_shipment_keeps_the_raw_node_and_no_tracking(fact):
    assert fact.raw == factsheet_node()
    assert (fact.tracking_code, fact.tracking_provider) == (None, None)


def test_dumps_raw_round_trips_the_factsheet_node_exactly():
    node = factsheet_node()
    assert json.loads(dumps_raw(node), parse_float=Decimal) == node


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-JSON constant {constant}")

    return json.loads(text, parse_float=Decimal, parse_constant=refuse)


@pytest.mark.parametrize(
    "amount", ["12345678901234567.89", "0.1000000000000000055511151231257827", "1E+1000000", "74.7", "24.90"]
)
def test_dumps_raw_keeps_every_digit_of_an_amount_as_strict_json(amount):
    written = _strict_json(dumps_raw({"order": {"total": Decimal(amount)}}))["order"]["total"]
    assert Decimal(str(written)) == Decimal(amount)


def test_address_lines_prefix_foreign_postcodes_only():
    lu = Address(
        first_name="Anne",
        last_name="Schmit",
        street_name="Rue de la Gare",
        street_number="12",
        zip_code="4131",
        city="Esch-sur-Alzette",
        country_name="Luxembourg",
        country_iso="LU",
    )
    fr = Address(first_name="Jean", zip_code="57000", city="Metz", country_iso="FR")
    assert lu.lines() == ["Anne Schmit", "12 Rue de la Gare", "4131 Esch-sur-Alzette", "Luxembourg"]
    assert "FR-57000 Metz" in fr.lines()


# --- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (Decimal("74.7"), 7470),
        (Decimal("24.9"), 2490),
        (24, 2400),
        (0, 0),
        ("24.90", 2490),
        ("24,90", 2490),
        (" 24.90 ", 2490),
        ("1\u00a0234,50", 123450),
        ("0.005", 1),
        ("0.004", 0),
        ("0.025", 3),  # half up, not half even
        ("2.675", 268),  # float(2.675) is 2.67499…, which would give 267
        (Decimal("2.675"), 268),
        ("12345678.99", 1234567899),
        ("123456789012.34", 12345678901234),
        (Decimal("0.1") + Decimal("0.2"), 30),
        (Decimal("1.10") + Decimal("2.20") + Decimal("3.30"), 660),
        (None, None),
    ],
)
def test_money_to_cents(value, cents):
    result = money_to_cents(value)
    assert result == cents
    assert result is None or type(result) is int


def test_money_from_json_number_never_goes_through_float():
    decoded = json.loads('{"a": 2.675, "b": 12345678.99, "c": 0.1}', parse_float=Decimal)
    assert [money_to_cents(decoded[k]) for k in "abc"] == [268, 1234567899, 10]


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "24.90 EUR",
        "1,234.56",
        "1,234",
        True,
        False,
        [],
        {},
        [24.9],
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "sNaN",
        float("nan"),
        float("inf"),
        24.9,  # a float only arises from JSON NaN/Infinity or a caller bypassing Decimal
        Decimal("NaN"),
        Decimal("Infinity"),
        10**12,
        "1e12",
        Decimal("-1e15"),
    ],
)
def test_money_to_cents_rejects_bad_amounts(value):
    with pytest.raises(ParseError):
        money_to_cents(value)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_amount_is_missing_not_an_error(value):
    assert money_to_cents(value) is None


@pytest.mark.parametrize("value", [Decimal("1E+1000000"), "1e1000000", Decimal("-1E+1000000")])
def test_money_to_cents_rejects_huge_exponent_with_parse_error(value):
    with pytest.raises(ParseError):
        money_to_cents(value)


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-16T08:41:27Z", datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)),
        ("2025-12-16T09:41:27+01:00", datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)),
        ("2025-12-16T03:41:27-05:00", datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)),
        ("2025-12-16T00:30:00+02:00", datetime(2025, 12, 15, 22, 30, tzinfo=UTC)),
        ("2025-12-16T09:41:27.250+01:00", datetime(2025, 12, 16, 8, 41, 27, 250000, tzinfo=UTC)),
        ("2025-12-16T08:41:27", datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)),
        (" 2025-12-16T08:41:27Z ", datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_gives_aware_utc(text, expected):
    moment = parse_timestamp(text)
    assert moment == expected
    assert moment.utcoffset().total_seconds() == 0


@pytest.fixture
def luxembourg_local_time(monkeypatch):
    """Run with the machine's local zone at UTC+1, as on a vendor's PC in Luxembourg in winter."""
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_naive_timestamp_is_utc_whatever_the_local_zone(luxembourg_local_time):
    assert time.localtime(0).tm_hour == 1  # the fixture took effect
    assert parse_timestamp("2025-12-16T08:41:27") == datetime(2025, 12, 16, 8, 41, 27, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, ""])
def test_parse_timestamp_absent_is_none(value):
    assert parse_timestamp(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2025-13-01T00:00:00",
        "2025-12-16T25:00:00Z",
        "16/12/2025 09:41",
        "   ",
        1765874487,
        Decimal("1765874487.5"),
        True,
        [],
        {},
    ],
)
def test_parse_timestamp_rejects_garbage(value):
    with pytest.raises(ParseError):
        parse_timestamp(value)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_parse_timestamp_out_of_range_raises_parse_error(text):
    with pytest.raises(ParseError):
        parse_timestamp(text)


@pytest.mark.parametrize("order", [{"total": Decimal("1E+1000000")}, {"completedAt": "0001-01-01T00:00:00+01:00"}])
def test_node_with_out_of_range_value_goes_to_failed_and_page_survives(order):
    page = parse_shipments_page(page_of({"id": "bad", "order": order}, {"id": "good"}))
    assert [s.id for s in page.shipments] == ["good"]
    assert [node_id for node_id, _ in page.failed] == ["bad"]


# --- product names -------------------------------------------------------------------------

NAMES = {"en": "Mug", "fr": "Tasse", "de": "Tasse (de)"}


@pytest.mark.parametrize(
    ("names", "locale", "expected"),
    [
        (NAMES, "fr", "Tasse"),
        (NAMES, "de", "Tasse (de)"),
        (NAMES, "en", "Mug"),
        (NAMES, "lb", "Mug"),
        (NAMES, None, "Mug"),
        ({"fr": "Tasse", "de": "Tasse (de)"}, "lb", "Tasse"),
        ({"fr": "Tasse", "de": "Tasse (de)"}, None, "Tasse"),
        ({"de": "Tasse (de)"}, "en", "Tasse (de)"),
        ({"en": "", "fr": "Tasse"}, "en", "Tasse"),
        ({"lb": "Taass"}, "fr", "Taass"),
        ({}, "fr", None),
        ({"en": "", "fr": ""}, "fr", None),
    ],
)
def test_pick_name_falls_back_en_fr_de(names, locale, expected):
    assert pick_name(names, locale) == expected


def _set_names(node: dict, names: Any, locale: Any = "fr") -> dict:
    node["order"]["locale"] = locale
    for unit in node["inventoryUnits"]:
        unit["variant"]["product"]["name"] = copy.deepcopy(names)
    return node


@pytest.mark.parametrize(
    ("names", "locale", "expected"),
    [
        ({"en": "Mug", "fr": None, "de": "Tasse"}, "fr", "Mug"),
        ({"en": None, "fr": "Tasse", "de": "Tasse (de)"}, "lb", "Tasse"),
        ({"en": None, "fr": None, "de": "Tasse (de)"}, None, "Tasse (de)"),
        ({"en": None, "fr": None, "de": None}, "fr", None),
        (None, "fr", None),
    ],
)
def test_unit_name_follows_order_locale_with_fallbacks(names, locale, expected):
    shipment = only_shipment(_set_names(factsheet_node(), names, locale))
    assert [unit.name for unit in shipment.units] == [expected] * 3


# --- sparse data ---------------------------------------------------------------------------


def _unit(node: dict, i: int = 0) -> dict:
    return node["inventoryUnits"][i]


def _variant(node: dict, i: int = 0) -> dict:
    return _unit(node, i)["variant"]


Mutation = Callable[[dict], None]
Check = Callable[[Shipment], bool]

SPARSE: dict[str, tuple[Mutation, Check]] = {
    "ship company null": (
        lambda n: n["order"]["shipAddress"].update(company=None),
        lambda s: s.ship_address.company is None,
    ),
    "bill company absent": (
        lambda n: n["order"]["billAddress"].pop("company"),
        lambda s: s.bill_address.company is None,
    ),
    "phone null": (lambda n: n["order"]["shipAddress"].update(phone=None), lambda s: s.ship_address.phone is None),
    "country null": (
        lambda n: n["order"]["shipAddress"].update(country=None),
        lambda s: s.ship_address.country_iso is None and s.ship_address.country_name is None,
    ),
    "mpn null": (lambda n: _variant(n).update(mpn=None), lambda s: s.units[0].mpn is None),
    "sku null": (lambda n: _variant(n).update(sku=None), lambda s: s.units[0].sku is None),
    "price null": (lambda n: _variant(n).update(price=None), lambda s: s.units[0].price_cents is None),
    "tradeId null": (
        lambda n: _variant(n).update(tradeId=None),
        lambda s: s.units[0].gtin is None and s.units[0].gtin_kind is None,
    ),
    "billAddress null": (lambda n: n["order"].update(billAddress=None), lambda s: s.bill_address is None),
    "shipAddress null": (
        lambda n: n["order"].update(shipAddress=None),
        lambda s: s.ship_address is None and s.customer_name == "Anne Schmit",
    ),
    "both addresses null": (
        lambda n: n["order"].update(shipAddress=None, billAddress=None),
        lambda s: s.customer_name == "anne.schmit@example.lu",
    ),
    "variant null": (
        lambda n: _unit(n).update(variant=None),
        lambda s: s.units[0].variant_id is None and s.units[0].id == "SW52ZW50b3J5VW5pdC0xMDAx",
    ),
    "product null": (
        lambda n: _variant(n).update(product=None),
        lambda s: s.units[0].name is None and s.units[0].brand is None and s.units[0].names == {},
    ),
    "_brand null": (lambda n: _variant(n)["product"].update(_brand=None), lambda s: s.units[0].brand is None),
    "tracking null": (lambda n: n.update(tracking=None), lambda s: s.tracking_code is None),
    "tracking with null fields": (
        lambda n: n.update(tracking={"code": None, "provider": None}),
        lambda s: (s.tracking_code, s.tracking_provider) == (None, None),
    ),
    "tracking set": (
        lambda n: n.update(tracking={"code": "LU123456789", "provider": "post"}),
        lambda s: (s.tracking_code, s.tracking_provider) == ("LU123456789", "post"),
    ),
    "order null": (
        lambda n: n.update(order=None),
        lambda s: s.order_number is None and s.total_cents is None and s.units[0].name == "Luxembourg mug 350 ml",
    ),
    "completedAt null": (lambda n: n["order"].update(completedAt=None), lambda s: s.completed_at is None),
    "total as string": (lambda n: n["order"].update(total="74,70"), lambda s: s.total_cents == 7470),
    "inventoryUnits null": (lambda n: n.update(inventoryUnits=None), lambda s: s.units == () and s.lines() == []),
    "inventoryUnits empty": (lambda n: n.update(inventoryUnits=[]), lambda s: s.units == ()),
    "only id": (
        lambda n: [n.pop(k) for k in list(n) if k != "id"],
        lambda s: s.id == "U2hpcG1lbnQtNTUwMTIz" and s.number is None and s.units == (),
    ),
}


@pytest.mark.parametrize("case", list(SPARSE))
def test_missing_optional_field_still_gives_a_shipment(case):
    mutate, check = SPARSE[case]
    node = factsheet_node()
    mutate(node)
    shipment = only_shipment(node)
    assert check(shipment)


def test_units_without_variant_are_separate_lines():
    node = factsheet_node()
    _unit(node, 0)["variant"] = None
    _unit(node, 1)["variant"] = None
    quantities = [(line.variant_id, line.quantity) for line in only_shipment(node).lines()]
    assert quantities == [(None, 1), (None, 1), ("VmFyaWFudC04ODEy", 1)]


BAD_NODES: dict[str, tuple[Any, str | None, str]] = {
    # case: (node, id reported in failed, word expected in the reason)
    "no id": ({"number": "H1", "order": {}}, None, "id"),
    "empty id": ({"id": "", "number": "H1"}, "", "id"),
    "id is a list": ({"id": ["x"]}, None, "id"),
    "units not a list": ({"id": "S-units", "inventoryUnits": {"id": "u"}}, "S-units", "inventoryUnits"),
    "unit without id": ({"id": "S-unit", "inventoryUnits": [{"state": "unconfirmed"}]}, "S-unit", "id"),
    "unit null": ({"id": "S-null-unit", "inventoryUnits": [None]}, "S-null-unit", "null"),
    "bad total": ({"id": "S-total", "order": {"total": "abc"}}, "S-total", "amount"),
    "bad timestamp": ({"id": "S-time", "order": {"completedAt": "soon"}}, "S-time", "timestamp"),
    "order is text": ({"id": "S-order", "order": "R1"}, "S-order", "order"),
    "node null": (None, None, "null"),
    "node is text": ("U2hpcG1lbnQ", None, "object"),
}


@pytest.mark.parametrize("case", list(BAD_NODES))
def test_bad_node_goes_to_failed_with_reason_and_others_survive(case):
    bad, expected_id, word = BAD_NODES[case]
    good = factsheet_node()
    other = {"id": "S-other"}
    page = parse_shipments_page(page_of(good, bad, other))
    assert [s.id for s in page.shipments] == ["U2hpcG1lbnQtNTUwMTIz", "S-other"]
    ((failed_id, reason),) = page.failed
    assert failed_id == expected_id
    assert word.lower() in reason.lower()


def test_nodes_reported_bad_by_the_server_are_skipped_with_its_message():
    page = parse_shipments_page(page_of({"id": "a"}, {"id": "b"}, {"id": "c"}), {1: "Internal error on total"})
    assert [s.id for s in page.shipments] == ["a", "c"]
    assert page.failed == (("b", "Internal error on total"),)


def test_parse_shipment_of_a_null_node_raises_parse_error():
    with pytest.raises(ParseError):
        parse_shipment(None)


# --- the page itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (None, PageInfo(False, None)),
        ({}, PageInfo(False, None)),
        ({"hasNextPage": True, "endCursor": "Mg"}, PageInfo(True, "Mg")),
        ({"hasNextPage": False, "endCursor": "Mg"}, PageInfo(False, "Mg")),
        ({"hasNextPage": False, "endCursor": None}, PageInfo(False, None)),
    ],
)
def test_page_info(info, expected):
    assert parse_shipments_page(page_of(page_info=info) if info is not None else page_of()).page_info == expected


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "data",
        {},
        {"shipments": None},
        {"shipments": []},
        {"shipments": {}},
        {"shipments": {"nodes": None}},
        {"shipments": {"nodes": {"0": {"id": "a"}}}},
        page_of(page_info="yes"),
        page_of(page_info=[]),
        page_of(page_info={"hasNextPage": "true"}),
        page_of(page_info={"hasNextPage": 1}),
        page_of(page_info={"hasNextPage": True, "endCursor": 5}),
        page_of(page_info={"hasNextPage": True, "endCursor": {"c": "x"}}),
    ],
)
def test_unusable_page_raises_malformed_response(data):
    with pytest.raises(MalformedResponseError):
        parse_shipments_page(data)


def test_empty_page_is_fine():
    page = parse_shipments_page(page_of(page_info={"hasNextPage": False, "endCursor": None}))
    assert (page.shipments, page.failed) == ((), ())
