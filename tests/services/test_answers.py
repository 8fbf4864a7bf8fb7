"""AnswerService against a real SQLite database: what one answer writes, replaces, refuses and reports.

The vendor is imported from the sandbox over loopback; the worker drains against the same sandbox
where a test needs an answer to have reached Letzshop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from letzdesk.app import Services
from letzdesk.letzshop.client import LetzshopClient
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.answer_input import normalise_tracking
from letzdesk.services.answers import AnswerError
from letzdesk.services.orders import orders_for
from letzdesk.store.models import FulfillmentTask, Order
from tests.conftest import TEST_KEY

Loop = asyncio.AbstractEventLoop
AVAILABLE, UNAVAILABLE = "confirmed_available", "confirmed_unavailable"


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def shop(services: Services, sandbox: SandboxServer, qloop: Loop) -> int:
    """A vendor with the sandbox's 40 unconfirmed shipments imported."""
    vid = services.vendors.add("Shop", TEST_KEY, sandbox.url)
    run = qloop.run_until_complete(services.importer.run(vid, "Shop"))
    assert run.imported == 40, run.error
    return vid


def order(services: Services, pk: int) -> Order:
    with services.db.session() as session:
        found = session.get(Order, pk, options=[selectinload(Order.units)])
        assert found is not None
        return found


def task(services: Services, task_id: int) -> FulfillmentTask:
    with services.db.session() as session:
        found = session.get(FulfillmentTask, task_id)
        assert found is not None
        return found


def all_tasks(services: Services) -> list[FulfillmentTask]:
    with services.db.session() as session:
        return list(session.scalars(select(FulfillmentTask).order_by(FulfillmentTask.id)))


def with_units(services: Services, vid: int, at_least: int = 2, count: int = 1) -> list[Order]:
    found = [o for o in orders_for(services.db, vid) if len(o.units) >= at_least][:count]
    assert len(found) == count
    return found


def unit_ids(o: Order) -> list[str]:
    return [u.unit_id for u in o.units]


def answers(o: Order) -> dict[str, str | None]:
    return {u.unit_id: u.answer for u in o.units}


def drain(services: Services, qloop: Loop, vid: int) -> Any:
    return qloop.run_until_complete(services.worker.drain([vid]))


# --- confirming and declining ------------------------------------------------------------------


def test_confirm_all_writes_one_task_with_every_unit_and_the_derived_status(services, shop, sandbox):
    o = with_units(services, shop, 3)[0]
    assert o.status == "pending"

    queued = services.answers.confirm(shop, o.id)

    assert queued.task_id is not None
    assert queued.units == tuple(unit_ids(o))
    assert queued.unchanged == () and queued.replaced == ()
    t = task(services, queued.task_id)
    assert (t.operation, t.status, t.attempts, t.verify) == ("confirm", "pending", 0, False)
    assert t.payload == {"units": unit_ids(o)}
    assert t.vendor_id == shop and t.order_pk == o.id
    after = order(services, o.id)
    assert set(answers(after).values()) == {AVAILABLE}
    assert all(u.answered_at is not None for u in after.units)
    # Letzshop's state is unchanged, the derived status already shows the answer, nothing was sent.
    assert {u.state for u in after.units} == {"unconfirmed"}
    assert after.status == "confirmed"
    assert sandbox.state.answer_counts() == {}
    assert len(all_tasks(services)) == 1


def test_confirming_again_queues_nothing(services, shop):
    o = with_units(services, shop)[0]
    first = services.answers.confirm(shop, o.id)
    again = services.answers.confirm(shop, o.id)
    assert again.task_id is None
    assert again.units == () and again.unchanged == tuple(unit_ids(o))
    assert [t.id for t in all_tasks(services)] == [first.task_id]
    assert task(services, first.task_id).payload == {"units": unit_ids(o)}


def test_confirming_again_after_sending_queues_nothing(services, shop, qloop, sandbox):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    drain(services, qloop, shop)
    again = services.answers.confirm(shop, o.id)
    assert again.task_id is None
    assert order(services, o.id).status == "confirmed"
    assert sandbox.state.answer_counts() == dict.fromkeys(unit_ids(o), 1)


