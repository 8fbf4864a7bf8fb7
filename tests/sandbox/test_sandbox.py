"""The sandbox must look like Letzshop to the app: realistic data, the real query, real HTTP.

Server tests talk to a live uvicorn on loopback with the query document the app sends, so they
catch schema drift, paging bugs and auth mistakes the way the app would meet them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest

import letzdesk
from letzdesk.sandbox import SandboxServer, generate_shipments
from letzdesk.sandbox.data import HISTORY_DAYS, REFERENCE_DATE
from letzdesk.sandbox.state import SandboxState, encode_cursor

KEY = "sandbox-test-key"
SHIPMENTS_QUERY = (files("letzdesk.letzshop") / "documents" / "shipments.graphql").read_text(encoding="utf-8")
FACT_SHEET_MUG = {
    "id": "VmFyaWFudC03NzAx",
    "sku": "MUG-LUX-350",
    "mpn": "ML350-W",
    "price": 24.9,
    "tradeId": {"number": "5412345678908", "parser": "gtin13"},
    "product": {
        "name": {"en": "Luxembourg mug 350 ml", "fr": "Tasse Luxembourg 350 ml", "de": "Luxemburg-Tasse 350 ml"},
        "_brand": {"name": "Lëtzebuerger Keramik"},
    },
}
FACT_SHEET_ADDRESS = {
    "firstName": "Anne",
    "lastName": "Schmit",
    "company": None,
    "streetName": "Rue de la Gare",
    "streetNumber": "12",
    "city": "Esch-sur-Alzette",
    "zipCode": "4131",
    "phone": "+352 621 000 111",
    "country": {"name": "Luxembourg", "iso": "LU"},
}
# The node of the fact sheet's example response (§7), as the app's query must receive it.
FACT_SHEET_NODE = {
    "id": "U2hpcG1lbnQtNTUwMTIz",
    "number": "H48213377905",
    "state": "unconfirmed",
    "order": {
        "id": "T3JkZXItOTkwMTQ1",
        "number": "R532918304",
        "email": "anne.schmit@example.lu",
        "total": 74.7,
        "completedAt": "2025-12-16T09:41:27+01:00",
        "locale": "fr",
        "shipAddress": FACT_SHEET_ADDRESS,
        "billAddress": {**FACT_SHEET_ADDRESS, "company": "Schmit Sàrl"},
    },
    "inventoryUnits": [
        {"id": "SW52ZW50b3J5VW5pdC0xMDAx", "state": "unconfirmed", "variant": FACT_SHEET_MUG},
        {"id": "SW52ZW50b3J5VW5pdC0xMDAy", "state": "unconfirmed", "variant": FACT_SHEET_MUG},
        {
            "id": "SW52ZW50b3J5VW5pdC0xMDAz",
            "state": "unconfirmed",
            "variant": {
                "id": "VmFyaWFudC04ODEy",
                "sku": "TOTE-NAT",
                "mpn": None,
                "price": 24.9,
                "tradeId": {"number": "4006381333931", "parser": "gtin13"},
                "product": {
                    "name": {"en": "Canvas tote bag", "fr": "Sac cabas en toile", "de": "Stofftasche"},
                    "_brand": {},
                },
            },
        },
    ],
    "tracking": None,
}


def _units(shipments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [unit for shipment in shipments for unit in shipment["inventoryUnits"]]


def _variants(shipments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [unit["variant"] for unit in _units(shipments) if unit["variant"] is not None]


def _query(client: httpx.Client, url: str, **variables: Any) -> dict[str, Any]:
    response = client.post(url, json={"query": SHIPMENTS_QUERY, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def shipments() -> list[dict[str, Any]]:
    return generate_shipments(500, 7)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(generate_shipments(40, 7), api_key=KEY, port=0) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as http:
        yield http


# --- data ------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_data_and_other_seed_differs() -> None:
    dump = json.dumps(generate_shipments(60, 3), ensure_ascii=False, sort_keys=True)

    assert json.dumps(generate_shipments(60, 3), ensure_ascii=False, sort_keys=True) == dump
    assert json.dumps(generate_shipments(60, 4), ensure_ascii=False, sort_keys=True) != dump
    assert generate_shipments(90, 3)[:60] == generate_shipments(60, 3)


def test_data_does_not_depend_on_hash_seed() -> None:
    script = (
        "import hashlib, json; from letzdesk.sandbox.data import generate_shipments; "
        "print(hashlib.sha256(json.dumps(generate_shipments(100, 5), sort_keys=True).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(letzdesk.__file__).resolve().parents[1]), "PYTHONHASHSEED": "1"}
    digest = hashlib.sha256(json.dumps(generate_shipments(100, 5), sort_keys=True).encode()).hexdigest()

    output = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    assert output.stdout.strip() == digest


def test_customers_are_from_the_greater_region_with_accents(shipments: list[dict[str, Any]]) -> None:
    addresses = [s["order"]["shipAddress"] for s in shipments]
    names = " ".join(a["firstName"] + " " + a["lastName"] for a in addresses)
    countries = {(a["country"]["iso"], a["country"]["name"]) for a in addresses}

    assert re.search(r"[ëéèüöäçô]", names)
    assert countries == {("LU", "Luxembourg"), ("FR", "France"), ("DE", "Germany"), ("BE", "Belgium")}
    assert Counter(a["country"]["iso"] for a in addresses).most_common(1)[0][0] == "LU"
    for address in addresses:
        digits = 5 if address["country"]["iso"] in ("FR", "DE") else 4
        assert re.fullmatch(rf"\d{{{digits}}}", address["zipCode"]), address
        assert address["streetName"] and address["streetNumber"][0].isdigit()


def test_emails_are_ascii_and_on_example_domains(shipments: list[dict[str, Any]]) -> None:
    for shipment in shipments:
        assert re.fullmatch(r"[a-z0-9.-]+@example\.(lu|fr|de)", shipment["order"]["email"]), shipment["order"]


def test_ids_and_numbers_look_like_letzshop(shipments: list[dict[str, Any]]) -> None:
    numbers = [s["number"] for s in shipments] + [s["order"]["number"] for s in shipments]

    assert all(
        re.fullmatch(r"H\d{11}", s["number"]) and re.fullmatch(r"R\d{9}", s["order"]["number"]) for s in shipments
    )
    assert len(set(numbers)) == len(numbers)
    assert base64.b64decode(shipments[0]["id"]).decode().startswith("Shipment-")
    assert base64.b64decode(shipments[0]["order"]["id"]).decode().startswith("Order-")
    assert len({u["id"] for u in _units(shipments)}) == len(_units(shipments))


def test_units_one_to_five_with_repeated_variants(shipments: list[dict[str, Any]]) -> None:
    counts = Counter(len(s["inventoryUnits"]) for s in shipments)
    repeated = [
        s
        for s in shipments
        if max(Counter(u["variant"]["id"] for u in s["inventoryUnits"] if u["variant"]).values(), default=0) > 1
    ]

    assert set(counts) == {1, 2, 3, 4, 5}
    assert len(repeated) > len(shipments) // 10
    assert all(u["state"] == "unconfirmed" for u in _units(shipments))
    assert all(s["state"] == "unconfirmed" and s["tracking"] is None for s in shipments)


def test_optional_fields_are_sometimes_missing(shipments: list[dict[str, Any]]) -> None:
    orders = [s["order"] for s in shipments]
    variants = _variants(shipments)

    def both(values: list[Any]) -> bool:
        return any(v is None for v in values) and any(v is not None for v in values)

    assert both([o["shipAddress"]["company"] for o in orders])
    assert both([o["shipAddress"]["phone"] for o in orders])
    assert both([o["billAddress"] for o in orders])
    assert both([u["variant"] for u in _units(shipments)])
    assert both([v["mpn"] for v in variants]) and both([v["tradeId"] for v in variants])
    assert any(None in v["product"]["name"].values() for v in variants)
    assert {v["product"]["_brand"]["__typename"] for v in variants} == {"Brand", "BrandUnknown"}
    assert {o["locale"] for o in orders} == {"en", "fr", "de"}


def test_gtins_have_valid_check_digits(shipments: list[dict[str, Any]]) -> None:
    lengths = {"gtin13": 13, "gtin12": 12, "gtin8": 8, "isbn13": 13}
    trade_ids = {json.dumps(v["tradeId"]) for v in _variants(shipments) if v["tradeId"]}

    for trade_id in map(json.loads, sorted(trade_ids)):
        number = trade_id["number"]
        weighted = sum(int(d) * (1 if i % 2 else 3) for i, d in enumerate(reversed(number[:-1])))
        assert len(number) == lengths[trade_id["parser"]]
        assert (weighted + int(number[-1])) % 10 == 0, trade_id
    assert {json.loads(t)["parser"] for t in trade_ids} == set(lengths)


def test_money_is_exact_and_totals_add_up(shipments: list[dict[str, Any]]) -> None:
    for shipment in shipments:
        order = shipment["order"]
        prices = [u["variant"]["priceCents"] for u in shipment["inventoryUnits"] if u["variant"]]
        assert order["totalCents"] == sum(prices)
        assert order["total"] == order["totalCents"] / 100
    assert all(v["price"] == v["priceCents"] / 100 for v in _variants(shipments))


def test_completed_at_is_recent_with_luxembourg_offsets(shipments: list[dict[str, Any]]) -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    luxembourg = zoneinfo.ZoneInfo("Europe/Luxembourg")
    stamps = [datetime.fromisoformat(s["order"]["completedAt"]) for s in shipments]
    reference = REFERENCE_DATE.replace(tzinfo=luxembourg)

    assert {stamp.strftime("%z") for stamp in stamps} == {"+0100", "+0200"}
    for stamp in stamps:
        assert reference - timedelta(days=HISTORY_DAYS + 1) < stamp < reference
        assert stamp.utcoffset() == stamp.replace(tzinfo=luxembourg).utcoffset()


def test_ten_thousand_shipments_generate_quickly() -> None:
    started = time.perf_counter()
    generated = generate_shipments(10_000, 11)

    assert len(generated) == 10_000
    assert time.perf_counter() - started < 2.0


def test_paging_is_linear_and_clamped() -> None:
    state = SandboxState(generate_shipments(10_000, 2))

    last = state.page(None, 500, encode_cursor(9_950))
    default = state.page("unconfirmed", None, None)

    assert len(last["nodes"]) == 50 and last["pageInfo"]["hasNextPage"] is False
    assert last["nodes"][-1] is state.shipments[-1]
    assert len(default["nodes"]) == 50 and len(state.page(None, 1_000, None)["nodes"]) == 100
    assert state.page("confirmed", 10, None)["nodes"] == []


# --- server over loopback HTTP -----------------------------------------------------------------------


@pytest.mark.e2e
def test_paging_returns_every_shipment_exactly_once(server: SandboxServer, client: httpx.Client) -> None:
    seen: list[str] = []
    after = None
    pages = 0

    while True:
        connection = _query(client, server.url, state="unconfirmed", first=7, after=after)["data"]["shipments"]
        seen += [node["id"] for node in connection["nodes"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert pages == 6
    assert seen == [s["id"] for s in server.state.shipments]


@pytest.mark.e2e
def test_brand_union_resolves_both_members(server: SandboxServer, client: httpx.Client) -> None:
    nodes = _query(client, server.url, first=40)["data"]["shipments"]["nodes"]
    brands = [u["variant"]["product"]["_brand"] for n in nodes for u in n["inventoryUnits"] if u["variant"]]

    assert {} in brands
    assert any(brand.get("name") for brand in brands)


@pytest.mark.e2e
def test_fact_sheet_example_round_trips_exactly() -> None:
    node = copy.deepcopy(FACT_SHEET_NODE)
    for unit in node["inventoryUnits"]:
        brand = unit["variant"]["product"]["_brand"]
        brand["__typename"] = "Brand" if "name" in brand else "BrandUnknown"

    with SandboxServer([node], api_key=None) as sandbox, httpx.Client(timeout=5) as http:
        body = _query(http, sandbox.url, state="unconfirmed")

    assert body == {
        "data": {
            "shipments": {"pageInfo": {"hasNextPage": False, "endCursor": encode_cursor(1)}, "nodes": [FACT_SHEET_NODE]}
        }
    }


@pytest.mark.e2e
@pytest.mark.parametrize("header", [None, "Bearer wrong-key", f"Basic {KEY}"])
def test_bad_or_missing_key_is_401(server: SandboxServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}

    response = httpx.post(server.url, json={"query": SHIPMENTS_QUERY}, headers=headers, timeout=5)

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid or missing API key"}]}
    assert "wrong-key" not in response.text and KEY not in response.text


@pytest.mark.e2e
@pytest.mark.parametrize("cursor", ["not base64!", base64.b64encode(b"seven").decode(), encode_cursor(-3)])
def test_bad_cursor_is_a_graphql_error(server: SandboxServer, client: httpx.Client, cursor: str) -> None:
    body = _query(client, server.url, after=cursor)

    assert body["data"] is None
    assert "Invalid cursor" in body["errors"][0]["message"]


@pytest.mark.e2e
def test_invalid_state_literal_is_a_graphql_error(server: SandboxServer, client: httpx.Client) -> None:
    response = client.post(server.url, json={"query": "{ shipments(state: declined) { nodes { id } } }"})

    assert response.status_code == 200
    assert "declined" in response.json()["errors"][0]["message"]


@pytest.mark.e2e
def test_server_stops_and_frees_its_port() -> None:
    sandbox = SandboxServer([], port=0)
    sandbox.start()
    port = sandbox.port

    sandbox.stop()
    sandbox.stop()

    assert port != 0 and sandbox.url.endswith(f":{port}/graphql")
    with pytest.raises(httpx.ConnectError):
        httpx.post(sandbox.url, json={"query": "{ __typename }"}, timeout=2)


def test_busy_port_fails_fast_with_a_clear_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(RuntimeError, match="cannot listen"):
            SandboxServer([], port=busy.getsockname()[1]).start()


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM semantics are POSIX")
def test_run_prints_its_url_and_exits_cleanly_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(letzdesk.__file__).resolve().parents[1])}
    script = "from letzdesk.sandbox import run; run('127.0.0.1', 0, 5, 3, 'k')"
    with subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            ready, _, _ = select.select([process.stdout], [], [], 10)
            assert ready, "no banner within 10 s"
            banner = process.stdout.readline()  # type: ignore[union-attr]
            match = re.fullmatch(r"Letzshop sandbox: (\S+) \(5 shipments, seed 3, key required\)\n", banner)
            assert match, banner
            answer = httpx.post(
                match.group(1),
                json={"query": "{ shipments { nodes { id } } }"},
                headers={"Authorization": "Bearer k"},
                timeout=5,
            )

            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()

    assert len(answer.json()["data"]["shipments"]["nodes"]) == 5
    assert process.returncode == 0
    assert stderr == ""
