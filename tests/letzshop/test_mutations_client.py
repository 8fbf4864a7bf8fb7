"""LetzshopClient's answers over a mocked transport: answer_units, set_tracking and find_shipment.

The request must be exactly the shape of letzshop-api.md §3, every failure typed, and a mutation
sent once per call whatever happens: only the worker, after reading the shipment back, may repeat it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from letzdesk.letzshop import documents
from letzdesk.letzshop.client import LetzshopClient
from letzdesk.letzshop.errors import (
    AuthError,
    GraphQLResponseError,
    LetzshopError,
    MalformedResponseError,
    RateLimitedError,
    SchemaDriftError,
    TransientError,
)
from letzdesk.letzshop.records import AnswerResult, MutationProblem, TrackingResult
from letzdesk.letzshop.retry import RetryPolicy

ENDPOINT = "https://letzshop.test/graphql"
KEY = "test-key-not-real"
Loop = asyncio.AbstractEventLoop
Call = Callable[[LetzshopClient], Awaitable[Any]]


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(qloop: Loop, responder: dict[str, Any], call: Call, *, attempts: int = 4) -> tuple[Any, respx.Route]:
    """Run ``call`` against a mocked endpoint; returns (result or raised LetzshopError, route).

    The client's retry policy is a generous one (4 attempts, no real sleeping), so a mutation
    called once proves the client itself never repeats it.
    """

    async def go() -> Any:
        retry = RetryPolicy(attempts=attempts, sleep=FakeSleep())
        async with LetzshopClient(ENDPOINT, KEY, retry=retry) as client:
            try:
                return await call(client)
            except LetzshopError as exc:
                return exc

    with respx.mock(assert_all_called=False) as router:
        route = router.post(ENDPOINT).mock(**responder)
        outcome = qloop.run_until_complete(go())
    if isinstance(outcome, BaseException):
        assert KEY not in str(outcome) and KEY not in repr(outcome.args)
    return outcome, route


def reply(status: int = 200, **kwargs: Any) -> dict[str, Any]:
    return {"return_value": httpx.Response(status, **kwargs)}


def bodies(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


def answer(client: LetzshopClient) -> Awaitable[AnswerResult]:
    return client.answer_units({"U1": True, "U2": False})


def track(client: LetzshopClient) -> Awaitable[TrackingResult]:
    return client.set_tracking("S1", "LU123456789", "post_lu")


MUTATIONS = pytest.mark.parametrize("call", [answer, track], ids=["answer_units", "set_tracking"])


def answered(units: list[dict[str, Any]] | None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"data": {"confirmInventoryUnits": {"inventoryUnits": units, "errors": errors or []}}}


def tracked(shipment: dict[str, Any] | None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"data": {"setShipmentTracking": {"shipment": shipment, "errors": errors or []}}}


# --- the requests ------------------------------------------------------------------------------


def test_answer_units_sends_exactly_the_confirm_inventory_units_request(qloop):
    result, route = run(qloop, reply(json=answered([])), answer)
    assert isinstance(result, AnswerResult)
    (body,) = bodies(route)
    assert body == {
        "query": documents.load("confirm_inventory_units"),
        "operationName": "ConfirmInventoryUnits",
        "variables": {
            "input": {
                "inventoryUnits": [
                    {"inventoryUnitId": "U1", "isAvailable": True},
                    {"inventoryUnitId": "U2", "isAvailable": False},
                ]
            }
        },
    }
    assert "mutation ConfirmInventoryUnits($input: ConfirmInventoryUnitsInput!)" in body["query"]
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"].startswith("application/json")


def test_answer_units_keeps_the_callers_order_and_sends_nothing_else(qloop):
    units = {f"U{n}": n % 3 != 0 for n in range(7, 0, -1)}
    _, route = run(qloop, reply(json=answered([])), lambda client: client.answer_units(units))
    (body,) = bodies(route)
    sent = body["variables"]["input"]["inventoryUnits"]
    assert [unit["inventoryUnitId"] for unit in sent] == list(units)
    assert [unit["isAvailable"] for unit in sent] == list(units.values())
    assert {key for unit in sent for key in unit} == {"inventoryUnitId", "isAvailable"}
    assert set(body["variables"]) == {"input"} and set(body["variables"]["input"]) == {"inventoryUnits"}


def test_set_tracking_sends_exactly_the_set_shipment_tracking_request(qloop):
    shipment = {"id": "S1", "state": "confirmed", "tracking": {"code": "LU123456789", "provider": "post_lu"}}
    result, route = run(qloop, reply(json=tracked(shipment)), track)
    assert isinstance(result, TrackingResult)
    (body,) = bodies(route)
    assert body == {
        "query": documents.load("set_shipment_tracking"),
        "operationName": "SetShipmentTracking",
        "variables": {"input": {"shipmentId": "S1", "code": "LU123456789", "provider": "post_lu"}},
    }
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {KEY}"


# --- parsing the payloads ----------------------------------------------------------------------


def test_answer_result_states_per_unit(qloop):
    units = [{"id": "U1", "state": "confirmed_available"}, {"id": "U2", "state": "confirmed_unavailable"}]
    result, _ = run(qloop, reply(json=answered(units)), answer)
    assert result == AnswerResult({"U1": "confirmed_available", "U2": "confirmed_unavailable"}, ())


def test_answer_payload_errors_become_problems(qloop):
    units = [{"id": "U1", "state": "confirmed_available"}, {"id": "U2", "state": "confirmed_available"}]
    errors = [
        {"id": "U2", "code": "INVALID_TRANSITION", "message": "Inventory unit U2 is already confirmed_available."},
        {"id": "U9", "code": "NOT_FOUND", "message": "Inventory unit U9 does not exist."},
        {"id": None, "code": None, "message": None},
    ]
    result, route = run(qloop, reply(json=answered(units, errors)), answer)
    assert result.states == {"U1": "confirmed_available", "U2": "confirmed_available"}
    assert result.problems == (
        MutationProblem("Inventory unit U2 is already confirmed_available.", "INVALID_TRANSITION", "U2"),
        MutationProblem("Inventory unit U9 does not exist.", "NOT_FOUND", "U9"),
        MutationProblem("Letzshop refused this without saying why.", None, None),
    )
    assert route.call_count == 1


def test_answer_payload_with_null_lists(qloop):
    body = {"data": {"confirmInventoryUnits": {"inventoryUnits": None, "errors": None}}}
    result, _ = run(qloop, reply(json=body), answer)
    assert result == AnswerResult({}, ())


def test_answer_unit_with_null_state(qloop):
    result, _ = run(qloop, reply(json=answered([{"id": "U1", "state": None}])), answer)
    assert result.states == {"U1": None}


def test_tracking_result_and_problems(qloop):
    errors = [{"code": "NOT_CONFIRMED", "message": "Shipment S1 has no confirmed item to ship."}]
    result, _ = run(qloop, reply(json=tracked(None, errors)), track)
    assert result == TrackingResult(
        None, None, None, (MutationProblem("Shipment S1 has no confirmed item to ship.", "NOT_CONFIRMED"),)
    )
    shipment = {"id": "S1", "state": "confirmed", "tracking": {"code": "LU123456789", "provider": "post_lu"}}
    result, _ = run(qloop, reply(json=tracked(shipment)), track)
    assert result == TrackingResult("confirmed", "LU123456789", "post_lu", ())


def test_tracking_result_without_tracking_echo(qloop):
    """Letzshop's read-back of tracking is unreliable: a null echo is not an error."""
    result, _ = run(qloop, reply(json=tracked({"id": "S1", "state": "confirmed", "tracking": None})), track)
    assert result == TrackingResult("confirmed", None, None, ())


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"confirmInventoryUnits": None},
        {"confirmInventoryUnits": "ok"},
        {"confirmInventoryUnits": {"inventoryUnits": "U1", "errors": []}},
        {"confirmInventoryUnits": {"inventoryUnits": [{"state": "confirmed_available"}], "errors": []}},
        {"confirmInventoryUnits": {"inventoryUnits": [None], "errors": []}},
        {"confirmInventoryUnits": {"inventoryUnits": [{"id": ["U1"], "state": "x"}], "errors": []}},
        {"confirmInventoryUnits": {"inventoryUnits": [], "errors": {"message": "no"}}},
        {"confirmInventoryUnits": {"inventoryUnits": [], "errors": ["no"]}},
    ],
    ids=[
        "no-field",
        "null-payload",
        "text-payload",
        "units-not-a-list",
        "unit-without-id",
        "null-unit",
        "id-not-text",
        "errors-not-a-list",
        "error-not-an-object",
    ],
)
def test_unusable_answer_payload_is_malformed(qloop, data):
    exc, route = run(qloop, reply(json={"data": data}), answer)
    assert isinstance(exc, MalformedResponseError), exc
    assert route.call_count == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"setShipmentTracking": None},
        {"setShipmentTracking": {"shipment": "S1", "errors": []}},
        {"setShipmentTracking": {"shipment": {"id": "S1", "tracking": "LU1"}, "errors": []}},
        {"setShipmentTracking": {"shipment": None, "errors": "refused"}},
    ],
    ids=["no-field", "null-payload", "shipment-not-an-object", "tracking-not-an-object", "errors-not-a-list"],
)
def test_unusable_tracking_payload_is_malformed(qloop, data):
    exc, route = run(qloop, reply(json={"data": data}), track)
    assert isinstance(exc, MalformedResponseError), exc
    assert route.call_count == 1