def test_decline_replaces_a_pending_confirm_of_the_same_unit(services, shop):
    o = with_units(services, shop, 3)[0]
    first_unit, *rest = unit_ids(o)
    confirm = services.answers.confirm(shop, o.id)

    decline = services.answers.decline(shop, o.id, [first_unit], "broken in the shop")

    assert decline.task_id is not None and decline.replaced == (confirm.task_id,)
    # The confirm task lost that unit but still carries the others.
    kept = task(services, confirm.task_id)
    assert kept.status == "pending" and kept.payload == {"units": rest}
    new = task(services, decline.task_id)
    assert (new.operation, new.payload["units"]) == ("decline", [first_unit])
    after = answers(order(services, o.id))
    assert after[first_unit] == UNAVAILABLE
    assert all(after[u] == AVAILABLE for u in rest)
    assert order(services, o.id).status == "partially confirmed"


def test_decline_replacing_every_unit_of_a_pending_confirm_cancels_it(services, shop):
    o = with_units(services, shop)[0]
    confirm = services.answers.confirm(shop, o.id, unit_ids(o)[:1])
    decline = services.answers.decline(shop, o.id, unit_ids(o)[:1], "sold out")
    old = task(services, confirm.task_id)
    assert old.status == "cancelled" and old.last_error == "replaced by a later answer"
    assert decline.replaced == (confirm.task_id,)
    pending = [t for t in all_tasks(services) if t.status == "pending"]
    assert [(t.operation, t.payload["units"]) for t in pending] == [("decline", unit_ids(o)[:1])]
    assert order(services, o.id).units[0].decline_reason == "sold out"


def test_confirm_after_decline_clears_the_decline_reason(services, shop):
    o = with_units(services, shop)[0]
    unit = unit_ids(o)[0]
    services.answers.decline(shop, o.id, [unit], "sold out")
    services.answers.confirm(shop, o.id, [unit])
    u = order(services, o.id).units[0]
    assert (u.answer, u.decline_reason) == (AVAILABLE, None)
    pending = [t for t in all_tasks(services) if t.status == "pending"]
    assert [(t.operation, t.payload) for t in pending] == [("confirm", {"units": [unit]})]


@pytest.mark.parametrize("first_operation", ["decline", "confirm"])
def test_all_leaves_items_with_a_queued_answer_alone(services, shop, first_operation):
    """Answering "all" means the items still open, Letzshop's answers and queued ones alike (what the window
    counts as open and offers to answer): it must not silently replace a queued answer of the other kind."""
    o = with_units(services, shop, 3)[0]
    first, *rest = unit_ids(o)
    if first_operation == "decline":
        earlier = services.answers.decline(shop, o.id, [first], "broken")
        later = services.answers.confirm(shop, o.id)
        kept, given = UNAVAILABLE, AVAILABLE
    else:
        earlier = services.answers.confirm(shop, o.id, [first])
        later = services.answers.decline(shop, o.id, None, "sold out")
        kept, given = AVAILABLE, UNAVAILABLE

    assert later.replaced == ()
    assert later.units == tuple(rest)
    assert task(services, earlier.task_id).status == "pending"
    assert task(services, earlier.task_id).payload["units"] == [first]
    assert task(services, later.task_id).payload["units"] == rest
    assert answers(order(services, o.id)) == {first: kept, **dict.fromkeys(rest, given)}
    assert order(services, o.id).status == "partially confirmed"


def test_partial_answers_give_partially_confirmed(services, shop):
    o = with_units(services, shop, 2)[0]
    first = unit_ids(o)[0]
    services.answers.confirm(shop, o.id, [first])
    # Still pending while an item has no answer.
    assert order(services, o.id).status == "pending"
    services.answers.decline(shop, o.id, unit_ids(o)[1:], "out of stock")
    assert order(services, o.id).status == "partially confirmed"


def test_decline_all_gives_declined(services, shop):
    o = with_units(services, shop, 2)[0]
    services.answers.decline(shop, o.id, None, "closed for holidays")
    assert order(services, o.id).status == "declined"


def test_a_decline_reason_is_one_line_of_plain_text_and_not_cut(services, shop):
    o = with_units(services, shop)[0]
    services.answers.decline(shop, o.id, unit_ids(o)[:1], "x\x1b[2J\x1b[31mRED\r\nsecond  line\t")
    assert order(services, o.id).units[0].decline_reason == "x [2J [31mRED second line"
    with pytest.raises(AnswerError, match="under 1000 characters"):
        services.answers.decline(shop, o.id, unit_ids(o)[:1], "y" * 1001)
    assert order(services, o.id).units[0].decline_reason == "x [2J [31mRED second line"


