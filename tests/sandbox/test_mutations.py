"""The sandbox's mutations change its state the way Letzshop's do, and keep a record of every call.

Each test gets a fresh sandbox (the ``sandbox`` fixture) and talks to it over loopback HTTP with
the two documents the app sends, in the variables shape the app uses: ``{"input": {...}}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import httpx
import pytest

from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import RECORD_PATH, SandboxServer, record_summary
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.e2e

DOCUMENTS = files("letzdesk.letzshop") / "documents"
CONFIRM = (DOCUMENTS / "confirm_inventory_units.graphql").read_text(encoding="utf-8")
TRACKING = (DOCUMENTS / "set_shipment_tracking.graphql").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer([], api_key=TEST_KEY) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer) -> SandboxServer:
    """A fresh world on one server per module: starting and stopping uvicorn costs ~0.2 s a test."""
    server.state.reset(generate_shipments(40, 7))
    server.state.faults = None
    return server


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client per module: building one loads the CA bundle, ~50 ms."""
    with httpx.Client(headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=5) as http:
        yield http


def _post(client: httpx.Client, url: str, query: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = {"query": query, "operationName": operation, "variables": {"input": payload}}
    response = client.post(url, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "errors" not in answer, answer
    return answer["data"]


def confirm(client: httpx.Client, sandbox: SandboxServer, *answers: tuple[str, bool]) -> dict[str, Any]:
    units = [{"inventoryUnitId": unit_id, "isAvailable": available} for unit_id, available in answers]
    data = _post(client, sandbox.url, CONFIRM, "ConfirmInventoryUnits", {"inventoryUnits": units})
    return data["confirmInventoryUnits"]


def track(client: httpx.Client, sandbox: SandboxServer, shipment_id: str, code: str = "LU123") -> dict[str, Any]:
    payload = {"shipmentId": shipment_id, "code": code, "provider": "post_lu"}
    return _post(client, sandbox.url, TRACKING, "SetShipmentTracking", payload)["setShipmentTracking"]


def shipment_with(sandbox: SandboxServer, units: int) -> tuple[str, list[str]]:
    """Id of the first shipment with at least ``units`` units, and its unit ids."""
    shipment = next(s for s in sandbox.state.shipments if len(s["inventoryUnits"]) >= units)
    return shipment["id"], [unit["id"] for unit in shipment["inventoryUnits"]]


def states(sandbox: SandboxServer, unit_ids: list[str]) -> list[str]:
    return [sandbox.state.unit(unit_id)["state"] for unit_id in unit_ids]  # type: ignore[index]


def test_both_documents_run_with_the_input_variables_shape(sandbox: SandboxServer, client: httpx.Client) -> None:
    shipment_id, (unit_id, *_) = shipment_with(sandbox, 1)

    confirmed = confirm(client, sandbox, (unit_id, True))
    tracked = track(client, sandbox, shipment_id)

    assert confirmed == {"inventoryUnits": [{"id": unit_id, "state": "confirmed_available"}], "errors": []}
    assert tracked["errors"] == []
    assert tracked["shipment"]["tracking"] == {"code": "LU123", "provider": "post_lu"}


def test_confirm_all_makes_the_shipment_confirmed(sandbox: SandboxServer, client: httpx.Client) -> None:
    shipment_id, unit_ids = shipment_with(sandbox, 3)

    payload = confirm(client, sandbox, *[(unit_id, True) for unit_id in unit_ids])

    assert payload["errors"] == []
    assert payload["inventoryUnits"] == [{"id": unit_id, "state": "confirmed_available"} for unit_id in unit_ids]
    assert sandbox.state.shipment(shipment_id)["state"] == "confirmed"  # type: ignore[index]


def test_decline_all_still_makes_the_shipment_confirmed(sandbox: SandboxServer, client: httpx.Client) -> None:
    shipment_id, unit_ids = shipment_with(sandbox, 2)

    payload = confirm(client, sandbox, *[(unit_id, False) for unit_id in unit_ids])

    assert payload["errors"] == []
    assert states(sandbox, unit_ids) == ["confirmed_unavailable"] * len(unit_ids)
    assert sandbox.state.shipment(shipment_id)["state"] == "confirmed"  # type: ignore[index]


def test_partial_answers_keep_the_shipment_unconfirmed_until_the_last(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    shipment_id, unit_ids = shipment_with(sandbox, 3)
    first, second, *rest = unit_ids

    confirm(client, sandbox, (first, True), (second, False))
    after_two = sandbox.state.shipment(shipment_id)["state"]  # type: ignore[index]
    confirm(client, sandbox, *[(unit_id, True) for unit_id in rest])

    assert after_two == "unconfirmed"
    assert states(sandbox, unit_ids)[:2] == ["confirmed_available", "confirmed_unavailable"]
    assert sandbox.state.shipment(shipment_id)["state"] == "confirmed"  # type: ignore[index]
    served = client.post(sandbox.url, json={"query": "{ shipments(state: confirmed) { nodes { id state } } }"}).json()[
        "data"
    ]["shipments"]["nodes"]
    assert served == [{"id": shipment_id, "state": "confirmed"}]


def test_repeating_an_answer_is_accepted_and_recorded(sandbox: SandboxServer, client: httpx.Client) -> None:
    _, (unit_id, *_) = shipment_with(sandbox, 1)

    first = confirm(client, sandbox, (unit_id, False))
    again = confirm(client, sandbox, (unit_id, False), (unit_id, False))

    assert first == again == {"inventoryUnits": [{"id": unit_id, "state": "confirmed_unavailable"}], "errors": []}
    assert sandbox.state.answers(unit_id) == [False, False, False]


def test_changing_an_answer_is_an_invalid_transition(sandbox: SandboxServer, client: httpx.Client) -> None:
    _, (unit_id, *_) = shipment_with(sandbox, 1)

    payload = confirm(client, sandbox, (unit_id, True), (unit_id, False))

    assert payload["inventoryUnits"] == [{"id": unit_id, "state": "confirmed_available"}]
    assert payload["errors"] == [
        {
            "id": unit_id,
            "code": "INVALID_TRANSITION",
            "message": f"Inventory unit {unit_id} is already confirmed_available and cannot be changed.",
        }
    ]
    assert sandbox.state.answers(unit_id) == [True]


@pytest.mark.parametrize("available", [True, False])
def test_a_returned_unit_cannot_be_answered(sandbox: SandboxServer, client: httpx.Client, available: bool) -> None:
    shipment_id, (unit_id, *_) = shipment_with(sandbox, 1)
    sandbox.state.shipments[0]["inventoryUnits"][0]["state"] = "returned"
    assert sandbox.state.shipments[0]["id"] == shipment_id

    payload = confirm(client, sandbox, (unit_id, available))

    assert [error["code"] for error in payload["errors"]] == ["INVALID_TRANSITION"]
    assert "already returned" in payload["errors"][0]["message"]
    assert payload["inventoryUnits"] == [{"id": unit_id, "state": "returned"}]
    assert sandbox.state.answer_counts() == {}


def test_unknown_units_are_refused_and_the_rest_applied(sandbox: SandboxServer, client: httpx.Client) -> None:
    _, (unit_id, *_) = shipment_with(sandbox, 1)

    payload = confirm(client, sandbox, ("no-such-unit", True), (unit_id, True), ("", False))

    assert payload["inventoryUnits"] == [{"id": unit_id, "state": "confirmed_available"}]
    assert [(error["id"], error["code"]) for error in payload["errors"]] == [
        ("no-such-unit", "NOT_FOUND"),
        ("", "NOT_FOUND"),
    ]
    assert all(error["message"] for error in payload["errors"])
    assert sandbox.state.answer_counts() == {unit_id: 1}


def test_tracking_needs_a_known_shipment_a_code_and_a_confirmed_unit(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    shipment_id, unit_ids = shipment_with(sandbox, 2)

    unknown = track(client, sandbox, "no-such-shipment")
    unconfirmed = track(client, sandbox, shipment_id)
    confirm(client, sandbox, *[(unit_id, False) for unit_id in unit_ids])
    all_declined = track(client, sandbox, shipment_id)
    blank = track(client, sandbox, shipment_id, code="  ")

    assert unknown["shipment"] is None and [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]
    assert unconfirmed["shipment"] is None and [e["code"] for e in unconfirmed["errors"]] == ["NOT_CONFIRMED"]
    assert all_declined["shipment"] is None and [e["code"] for e in all_declined["errors"]] == ["NOT_CONFIRMED"]
    assert blank["shipment"] is None and [e["code"] for e in blank["errors"]] == ["INVALID"]
    assert "confirm" in unconfirmed["errors"][0]["message"]
    assert sandbox.state.tracking_counts() == {}
    assert sandbox.state.shipment(shipment_id)["tracking"] is None  # type: ignore[index]


def test_tracking_can_be_set_again_and_every_set_is_recorded(sandbox: SandboxServer, client: httpx.Client) -> None:
    shipment_id, (first_unit, *others) = shipment_with(sandbox, 2)
    confirm(client, sandbox, (first_unit, True), *[(unit_id, False) for unit_id in others])

    first = track(client, sandbox, shipment_id, code="LU111")
    same = track(client, sandbox, shipment_id, code="LU111")
    other = track(client, sandbox, shipment_id, code="LU222")

    assert first == same
    assert first["shipment"] == {
        "id": shipment_id,
        "state": "confirmed",
        "tracking": {"code": "LU111", "provider": "post_lu"},
    }
    assert other["shipment"]["tracking"]["code"] == "LU222"
    assert sandbox.state.tracking_counts() == {shipment_id: 3}
    assert [t["code"] for t in sandbox.state.trackings(shipment_id)] == ["LU111", "LU111", "LU222"]
    assert sandbox.state.shipment(shipment_id)["tracking"] == {"code": "LU222", "provider": "post_lu"}  # type: ignore[index]


def test_the_record_counts_accepted_answers_only(sandbox: SandboxServer, client: httpx.Client) -> None:
    _, (a, b, *_) = shipment_with(sandbox, 2)

    confirm(client, sandbox, (a, True), (b, False))
    confirm(client, sandbox, (a, True), (b, True), ("ghost", True))

    assert sandbox.state.answer_counts() == {a: 2, b: 1}
    assert sandbox.state.answers(a) == [True, True]
    assert sandbox.state.answers(b) == [False]
    assert sandbox.state.answers("ghost") == []


def test_the_record_is_served_from_outside_behind_the_key_and_never_faulted(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    """A sandbox started as its own process (``letzdesk sandbox``) can be checked over HTTP."""
    shipment_id, (a, b, *_) = shipment_with(sandbox, 2)
    confirm(client, sandbox, (a, True), (b, False))
    confirm(client, sandbox, (a, True))
    track(client, sandbox, shipment_id, code="LU111")
    url = sandbox.url.replace("/graphql", RECORD_PATH)
    sandbox.state.faults = Faults(rate=1.0, kinds={"5xx": 1, "drop": 1})

    for _ in range(5):
        response = client.get(url)
        assert response.status_code == 200
        assert response.json() == {
            "answers": {a: [True, True], b: [False]},
            "trackings": {shipment_id: [{"code": "LU111", "provider": "post_lu"}]},
            "faults": {"calls": 0, "429": 0, "5xx": 0, "drop": 0},
        }
    assert httpx.get(url, timeout=5).status_code == 401
    assert record_summary(response.json()) == (
        "Applied 3 answers to 2 items (1 more than once), tracking 1 times on 1 shipments (0 more than once)"
    )
    assert record_summary({"answers": {}, "trackings": {}}) is None


def test_look_ups_are_copies_and_unknown_ids_are_none(sandbox: SandboxServer) -> None:
    shipment_id, (unit_id, *_) = shipment_with(sandbox, 1)

    sandbox.state.unit(unit_id)["state"] = "returned"  # type: ignore[index]
    sandbox.state.shipment(shipment_id)["inventoryUnits"][0]["state"] = "returned"  # type: ignore[index]

    assert sandbox.state.unit(unit_id)["state"] == "unconfirmed"  # type: ignore[index]
    assert sandbox.state.unit("nope") is None and sandbox.state.shipment("nope") is None


def test_units_removed_before_touch_are_no_longer_found(sandbox: SandboxServer, client: httpx.Client) -> None:
    _, (unit_id, *_) = shipment_with(sandbox, 1)
    sandbox.state.unit(unit_id)  # builds the index

    removed = sandbox.state.shipments[0]["inventoryUnits"].pop(0)
    sandbox.state.touch()
    payload = confirm(client, sandbox, (removed["id"], True))

    assert removed["id"] == unit_id
    assert [error["code"] for error in payload["errors"]] == ["NOT_FOUND"]
