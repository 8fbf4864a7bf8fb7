"""Every task type executed twice ends in the same local and remote state.

A task may run again after its first run: a crash after the send but before the outcome was
recorded, a retry the vendor pressed, a task set back by hand. The second run either reads the
shipment back first (``verify``) and sends nothing, or really sends again; Letzshop (the sandbox)
takes a repeat of the same answer. Either way the order, its items, its tasks and the shipment on
Letzshop must end exactly as after the first run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from letzdesk.app import Services
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.orders import orders_for
from letzdesk.store.models import FulfillmentTask, Order
from tests.conftest import TEST_KEY

Loop = asyncio.AbstractEventLoop
AVAILABLE, UNAVAILABLE = "confirmed_available", "confirmed_unavailable"


@pytest.fixture
def shop(services: Services, sandbox: SandboxServer, qloop: Loop) -> int:
    vid = services.vendors.add("Shop", TEST_KEY, sandbox.url)
    run = qloop.run_until_complete(services.importer.run(vid, "Shop"))
    assert run.imported == 40, run.error
    return vid


def an_order(services: Services, vid: int, units: int = 3) -> Order:
    return next(o for o in orders_for(services.db, vid) if len(o.units) >= units)


# --- what each task type queues --------------------------------------------------------------


def queue_confirm(services: Services, vid: int, o: Order) -> None:
    services.answers.confirm(vid, o.id)


def queue_decline(services: Services, vid: int, o: Order) -> None:
    services.answers.decline(vid, o.id, None, "out of stock")


def queue_partial(services: Services, vid: int, o: Order) -> None:
    """First item confirmed, second declined, the rest left open (the shipment stays unconfirmed)."""
    first, second = (u.unit_id for u in o.units[:2])
    services.answers.confirm(vid, o.id, [first])
    services.answers.decline(vid, o.id, [second], "broken")


def queue_tracking(services: Services, vid: int, o: Order) -> None:
    services.answers.confirm(vid, o.id)
    services.answers.set_tracking(vid, o.id, "LU 123 456 789", "post_lu")


SCENARIOS: dict[str, Callable[[Services, int, Order], None]] = {
    "confirm": queue_confirm,
    "decline": queue_decline,
    "partial": queue_partial,
    "tracking": queue_tracking,
}


# --- snapshots ---------------------------------------------------------------------------------


def local_state(services: Services, order_pk: int) -> dict[str, Any]:
    with services.db.session() as session:
        o = session.get(Order, order_pk, options=[selectinload(Order.units)])
        assert o is not None
        tasks = session.scalars(
            select(FulfillmentTask).where(FulfillmentTask.order_pk == order_pk).order_by(FulfillmentTask.id)
        )
        return {
            "status": o.status,
            "letzshop_state": o.letzshop_state,
            "tracking": (o.tracking_number, o.tracking_carrier),
            "remote_tracking": (o.remote_tracking_number, o.remote_tracking_carrier),
            "units": [(u.unit_id, u.state, u.answer, u.decline_reason) for u in o.units],
            "tasks": [(t.id, t.operation, t.payload, t.status, t.verify) for t in tasks],
        }


def remote_state(sandbox: SandboxServer, shipment_id: str) -> dict[str, Any]:
    shipment = sandbox.state.shipment(shipment_id)
    assert shipment is not None
    return shipment


def run_again(services: Services, order_pk: int, *, verify: bool) -> list[FulfillmentTask]:
    """Set every task of the order back to pending, as a crash or a manual reset would."""
    with services.db.write_session() as session:
        tasks = list(session.scalars(select(FulfillmentTask).where(FulfillmentTask.order_pk == order_pk)))
        for task in tasks:
            task.status = "pending"
            task.verify = verify
            task.finished_at = None
        return tasks


def drain(services: Services, qloop: Loop, vid: int) -> Any:
    return qloop.run_until_complete(services.worker.drain([vid]))


# --- the property ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "verify"),
    [
        ("confirm", False),
        ("confirm", True),
        ("decline", False),
        ("decline", True),
        ("partial", False),
        ("partial", True),
        ("tracking", False),
        ("tracking", True),
    ],
)
def test_a_task_run_twice_ends_in_the_same_state(services, shop, sandbox, qloop, scenario, verify):
    o = an_order(services, shop)
    SCENARIOS[scenario](services, shop, o)
    first = drain(services, qloop, shop)
    assert first.failed == 0 and first.retrying == 0, first

    local, remote = local_state(services, o.id), remote_state(sandbox, o.shipment_id)
    answers, trackings = sandbox.state.answer_counts(), sandbox.state.tracking_counts()
    assert {status for *_, status, _verify in local["tasks"]} == {"done"}
    assert set(answers.values()) == {1}

    tasks = run_again(services, o.id, verify=verify)
    second = drain(services, qloop, shop)
    assert (second.done, second.failed, second.retrying) == (len(tasks), 0, 0), second

    again = local_state(services, o.id)
    assert again == local
    assert remote_state(sandbox, o.shipment_id) == remote
    if verify:
        # Read back, found on Letzshop, not sent again.
        assert sandbox.state.answer_counts() == answers
        assert sandbox.state.tracking_counts() == trackings
        with services.db.session() as session:
            responses = [session.get(FulfillmentTask, t.id).response for t in tasks]
        assert responses == [{"read_back": True}] * len(tasks)
    else:
        # Really sent twice; Letzshop took the repeat of the same answer.
        assert sandbox.state.answer_counts() == {unit: 2 for unit in answers}
        assert sandbox.state.tracking_counts() == {sid: 2 for sid in trackings}
    # Last, so the checks above run for every case: Letzshop's shipment state as we hold it.
    assert again["letzshop_state"] == local["letzshop_state"]
    assert local["letzshop_state"] == remote["state"]


def test_expected_local_and_remote_state_after_each_scenario(services, shop, sandbox, qloop):
    """What the property compares is itself right (the first run did what was asked)."""
    orders = [o for o in orders_for(services.db, shop) if len(o.units) >= 3][:4]
    assert len(orders) == 4
    for queue, o in zip(SCENARIOS.values(), orders, strict=True):
        queue(services, shop, o)
    report = drain(services, qloop, shop)
    assert report.done == 6 and report.failed == 0, report

    states = {name: local_state(services, o.id) for name, o in zip(SCENARIOS, orders, strict=True)}
    remotes = {name: remote_state(sandbox, o.shipment_id) for name, o in zip(SCENARIOS, orders, strict=True)}
    assert {u[1] for u in states["confirm"]["units"]} == {AVAILABLE}
    assert states["confirm"]["status"] == "confirmed" and remotes["confirm"]["state"] == "confirmed"
    assert {u[1] for u in states["decline"]["units"]} == {UNAVAILABLE}
    assert states["decline"]["status"] == "declined" and remotes["decline"]["state"] == "confirmed"
    assert [u[1] for u in states["partial"]["units"][:2]] == [AVAILABLE, UNAVAILABLE]
    assert {u[1] for u in states["partial"]["units"][2:]} == {"unconfirmed"}
    assert states["partial"]["status"] == "pending" and remotes["partial"]["state"] == "unconfirmed"
    assert states["tracking"]["tracking"] == ("LU123456789", "post_lu")
    assert states["tracking"]["remote_tracking"] == ("LU123456789", "post_lu")
    assert states["tracking"]["status"] == "shipped"
    assert remotes["tracking"]["tracking"] == {"code": "LU123456789", "provider": "post_lu"}
    for name in SCENARIOS:
        assert [u[1] for u in states[name]["units"]] == [u["state"] for u in remotes[name]["inventoryUnits"]]


# --- a Letzshop that refuses repeats -----------------------------------------------------------


def refuse_repeats(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, *, echo: bool) -> list[dict[str, Any]]:
    """Make confirmInventoryUnits refuse any answer to an already answered unit (INVALID_TRANSITION),
    even one repeating the unit's state; with ``echo`` the refused units come back in their state.

    Returns the list of payloads the server answered with.
    """
    state = sandbox.state
    apply = state.confirm_units
    replies: list[dict[str, Any]] = []

    def strict(answers: list[dict[str, Any]]) -> dict[str, Any]:
        fresh, refused, errors = [], [], []
        for answer in answers:
            unit = state.unit(answer["inventoryUnitId"])
            if unit is not None and unit["state"] != "unconfirmed":
                refused.append(unit)
                message = f"Inventory unit {unit['id']} is already {unit['state']}."
                errors.append({"id": unit["id"], "code": "INVALID_TRANSITION", "message": message})
            else:
                fresh.append(answer)
        result = apply(fresh) if fresh else {"inventoryUnits": [], "errors": []}
        reply = {
            "inventoryUnits": result["inventoryUnits"] + (refused if echo else []),
            "errors": result["errors"] + errors,
        }
        replies.append(reply)
        return reply

    monkeypatch.setattr(state, "confirm_units", strict)
    return replies


@pytest.mark.parametrize("scenario", ["confirm", "decline", "partial"])
def test_a_repeat_refused_as_invalid_transition_with_the_unit_in_its_target_state_is_done(
    services, shop, sandbox, qloop, monkeypatch, scenario
):
    replies = refuse_repeats(sandbox, monkeypatch, echo=True)
    o = an_order(services, shop)
    SCENARIOS[scenario](services, shop, o)
    assert drain(services, qloop, shop).done >= 1
    assert all(not reply["errors"] for reply in replies)
    local, remote, answers = (
        local_state(services, o.id),
        remote_state(sandbox, o.shipment_id),
        sandbox.state.answer_counts(),
    )

    tasks = run_again(services, o.id, verify=False)
    report = drain(services, qloop, shop)

    # Every repeat was refused by the server...
    assert len(replies) == 2 * len(tasks)
    assert all(
        reply["errors"] and {e["code"] for e in reply["errors"]} == {"INVALID_TRANSITION"}
        for reply in replies[len(tasks) :]
    )
    # ...yet the units are where the task wanted them, so the task is done and nothing changed.
    assert (report.done, report.failed) == (len(tasks), 0), report.errors
    assert local_state(services, o.id) == local
    assert remote_state(sandbox, o.shipment_id) == remote
    assert sandbox.state.answer_counts() == answers


def test_a_repeat_refused_with_read_back_needs_no_send(services, shop, sandbox, qloop, monkeypatch):
    replies = refuse_repeats(sandbox, monkeypatch, echo=True)
    o = an_order(services, shop)
    queue_confirm(services, shop, o)
    drain(services, qloop, shop)
    local = local_state(services, o.id)
    run_again(services, o.id, verify=True)
    assert drain(services, qloop, shop).done == 1
    assert len(replies) == 1  # the read-back found the answer; no mutation was sent
    assert local_state(services, o.id) == local


def test_a_repeat_refused_without_the_unit_is_read_back_and_done(services, shop, sandbox, qloop, monkeypatch):
    """A server that refuses a repeat and does not say the unit's state: the worker reads the
    shipment back before failing, finds the answer there and ends the task done."""
    replies = refuse_repeats(sandbox, monkeypatch, echo=False)
    o = an_order(services, shop)
    queue_confirm(services, shop, o)
    drain(services, qloop, shop)
    local = local_state(services, o.id)

    run_again(services, o.id, verify=False)
    report = drain(services, qloop, shop)

    assert replies[-1]["errors"] and not replies[-1]["inventoryUnits"]
    after = local_state(services, o.id)
    assert after["units"] == local["units"]
    assert after["status"] == local["status"] == "confirmed"
    assert (report.done, report.failed) == (1, 0)
    assert [t[3] for t in after["tasks"]] == ["done"]


# --- tracking read-back ------------------------------------------------------------------------


def test_a_read_back_does_not_take_another_carrier_for_the_same_number(services, shop, sandbox, qloop):
    """The number was sent with one carrier, then the vendor corrected the carrier. If that second
    send's outcome is unknown (it may never have left), the read-back must not take the old carrier
    on Letzshop for the new one and mark the task done without sending."""
    o = an_order(services, shop)
    queue_tracking(services, shop, o)
    drain(services, qloop, shop)
    corrected = services.answers.set_tracking(shop, o.id, "LU123456789", "dpd")
    assert corrected.task_id is not None
    with services.db.write_session() as session:
        session.get(FulfillmentTask, corrected.task_id).verify = True  # as after a timeout or a crash

    assert drain(services, qloop, shop).done == 1

    assert remote_state(sandbox, o.shipment_id)["tracking"] == {"code": "LU123456789", "provider": "dpd"}
    assert sandbox.state.tracking_counts() == {o.shipment_id: 2}
    assert local_state(services, o.id)["tracking"] == ("LU123456789", "dpd")


def test_a_read_back_of_the_same_number_and_carrier_sends_nothing(services, shop, sandbox, qloop):
    o = an_order(services, shop)
    queue_tracking(services, shop, o)
    drain(services, qloop, shop)
    tasks = run_again(services, o.id, verify=True)
    assert drain(services, qloop, shop).done == len(tasks)
    assert sandbox.state.tracking_counts() == {o.shipment_id: 1}


def test_back_to_the_sent_number_cancels_the_pending_one_and_sends_nothing(services, shop, sandbox, qloop):
    o = an_order(services, shop)
    queue_tracking(services, shop, o)
    drain(services, qloop, shop)
    other = services.answers.set_tracking(shop, o.id, "LU999999999", "post_lu")
    back = services.answers.set_tracking(shop, o.id, "LU123456789", "post_lu")
    assert back.task_id is None and back.replaced == (other.task_id,)
    assert local_state(services, o.id)["tracking"] == ("LU123456789", "post_lu")
    assert drain(services, qloop, shop).done == 0
    assert sandbox.state.tracking_counts() == {o.shipment_id: 1}