@pytest.mark.parametrize("reason", ["", "   ", "\x00\n", None])
def test_declining_needs_a_reason(services, shop, reason):
    o = with_units(services, shop)[0]
    with pytest.raises(AnswerError, match="why"):
        services.answers.decline(shop, o.id, None, reason)  # type: ignore[arg-type]
    assert all_tasks(services) == []
    assert set(answers(order(services, o.id)).values()) == {None}


def test_decline_reason_is_kept_locally_and_never_sent(services, shop, qloop, sandbox, monkeypatch):
    sent: list[tuple[str | None, dict[str, Any]]] = []
    execute = LetzshopClient.execute

    async def spy(self, query, variables=None, operation=None):  # type: ignore[no-untyped-def]
        sent.append((operation, variables or {}))
        return await execute(self, query, variables, operation)

    monkeypatch.setattr(LetzshopClient, "execute", spy)
    o = with_units(services, shop, 2)[0]
    reason = "  The supplier did not deliver: ABC-secret-note  "

    queued = services.answers.decline(shop, o.id, None, reason)

    assert task(services, queued.task_id).payload == {
        "units": unit_ids(o),
        "reason": "The supplier did not deliver: ABC-secret-note",
    }
    assert {u.decline_reason for u in order(services, o.id).units} == {reason.strip()}

    report = drain(services, qloop, shop)
    assert report.done == 1, report
    mutations = [variables for operation, variables in sent if operation == "ConfirmInventoryUnits"]
    assert mutations == [
        {"input": {"inventoryUnits": [{"inventoryUnitId": u, "isAvailable": False} for u in unit_ids(o)]}}
    ]
    assert "ABC-secret-note" not in repr(sent)
    # Still kept after the answer went out.
    assert {u.decline_reason for u in order(services, o.id).units} == {reason.strip()}
    assert {u["state"] for u in sandbox.state.shipment(o.shipment_id)["inventoryUnits"]} == {UNAVAILABLE}


def test_a_reason_of_1000_characters_is_kept_whole(services, shop):
    o = with_units(services, shop)[0]
    queued = services.answers.decline(shop, o.id, None, "x" * 1000)
    assert task(services, queued.task_id).payload["reason"] == "x" * 1000


def test_declining_an_item_letzshop_has_as_confirmed(services, shop, qloop):
    o = with_units(services, shop, 3)[0]
    first, *rest = unit_ids(o)
    services.answers.confirm(shop, o.id, [first])
    drain(services, qloop, shop)
    assert order(services, o.id).units[0].state == AVAILABLE

    # Named explicitly: refused, nothing queued.
    with pytest.raises(AnswerError, match="already confirmed"):
        services.answers.decline(shop, o.id, [first], "changed my mind")
    assert [t.status for t in all_tasks(services)] == ["done"]

    # "All": the confirmed item is skipped, the open ones are declined.
    queued = services.answers.decline(shop, o.id, None, "out of stock")
    assert queued.units == tuple(rest)
    assert task(services, queued.task_id).payload["units"] == rest
    after = order(services, o.id)
    assert after.units[0].decline_reason is None
    assert after.status == "partially confirmed"


def test_an_item_in_flight_refuses_a_new_answer(services, shop):
    o = with_units(services, shop)[0]
    queued = services.answers.confirm(shop, o.id)
    with services.db.write_session() as session:
        session.get(FulfillmentTask, queued.task_id).status = "in_flight"

    with pytest.raises(AnswerError, match="being sent"):
        services.answers.decline(shop, o.id, unit_ids(o)[:1], "oops")
    with pytest.raises(AnswerError, match="being sent"):
        services.answers.confirm(shop, o.id, unit_ids(o)[:1])
    assert task(services, queued.task_id).payload == {"units": unit_ids(o)}
    assert len(all_tasks(services)) == 1


def test_unknown_unit_is_refused(services, shop):
    o = with_units(services, shop)[0]
    with pytest.raises(AnswerError, match="no item 'nope'"):
        services.answers.confirm(shop, o.id, [unit_ids(o)[0], "nope"])
    assert all_tasks(services) == []
    assert set(answers(order(services, o.id)).values()) == {None}


def test_an_order_of_another_vendor_is_refused(services, shop, sandbox):
    other = services.vendors.add("Other", TEST_KEY, sandbox.url)
    o = with_units(services, shop)[0]
    with pytest.raises(AnswerError, match="no longer exists"):
        services.answers.confirm(other, o.id)
    with pytest.raises(AnswerError, match="no longer exists"):
        services.answers.set_tracking(other, o.id, "LU123456789", "dhl")