# --- failures: typed, and never repeated by the client -----------------------------------------


@MUTATIONS
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_transient_maybe_sent_and_not_retried(qloop, call, status):
    exc, route = run(qloop, reply(status, text="oops"), call)
    assert isinstance(exc, TransientError) and exc.sent is True
    assert route.call_count == 1


@MUTATIONS
@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
def test_connect_failure_is_transient_not_sent_and_not_retried(qloop, call, error):
    exc, route = run(qloop, {"side_effect": error("refused")}, call)
    assert isinstance(exc, TransientError) and exc.sent is False
    assert "Cannot reach Letzshop" in exc.user_message
    assert route.call_count == 1


@MUTATIONS
@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_failure_after_sending_is_transient_maybe_sent_and_not_retried(qloop, call, error):
    exc, route = run(qloop, {"side_effect": error("gone")}, call)
    assert isinstance(exc, TransientError) and exc.sent is True
    assert route.call_count == 1


@MUTATIONS
@pytest.mark.parametrize(("header", "seconds"), [("12", 12.0), ("0", 0.0), ("1.5", 1.5), (None, None)])
def test_http_429_is_rate_limited_with_retry_after_and_not_retried(qloop, call, header, seconds):
    headers = {"Retry-After": header} if header is not None else {}
    exc, route = run(qloop, reply(429, headers=headers), call)
    assert isinstance(exc, RateLimitedError)
    assert exc.retry_after == seconds
    assert route.call_count == 1


