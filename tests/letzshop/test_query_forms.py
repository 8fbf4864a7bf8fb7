"""Servers that differ where the fact sheet only reconstructs the query: the client still imports.

Each server here is graphql-core executing a variant of our schema, so a document the variant
does not accept is rejected exactly as a real GraphQL server would reject it.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from graphql import build_schema, execute_sync, parse, validate

from letzdesk.letzshop import documents
from letzdesk.letzshop.client import LetzshopClient
from letzdesk.letzshop.errors import SchemaDriftError
from letzdesk.letzshop.retry import RetryPolicy

ENDPOINT = "https://letzshop.test/graphql"
FACTSHEET = json.loads((Path(__file__).parent.parent / "data" / "factsheet_shipments.json").read_text())
PAGED = "shipments(state: ShipmentStateEnum, first: Int, after: String)"


def nodes(count: int) -> list[dict[str, Any]]:
    template = FACTSHEET["data"]["shipments"]["nodes"][0]
    result = []
    for i in range(count):
        node = copy.deepcopy(template)
        node["id"] = f"shipment-{i}"
        for unit in node["inventoryUnits"]:
            brand = unit["variant"]["product"]["_brand"]
            brand["__typename"] = "Brand" if brand else "BrandUnknown"
        result.append(node)
    return result


def server(schema_text: str, data: list[dict[str, Any]], seen: list[str]):  # type: ignore[no-untyped-def]
    schema = build_schema(schema_text)

    def shipments(_info: Any, state: str | None = None, first: int | None = None, after: str | None = None) -> dict:
        start = int(after or 0)
        end = len(data) if first is None else start + first
        return {
            "nodes": data[start:end],
            "pageInfo": {
                "hasNextPage": end < len(data),
                "endCursor": str(end),
                "hasPreviousPage": False,
                "startCursor": None,
            },
        }

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(next(line for line in body["query"].splitlines() if line.startswith("query")).rstrip(" {"))
        document = parse(body["query"])
        errors = validate(schema, document)
        if errors:
            return httpx.Response(200, json={"errors": [{"message": e.message} for e in errors]})
        result = execute_sync(
            schema, document, root_value={"shipments": shipments}, variable_values=body.get("variables")
        )
        assert not result.errors, result.errors
        return httpx.Response(200, json={"data": result.data})

    return handle


def import_all(handler) -> list[str]:  # type: ignore[no-untyped-def]
    async def scenario() -> list[str]:
        with respx.mock:
            respx.post(ENDPOINT).mock(side_effect=handler)
            async with LetzshopClient(
                ENDPOINT, "test-key-not-real", page_size=2, retry=RetryPolicy(attempts=1)
            ) as client:
                return [s.id async for page in client.iter_shipment_pages() for s in page.shipments]

    return asyncio.run(scenario())


def test_our_schema_takes_the_paged_form_with_a_variable() -> None:
    seen: list[str] = []
    assert import_all(server(documents.schema_text(), nodes(5), seen)) == [f"shipment-{i}" for i in range(5)]
    assert seen == ["query Shipments($state: ShipmentStateEnum, $first: Int, $after: String)"] * 3


def test_another_enum_type_name_falls_back_to_a_literal_state() -> None:
    seen: list[str] = []
    text = documents.schema_text().replace("ShipmentStateEnum", "ShipmentState")
    assert import_all(server(text, nodes(5), seen)) == [f"shipment-{i}" for i in range(5)]
    assert seen[0].startswith("query Shipments($state: ShipmentStateEnum")
    assert seen[1:] == ["query Shipments($first: Int, $after: String)"] * 3  # remembered after the first


def test_a_server_without_paging_gets_the_unpaged_query() -> None:
    seen: list[str] = []
    text = documents.schema_text().replace(PAGED, "shipments(state: ShipmentStateEnum): ShipmentConnection!")
    text = text.replace("ShipmentConnection!: ShipmentConnection!", "ShipmentConnection!")
    text = text.replace("  pageInfo: PageInfo!\n", "")
    assert "first: Int" not in text
    assert import_all(server(text, nodes(3), seen)) == ["shipment-0", "shipment-1", "shipment-2"]
    assert seen[-1] == "query Shipments"


def test_a_server_that_rejects_every_form_reports_the_first_mismatch() -> None:
    seen: list[str] = []
    text = documents.schema_text().replace("  tradeId: TradeId\n", "")
    with pytest.raises(SchemaDriftError, match="tradeId"):
        import_all(server(text, nodes(1), seen))
    assert len(seen) == 3


def test_schema_check_accepts_a_server_the_client_can_fall_back_on() -> None:
    from letzdesk.letzshop.schema_check import drift

    renamed = build_schema(documents.schema_text().replace("ShipmentStateEnum", "ShipmentState"))
    assert drift(renamed) == []
    broken = build_schema(documents.schema_text().replace("  tradeId: TradeId\n", ""))
    assert drift(broken) == ["Shipments: Cannot query field 'tradeId' on type 'Variant'."]