def test_duplicate_unit_ids_are_answered_once(services, shop):
    o = with_units(services, shop)[0]
    unit = unit_ids(o)[0]
    queued = services.answers.confirm(shop, o.id, [unit, unit])
    assert task(services, queued.task_id).payload == {"units": [unit]}


def test_unit_order_in_the_payload_follows_the_order(services, shop):
    o = with_units(services, shop, 3)[0]
    queued = services.answers.confirm(shop, o.id, list(reversed(unit_ids(o))))
    assert task(services, queued.task_id).payload["units"] == unit_ids(o)


# --- finding an order --------------------------------------------------------------------------


def test_find_order_by_order_number_shipment_number_and_shipment_id(services, shop):
    o = with_units(services, shop)[0]
    for reference in (o.order_number, o.shipment_number, o.shipment_id, f"  {o.shipment_number}\n"):
        assert services.answers.find_order(shop, reference) == o.id


def test_find_order_unknown_reference(services, shop):
    with pytest.raises(AnswerError, match="No order or shipment"):
        services.answers.find_order(shop, "R000000000")


def test_find_order_is_per_vendor(services, shop, sandbox):
    other = services.vendors.add("Other", TEST_KEY, sandbox.url)
    o = with_units(services, shop)[0]
    with pytest.raises(AnswerError):
        services.answers.find_order(other, o.order_number)


def test_find_order_with_several_shipments_asks_for_the_shipment(services, shop):
    a, b = orders_for(services.db, shop)[:2]
    with services.db.write_session() as session:
        session.get(Order, b.id).order_number = a.order_number
    with pytest.raises(AnswerError, match="several shipments"):
        services.answers.find_order(shop, a.order_number)
    assert services.answers.find_order(shop, b.shipment_number) == b.id


# --- tracking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("lu 123 456 789", "LU123456789"), (" 1z999aa1\t0123456784 ", "1Z999AA10123456784"), ("ab-1/2.3_4", "AB-1/2.3_4")],
)
def test_tracking_number_is_normalised(services, shop, typed, stored):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    queued = services.answers.set_tracking(shop, o.id, typed, "post_lu")
    assert normalise_tracking(typed) == stored
    assert task(services, queued.task_id).payload == {"code": stored, "carrier": "post_lu"}
    after = order(services, o.id)
    assert (after.tracking_number, after.tracking_carrier, after.status) == (stored, "post_lu", "shipped")


@pytest.mark.parametrize(
    "number",
    # "ß" and "ı" turn into ASCII when upper-cased ("SS", "I"): a number nobody typed must not be sent.
    ["", "   ", "ab", "a b", "LU#123456", "LU12345*", "-LU123456", "ÄÖ123456", "ß123456", "lu ıi1234", "x" * 61],
)
def test_invalid_tracking_numbers_are_refused(services, shop, number):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    with pytest.raises(AnswerError, match="tracking number"):
        services.answers.set_tracking(shop, o.id, number, "dhl")
    assert [t.operation for t in all_tasks(services)] == ["confirm"]
    assert order(services, o.id).tracking_number is None


def test_tracking_needs_a_confirmed_item(services, shop):
    o = with_units(services, shop)[0]
    with pytest.raises(AnswerError, match="confirmed"):
        services.answers.set_tracking(shop, o.id, "LU123456789", "dhl")
    services.answers.decline(shop, o.id, None, "sold out")
    with pytest.raises(AnswerError, match="confirmed"):
        services.answers.set_tracking(shop, o.id, "LU123456789", "dhl")
    assert order(services, o.id).tracking_number is None
    assert [t.operation for t in all_tasks(services)] == ["decline"]


def test_tracking_after_a_queued_partial_confirmation(services, shop):
    """A queued (not yet sent) confirmation of one item is enough."""
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id, unit_ids(o)[:1])
    assert services.answers.set_tracking(shop, o.id, "LU123456789", "dhl").task_id is not None