@MUTATIONS
@pytest.mark.parametrize(
    "body",
    [
        {"errors": [{"message": "Internal server error"}], "data": None},
        {
            "errors": [{"message": "Something broke", "path": ["confirmInventoryUnits"]}],
            "data": {"confirmInventoryUnits": None},
        },
        {"errors": [{"message": "Too many units", "extensions": {"code": "BAD_USER_INPUT"}}]},
    ],
    ids=["null-data", "partial-data", "with-code"],
)
def test_top_level_graphql_errors_are_graphql_response_errors(qloop, call, body):
    exc, route = run(qloop, reply(json=body), call)
    assert type(exc) is GraphQLResponseError, exc
    assert exc.errors[0].message == body["errors"][0]["message"]
    assert exc.data == body.get("data")
    assert route.call_count == 1


@MUTATIONS
def test_a_rejected_document_is_schema_drift(qloop, call):
    body = {"errors": [{"message": "Cannot query field 'confirmInventoryUnits' on type 'Mutation'."}]}
    exc, route = run(qloop, reply(json=body), call)
    assert isinstance(exc, SchemaDriftError)
    assert route.call_count == 1


@MUTATIONS
@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_an_auth_error(qloop, call, status):
    exc, route = run(qloop, reply(status, json={"errors": [{"message": "Invalid or missing API key"}]}), call)
    assert isinstance(exc, AuthError)
    assert route.call_count == 1


@MUTATIONS
@pytest.mark.parametrize("content", [b"<html>Bad gateway</html>", b"", b"[1, 2]"])
def test_a_body_that_is_no_graphql_answer_is_malformed(qloop, call, content):
    exc, route = run(qloop, reply(content=content), call)
    assert isinstance(exc, MalformedResponseError)
    assert route.call_count == 1


@MUTATIONS
def test_a_503_then_success_is_still_one_call(qloop, call):
    """Even with a success waiting behind it, a failed mutation is not tried again by the client."""
    ok = answered([]) if call is answer else tracked(None)
    responder = {"side_effect": [httpx.Response(503), httpx.Response(200, json=ok)]}
    exc, route = run(qloop, responder, call)
    assert isinstance(exc, TransientError)
    assert route.call_count == 1