def test_tracking_carrier_defaults_to_the_vendor_default(services, shop):
    services.vendors.edit(shop, default_carrier="dhl")
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    queued = services.answers.set_tracking(shop, o.id, "LU123456789")
    assert task(services, queued.task_id).payload == {"code": "LU123456789", "carrier": "dhl"}
    # A blank carrier also means the default; a given one wins.
    queued = services.answers.set_tracking(shop, o.id, "LU123456781", "  ")
    assert task(services, queued.task_id).payload["carrier"] == "dhl"
    queued = services.answers.set_tracking(shop, o.id, "LU123456780", "post_lu")
    assert task(services, queued.task_id).payload["carrier"] == "post_lu"


def test_tracking_without_carrier_and_without_default_is_refused(services, shop):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    for carrier in (None, "", "   "):
        with pytest.raises(AnswerError, match="carrier"):
            services.answers.set_tracking(shop, o.id, "LU123456789", carrier)
    with pytest.raises(AnswerError, match="carrier"):
        services.answers.set_tracking(shop, o.id, "LU123456789", "x" * 51)
    assert order(services, o.id).tracking_number is None


def test_same_tracking_number_after_sending_queues_nothing(services, shop, qloop, sandbox):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    services.answers.set_tracking(shop, o.id, "LU123456789", "dhl")
    drain(services, qloop, shop)
    again = services.answers.set_tracking(shop, o.id, "lu 123456789", "dhl")
    assert again.task_id is None and again.replaced == ()
    assert [t.status for t in all_tasks(services)] == ["done", "done"]
    assert sandbox.state.tracking_counts() == {o.shipment_id: 1}
    # Another carrier is a new answer.
    assert services.answers.set_tracking(shop, o.id, "LU123456789", "dpd").task_id is not None


def test_a_new_tracking_number_replaces_a_pending_one(services, shop):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    first = services.answers.set_tracking(shop, o.id, "LU111111111", "dhl")
    second = services.answers.set_tracking(shop, o.id, "LU222222222", "dhl")
    assert second.replaced == (first.task_id,)
    old = task(services, first.task_id)
    assert old.status == "cancelled" and "replaced" in (old.last_error or "")
    assert task(services, second.task_id).payload == {"code": "LU222222222", "carrier": "dhl"}
    assert order(services, o.id).tracking_number == "LU222222222"
    pending = [t for t in all_tasks(services) if t.status == "pending" and t.operation == "tracking"]
    assert [t.id for t in pending] == [second.task_id]


def test_a_new_tracking_number_after_sending_is_sent(services, shop, qloop, sandbox):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    services.answers.set_tracking(shop, o.id, "LU111111111", "dhl")
    drain(services, qloop, shop)
    queued = services.answers.set_tracking(shop, o.id, "LU222222222", "dhl")
    assert queued.task_id is not None and queued.replaced == ()
    drain(services, qloop, shop)
    assert sandbox.state.shipment(o.shipment_id)["tracking"] == {"code": "LU222222222", "provider": "dhl"}


# --- cancel and retry --------------------------------------------------------------------------


def test_cancel_a_pending_answer_opens_the_items_again(services, shop):
    o = with_units(services, shop)[0]
    queued = services.answers.decline(shop, o.id, None, "sold out")
    assert order(services, o.id).status == "declined"

    assert services.answers.cancel([queued.task_id]) == 1

    t = task(services, queued.task_id)
    assert t.status == "cancelled" and t.finished_at is not None
    after = order(services, o.id)
    assert set(answers(after).values()) == {None}
    assert {u.decline_reason for u in after.units} == {None}
    assert after.status == "pending"
    # And the items can be answered afresh.
    assert services.answers.confirm(shop, o.id).task_id is not None


def test_cancel_a_partial_answer_restores_the_other_status(services, shop):
    o = with_units(services, shop, 2)[0]
    first, *rest = unit_ids(o)
    services.answers.confirm(shop, o.id, [first])
    decline = services.answers.decline(shop, o.id, rest, "sold out")
    assert order(services, o.id).status == "partially confirmed"
    services.answers.cancel([decline.task_id])
    after = order(services, o.id)
    assert answers(after) == {first: AVAILABLE, **dict.fromkeys(rest)}
    assert after.status == "pending"


def test_cancel_does_nothing_to_done_or_in_flight_tasks(services, shop, qloop, sandbox):
    a, b = with_units(services, shop, count=2)
    done = services.answers.confirm(shop, a.id)
    drain(services, qloop, shop)
    flying = services.answers.confirm(shop, b.id)
    with services.db.write_session() as session:
        session.get(FulfillmentTask, flying.task_id).status = "in_flight"

    assert services.answers.cancel([done.task_id, flying.task_id, 999_999]) == 0

    assert task(services, done.task_id).status == "done"
    assert task(services, flying.task_id).status == "in_flight"
    assert set(answers(order(services, a.id)).values()) == {AVAILABLE}
    assert order(services, a.id).status == "confirmed"
    assert set(answers(order(services, b.id)).values()) == {AVAILABLE}


def test_cancel_a_failed_task(services, shop, qloop, sandbox):
    o = with_units(services, shop)[0]
    queued = services.answers.confirm(shop, o.id)
    sandbox.state.confirm_units([{"inventoryUnitId": u, "isAvailable": False} for u in unit_ids(o)])
    drain(services, qloop, shop)
    assert task(services, queued.task_id).status == "failed"
    assert services.answers.cancel([queued.task_id]) == 1
    assert task(services, queued.task_id).status == "cancelled"


def test_cancel_a_pending_tracking_number_restores_the_last_sent_one(services, shop, qloop):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    drain(services, qloop, shop)
    queued = services.answers.set_tracking(shop, o.id, "LU123456789", "dhl")
    assert order(services, o.id).status == "shipped"

    assert services.answers.cancel([queued.task_id]) == 1

    assert task(services, queued.task_id).status == "cancelled"
    after = order(services, o.id)
    assert (after.tracking_number, after.tracking_carrier) == (None, None)
    assert after.status == "confirmed"


def failed_confirm(services: Services, sandbox: SandboxServer, qloop: Loop, vid: int) -> tuple[Order, int]:
    """A confirm of every item of an order that Letzshop refused because it was declined there."""
    o = with_units(services, vid, 2)[0]
    queued = services.answers.confirm(vid, o.id)
    assert queued.task_id is not None
    sandbox.state.confirm_units([{"inventoryUnitId": unit_ids(o)[0], "isAvailable": False}])
    report = drain(services, qloop, vid)
    assert report.failed == 1, report
    return o, queued.task_id


def test_a_failed_answer_opens_the_items_letzshop_did_not_take(services, shop, qloop, sandbox):
    o, task_id = failed_confirm(services, sandbox, qloop, shop)
    t = task(services, task_id)
    assert t.status == "failed" and "cannot be changed" in (t.last_error or "")
    after = order(services, o.id)
    assert after.units[0].state == UNAVAILABLE and after.units[0].answer is None
    # The others were taken (partial success) and keep the answer.
    assert all(u.state == AVAILABLE and u.answer == AVAILABLE for u in after.units[1:])
    assert after.status == "partially confirmed"


def test_retry_of_a_failed_task_marks_the_answers_again_and_resets_attempts(services, shop, qloop):
    o = with_units(services, shop, 2)[0]
    queued = services.answers.confirm(shop, o.id)
    # A task that failed for good without Letzshop taking anything (say, after three 500s).
    with services.db.write_session() as session:
        t = session.get(FulfillmentTask, queued.task_id)
        t.status, t.attempts, t.waits, t.last_error = "failed", 3, 2, "Letzshop did not answer"
        for unit in session.get(Order, o.id).units:
            unit.answer = None
        session.get(Order, o.id).status = "pending"

    assert services.answers.retry([queued.task_id]) == 1

    t = task(services, queued.task_id)
    assert (t.status, t.attempts, t.waits, t.finished_at) == ("pending", 0, 0, None)
    assert t.payload["units"] == unit_ids(o)
    after = order(services, o.id)
    assert set(answers(after).values()) == {AVAILABLE}
    assert after.status == "confirmed"
    assert drain(services, qloop, shop).done == 1
    assert task(services, queued.task_id).status == "done"


def test_retry_leaves_out_items_letzshop_has_answered_since(services, shop):
    o = with_units(services, shop, 3)[0]
    first, second, *rest = unit_ids(o)
    queued = services.answers.confirm(shop, o.id)
    with services.db.write_session() as session:
        t = session.get(FulfillmentTask, queued.task_id)
        t.status, t.attempts = "failed", 3
        for unit in session.get(Order, o.id).units:
            unit.answer = None
        # Since then a later import says Letzshop has the first confirmed and the second declined.
        units = session.get(Order, o.id).units
        units[0].state, units[1].state = AVAILABLE, UNAVAILABLE

    assert services.answers.retry([queued.task_id]) == 1

    assert task(services, queued.task_id).payload["units"] == rest
    assert answers(order(services, o.id)) == {first: None, second: None, **dict.fromkeys(rest, AVAILABLE)}