# --- find_shipment -----------------------------------------------------------------------------


def shipment_node(shipment_id: str, state: str = "unconfirmed", unit_state: str = "unconfirmed") -> dict[str, Any]:
    return {
        "id": shipment_id,
        "number": f"H{shipment_id}",
        "state": state,
        "order": {"id": f"O{shipment_id}", "number": f"R{shipment_id}", "locale": "fr"},
        "inventoryUnits": [{"id": f"{shipment_id}-U1", "state": unit_state}],
        "tracking": {"code": "LU1", "provider": "dhl"} if state == "confirmed" else None,
    }


class Pages:
    """A mock endpoint serving shipments by state, in pages of two, following ``after`` cursors."""

    def __init__(self, by_state: dict[str, list[str]]) -> None:
        self.by_state = by_state
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["operationName"] == "Shipments"
        state, after = body["variables"]["state"], body["variables"]["after"]
        self.asked.append((state, after))
        ids = self.by_state.get(state, [])
        start = int(after) if after else 0
        nodes = [shipment_node(i, state, "confirmed_available" if state == "confirmed" else "unconfirmed") for i in ids]
        page = nodes[start : start + 2]
        end = start + len(page)
        info = {"hasNextPage": end < len(nodes), "endCursor": str(end) if page else None}
        return httpx.Response(200, json={"data": {"shipments": {"pageInfo": info, "nodes": page}}})


def test_find_shipment_pages_through_unconfirmed_then_confirmed(qloop):
    pages = Pages({"unconfirmed": ["S1", "S2", "S3", "S4", "S5"], "confirmed": ["S6", "S7", "S8"]})
    found, _ = run(qloop, {"side_effect": pages}, lambda client: client.find_shipment("S8"))
    assert found.id == "S8" and found.state == "confirmed"
    assert [(u.id, u.state) for u in found.units] == [("S8-U1", "confirmed_available")]
    assert found.tracking_code == "LU1"
    assert pages.asked == [
        ("unconfirmed", None),
        ("unconfirmed", "2"),
        ("unconfirmed", "4"),
        ("confirmed", None),
        ("confirmed", "2"),
    ]


def test_find_shipment_stops_at_the_first_match(qloop):
    pages = Pages({"unconfirmed": ["S1", "S2", "S3", "S4"], "confirmed": ["S3"]})
    found, _ = run(qloop, {"side_effect": pages}, lambda client: client.find_shipment("S3"))
    assert found.id == "S3" and found.state == "unconfirmed"
    assert pages.asked == [("unconfirmed", None), ("unconfirmed", "2")]


def test_find_shipment_returns_none_when_absent_from_every_list(qloop):
    pages = Pages({"unconfirmed": ["S1", "S2", "S3"], "confirmed": ["S4"]})
    found, route = run(qloop, {"side_effect": pages}, lambda client: client.find_shipment("S404"))
    assert found is None
    assert pages.asked == [("unconfirmed", None), ("unconfirmed", "2"), ("confirmed", None)]
    assert route.call_count == 3


def test_find_shipment_with_empty_lists(qloop):
    pages = Pages({})
    found, _ = run(qloop, {"side_effect": pages}, lambda client: client.find_shipment("S1"))
    assert found is None
    assert pages.asked == [("unconfirmed", None), ("confirmed", None)]


def test_find_shipment_in_chosen_states_only(qloop):
    pages = Pages({"unconfirmed": ["S1"], "confirmed": ["S2"]})
    found, _ = run(qloop, {"side_effect": pages}, lambda client: client.find_shipment("S1", states=("confirmed",)))
    assert found is None
    assert pages.asked == [("confirmed", None)]


def test_find_shipment_is_a_read_and_retries_a_5xx(qloop):
    """Unlike the mutations, reading back is safe to repeat."""
    pages = Pages({"unconfirmed": ["S1"]})
    calls = iter([httpx.Response(503)])

    def flaky(request: httpx.Request) -> httpx.Response:
        return next(calls, None) or pages(request)

    found, route = run(qloop, {"side_effect": flaky}, lambda client: client.find_shipment("S1"))
    assert found is not None and found.id == "S1"
    assert route.call_count == 2


def test_find_shipment_failure_surfaces_typed(qloop):
    exc, route = run(qloop, reply(503), lambda client: client.find_shipment("S1"), attempts=2)
    assert isinstance(exc, TransientError)
    assert route.call_count == 2