def test_retry_of_a_failed_task_whose_items_were_all_answered_cancels_it(services, shop):
    o = with_units(services, shop)[0]
    queued = services.answers.confirm(shop, o.id)
    with services.db.write_session() as session:
        t = session.get(FulfillmentTask, queued.task_id)
        t.status, t.attempts = "failed", 3
        for unit in session.get(Order, o.id).units:
            unit.answer = None
    services.answers.decline(shop, o.id, None, "sold out")

    assert services.answers.retry([queued.task_id]) == 0
    assert task(services, queued.task_id).status == "cancelled"


def test_retry_of_a_failed_task_does_not_resend_an_item_letzshop_declined(services, shop, qloop, sandbox):
    """The refused item is declined on Letzshop: sending the same confirm again could only fail again.

    Was a bug: ``_reclaim_units`` kept every item whose state was not the target, so the declined
    item was queued again (and marked confirmed locally), sent, and refused a second time.
    """
    o, task_id = failed_confirm(services, sandbox, qloop, shop)
    assert services.answers.retry([task_id]) == 0
    t = task(services, task_id)
    assert t.status == "cancelled" and "already has an answer" in (t.last_error or "")
    assert order(services, o.id).units[0].answer is None
    assert drain(services, qloop, shop).done == 0


def test_retry_of_a_waiting_task_makes_it_due_now(services, shop):
    o = with_units(services, shop)[0]
    queued = services.answers.confirm(shop, o.id)
    with services.db.write_session() as session:
        t = session.get(FulfillmentTask, queued.task_id)
        t.next_attempt_at = t.next_attempt_at.replace(year=2099)
        t.attempts = 1
    assert services.answers.retry([queued.task_id]) == 1
    t = task(services, queued.task_id)
    assert t.next_attempt_at.year < 2099 and t.attempts == 1 and t.status == "pending"


def test_retry_ignores_done_and_cancelled(services, shop, qloop):
    a, b = with_units(services, shop, count=2)
    done = services.answers.confirm(shop, a.id)
    drain(services, qloop, shop)
    cancelled = services.answers.confirm(shop, b.id)
    services.answers.cancel([cancelled.task_id])
    assert services.answers.retry([done.task_id, cancelled.task_id]) == 0
    assert task(services, done.task_id).status == "done"
    assert task(services, cancelled.task_id).status == "cancelled"


def test_a_new_answer_settles_a_failed_one(services, shop):
    o = with_units(services, shop, 3)[0]
    first, second, third = unit_ids(o)[:3]
    failed = services.answers.confirm(shop, o.id, [first, second])
    with services.db.write_session() as session:
        t = session.get(FulfillmentTask, failed.task_id)
        t.status, t.attempts, t.last_error = "failed", 3, "Letzshop did not answer"
        for unit in session.get(Order, o.id).units:
            unit.answer = None
    # An answer for other items leaves the failed one alone...
    assert services.answers.confirm(shop, o.id, [third]).replaced == ()
    assert task(services, failed.task_id).status == "failed"
    # ...one for its items settles it.
    queued = services.answers.decline(shop, o.id, [second], "sold out")
    assert queued.replaced == (failed.task_id,)
    t = task(services, failed.task_id)
    assert t.status == "cancelled" and t.last_error == "replaced by a later answer"
    assert services.vendors.info(shop).failing_tasks == 0


# --- write-back summaries ----------------------------------------------------------------------


def test_writeback_states(services, shop, qloop, sandbox):
    a, b, c = with_units(services, shop, count=3)
    assert services.answers.writeback() == {}

    services.answers.confirm(shop, a.id)
    assert services.answers.writeback()[a.id].state == "queued"
    assert services.answers.writeback()[a.id].text == "Answer queued"

    drain(services, qloop, shop)
    assert services.answers.writeback([a.id])[a.id].state == "sent"

    queued = services.answers.confirm(shop, b.id)
    sandbox.state.confirm_units([{"inventoryUnitId": unit_ids(b)[0], "isAvailable": False}])
    drain(services, qloop, shop)
    summary = services.answers.writeback()[b.id]
    assert summary.state == "failed" and summary.failed_tasks == (queued.task_id,)
    assert "cannot be changed" in summary.text and summary.text.startswith("Failed: ")

    services.vendors.edit(shop, dry_run=True)
    services.answers.confirm(shop, c.id)
    assert services.answers.writeback([c.id])[c.id].state == "held"
    assert drain(services, qloop, shop).held == {"Shop": "Dry run: answers are queued but not sent."}
    assert services.answers.writeback([c.id])[c.id].state == "held"
    assert all(u.unit_id not in sandbox.state.answer_counts() for u in order(services, c.id).units)

    # Orders filtered out, and orders with only cancelled tasks, are absent.
    assert set(services.answers.writeback([a.id])) == {a.id}
    services.vendors.edit(shop, dry_run=False)
    services.answers.cancel([t.id for t in all_tasks(services) if t.order_pk == c.id])
    assert c.id not in services.answers.writeback()


def test_writeback_sending_and_retrying(services, shop):
    a, b = with_units(services, shop, count=2)
    flying = services.answers.confirm(shop, a.id)
    waiting = services.answers.confirm(shop, b.id)
    with services.db.write_session() as session:
        session.get(FulfillmentTask, flying.task_id).status = "in_flight"
        t = session.get(FulfillmentTask, waiting.task_id)
        t.attempts, t.last_error = 1, "Letzshop did not answer in time"
    summary = services.answers.writeback()
    assert summary[a.id].state == "sending"
    assert summary[b.id].state == "retrying" and "Letzshop did not answer in time" in summary[b.id].text


# --- imports, vendor info ----------------------------------------------------------------------


def test_a_reimport_keeps_a_pending_answer_and_its_status(services, shop, qloop, sandbox):
    a, b = with_units(services, shop, 2, count=2)
    services.answers.confirm(shop, a.id)
    services.answers.decline(shop, b.id, None, "sold out")
    # Letzshop still says unconfirmed, but something else about the shipments changed, so the
    # re-import really rewrites both rows.
    for shipment in sandbox.state.shipments:
        if shipment["id"] in (a.shipment_id, b.shipment_id):
            shipment["order"]["email"] = "changed@example.lu"
    sandbox.state.touch()

    run = qloop.run_until_complete(services.importer.run(shop, "Shop"))
    assert run.updated == 2, run

    for o, answer, status in ((a, AVAILABLE, "confirmed"), (b, UNAVAILABLE, "declined")):
        after = order(services, o.id)
        assert after.customer_email == "changed@example.lu"
        assert {u.state for u in after.units} == {"unconfirmed"}
        assert set(answers(after).values()) == {answer}
        assert after.status == status
    assert {u.decline_reason for u in order(services, b.id).units} == {"sold out"}
    assert {t.status for t in all_tasks(services)} == {"pending"}


def test_a_reimport_keeps_local_tracking(services, shop, qloop, sandbox):
    o = with_units(services, shop)[0]
    services.answers.confirm(shop, o.id)
    services.answers.set_tracking(shop, o.id, "LU123456789", "dhl")
    for shipment in sandbox.state.shipments:
        if shipment["id"] == o.shipment_id:
            shipment["order"]["email"] = "changed@example.lu"
    sandbox.state.touch()
    qloop.run_until_complete(services.importer.run(shop, "Shop"))
    after = order(services, o.id)
    assert (after.tracking_number, after.tracking_carrier, after.status) == ("LU123456789", "dhl", "shipped")


def test_vendor_info_counts_failed_tasks(services, shop, qloop, sandbox):
    assert services.vendors.info(shop).failing_tasks == 0
    failed_confirm(services, sandbox, qloop, shop)
    assert services.vendors.info(shop).failing_tasks == 1
    assert services.answers.failing_counts() == {shop: 1}
    services.answers.cancel([t.id for t in all_tasks(services) if t.status == "failed"])
    assert services.vendors.info(shop).failing_tasks == 0
    assert services.answers.failing_counts() == {}


def test_tasks_view(services, shop):
    o = with_units(services, shop)[0]
    confirm = services.answers.confirm(shop, o.id)
    decline = services.answers.decline(shop, o.id, unit_ids(o)[:1], "sold out")
    views = services.answers.tasks(shop)
    assert [v.id for v in views] == [decline.task_id, confirm.task_id]
    assert views[0].summary == "decline 1 item"
    assert views[0].vendor_name == "Shop" and views[0].shipment_number == o.shipment_number
    assert [v.id for v in services.answers.tasks(statuses=["pending"], order_pk=o.id)] == [
        decline.task_id,
        confirm.task_id,
    ]
    assert services.answers.tasks(shop, statuses=["done"]) == []
