"""confirm, decline, tracking and queue as a vendor types them, against the sandbox over loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from letzdesk.app import build
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.orders import orders_for
from letzdesk.settings import Settings
from tests.conftest import TEST_KEY


def letzdesk(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "letzdesk", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LETZSHOP_API_KEY": TEST_KEY},
    )


@pytest.fixture
def shop(tmp_path: Path, sandbox: SandboxServer) -> tuple[Path, str, list]:
    """A data dir with vendor "Shop" imported from the sandbox; returns it with an order number
    of an order with at least three items, and the orders."""
    data_dir = tmp_path / "data"
    assert letzdesk("vendor", "add", "Shop", "--endpoint", sandbox.url, data_dir=data_dir).returncode == 0
    assert letzdesk("import", "Shop", data_dir=data_dir).returncode == 0
    services = build(Settings.load(data_dir, use_keyring=False))
    try:
        orders = orders_for(services.db)
    finally:
        services.close()
    big = next(o for o in orders if len(o.units) >= 3)
    return data_dir, big.order_number, orders


def test_answer_an_order_item_by_item_then_ship_it(shop, sandbox: SandboxServer) -> None:
    data_dir, number, orders = shop
    order = next(o for o in orders if o.order_number == number)
    first, *rest = [u.unit_id for u in order.units]

    listing = letzdesk("orders", "Shop", number, data_dir=data_dir)
    assert listing.returncode == 0
    assert " 1. " in listing.stdout and f"id {first}" in listing.stdout and "  open  " in listing.stdout

    # Tracking before anything is confirmed is refused in words, with nothing queued.
    early = letzdesk("tracking", "Shop", number, "lu 12 34 56", "--carrier", "dhl", data_dir=data_dir)
    assert early.returncode == 1 and "at least one item" in early.stderr and "Traceback" not in early.stderr

    confirmed = letzdesk("confirm", "Shop", number, "1", data_dir=data_dir)
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.strip() == f"Confirm of 1 item for order {number} sent to Letzshop."

    declined = letzdesk("decline", "Shop", number, "--reason", "Out of stock", data_dir=data_dir)
    assert declined.returncode == 0, declined.stderr
    assert f"Decline of {len(rest)} items" in declined.stdout

    again = letzdesk("confirm", "Shop", number, data_dir=data_dir)
    assert again.returncode == 0 and again.stdout == "Nothing to send: 1 item already confirmed or on the way.\n"

    shipped = letzdesk("tracking", "Shop", number, "lu 12 34 56", "--carrier", "dhl", data_dir=data_dir)
    assert shipped.returncode == 0, shipped.stderr
    assert "sent to Letzshop" in shipped.stdout

    # Letzshop's record and ours agree; every answer went once.
    assert sandbox.state.answers(first) == [True]
    assert all(sandbox.state.answers(unit) == [False] for unit in rest)
    assert sandbox.state.trackings(order.shipment_id) == [{"code": "LU123456", "provider": "dhl"}]
    shown = json.loads(letzdesk("orders", "Shop", number, "--json", data_dir=data_dir).stdout)[0]
    assert shown["status"] == "shipped" and shown["tracking_number"] == "LU123456"
    assert shown["letzshop"]["state"] == "sent"
    assert [u["decline_reason"] for u in shown["units"]] == [None] + ["Out of stock"] * len(rest)

    queue = json.loads(letzdesk("queue", "--all", "--json", data_dir=data_dir).stdout)
    assert [(t["operation"], t["status"]) for t in queue["tasks"]] == [
        ("tracking", "done"),
        ("decline", "done"),
        ("confirm", "done"),
    ]
    logs = letzdesk("logs", "Shop", data_dir=data_dir).stdout
    assert "send answers  success  1 sent, 0 failed" in logs


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("confirm", "Shop", "NOPE-1"), "No order or shipment 'NOPE-1'"),
        (("confirm", "Shop", "{order}", "99"), "has no item '99'"),
        (("tracking", "Shop", "{order}", "#!", "--carrier", "dhl"), "3 to 60 letters and digits"),
        (("confirm", "Nobody", "{order}"), "No vendor named 'Nobody'"),
        (("queue", "--run", "--wait", "-1"), "--wait is a number of seconds"),
    ],
)
def test_mistakes_get_one_line(shop, args: tuple[str, ...], words: str) -> None:
    data_dir, number, _orders = shop
    result = letzdesk(*(arg.format(order=number) for arg in args), data_dir=data_dir)
    assert result.returncode == 1
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_decline_needs_a_reason(shop) -> None:
    data_dir, number, _orders = shop
    result = letzdesk("decline", "Shop", number, data_dir=data_dir)
    assert result.returncode == 2 and "--reason" in result.stderr


def test_dry_run_queues_and_queue_run_sends_later(shop, sandbox: SandboxServer) -> None:
    data_dir, number, _orders = shop
    assert letzdesk("vendor", "edit", "Shop", "--dry-run", data_dir=data_dir).returncode == 0
    held = letzdesk("confirm", "Shop", number, data_dir=data_dir)
    assert held.returncode == 0
    assert "not sent yet: dry run is on for Shop. To send: letzdesk vendor edit Shop --no-dry-run" in held.stdout
    assert "held (dry run)" in letzdesk("queue", data_dir=data_dir).stdout
    assert sandbox.state.answer_counts() == {}

    assert letzdesk("vendor", "edit", "Shop", "--no-dry-run", data_dir=data_dir).returncode == 0
    sent = letzdesk("queue", "Shop", "--run", data_dir=data_dir)
    assert sent.returncode == 0 and "Sent 1, failed 0, to retry 0." in sent.stdout
    assert set(sandbox.state.answer_counts().values()) == {1}


def test_confirm_all_after_a_queued_decline_says_how_to_change_it(shop, sandbox: SandboxServer) -> None:
    data_dir, number, _orders = shop
    assert letzdesk("vendor", "edit", "Shop", "--dry-run", data_dir=data_dir).returncode == 0
    assert letzdesk("decline", "Shop", number, "--reason", "out of stock", data_dir=data_dir).returncode == 0

    # "All" means the items still open: the queued decline stands, and the vendor learns how to change it.
    again = letzdesk("confirm", "Shop", number, data_dir=data_dir)
    assert again.returncode == 0
    assert again.stdout == (
        f"Nothing to confirm: every item of this order already has an answer, sent or queued. "
        f"To change a queued one, name its items: letzdesk confirm Shop {number} 1 2 …\n"
    )
    changed = letzdesk("confirm", "Shop", number, "1", data_dir=data_dir)
    assert changed.returncode == 0 and "Confirm of 1 item" in changed.stdout
    assert sandbox.state.answer_counts() == {}


def test_rate_limited_answer_waits_in_the_queue(shop, sandbox: SandboxServer) -> None:
    data_dir, number, _orders = shop
    sandbox.state.faults = Faults(rate=1.0, kinds={"429": 1}, retry_after="120")
    result = letzdesk("confirm", "Shop", number, data_dir=data_dir)
    assert result.returncode == 0
    assert "is queued, not sent yet: Letzshop asked letzdesk to slow down. It is tried again from" in result.stdout
    [task] = json.loads(letzdesk("queue", "--json", data_dir=data_dir).stdout)["tasks"]
    assert (task["status"], task["attempts"]) == ("pending", 0)
    assert sandbox.state.answer_counts() == {}


def test_another_sender_holds_the_queue(shop, sandbox: SandboxServer) -> None:
    data_dir, number, _orders = shop
    services = build(Settings.load(data_dir, use_keyring=False))
    try:
        assert services.worker.start()  # as an open window would
        result = letzdesk("confirm", "Shop", number, data_dir=data_dir)
        assert result.returncode == 0
        assert "another letzdesk (a window or `queue --run`) is sending answers" in result.stdout
        assert "busy" in letzdesk("queue", "--run", "--json", data_dir=data_dir).stdout
        assert sandbox.state.answer_counts() == {}
    finally:
        services.close()
    assert "Sent 1" in letzdesk("queue", "--run", data_dir=data_dir).stdout


def test_failed_answer_retried_or_cancelled_from_the_command_line(shop, sandbox: SandboxServer) -> None:
    data_dir, number, orders = shop
    order = next(o for o in orders if o.order_number == number)
    # Declined on Letzshop's side meanwhile: our confirm is refused.
    sandbox.state.confirm_units([{"inventoryUnitId": order.units[0].unit_id, "isAvailable": False}])
    refused = letzdesk("confirm", "Shop", number, "1", data_dir=data_dir)
    assert refused.returncode == 1 and "Letzshop did not take the answer" in refused.stderr
    [task] = json.loads(letzdesk("queue", "--json", data_dir=data_dir).stdout)["tasks"]
    assert task["status"] == "failed"

    listing = letzdesk("queue", data_dir=data_dir).stdout
    assert listing.splitlines()[0].split() == ["ID", "Vendor", "Order", "Answer", "State", "tries"]
    assert "FAILED" in listing

    # Letzshop already has another answer for the item: a retry has nothing left to send.
    retried = letzdesk("queue", "--retry", str(task["id"]), data_dir=data_dir)
    assert retried.returncode == 0 and "0 of 1 answer(s) will be sent again" in retried.stdout
    assert letzdesk("queue", "--cancel", "999", data_dir=data_dir).stderr.startswith("letzdesk: No answer #999")

    # A failed tracking number, cancelled: the order is no longer shown as shipped.
    second = next(o for o in orders if o.order_number != number)
    assert letzdesk("confirm", "Shop", second.order_number, data_dir=data_dir).returncode == 0
    sandbox.state.faults = Faults(rate=1.0, kinds={"5xx": 1}, operations=frozenset({"SetShipmentTracking"}))
    letzdesk("tracking", "Shop", second.order_number, "LU999", "--carrier", "dpd", data_dir=data_dir)
    waiting = [t for t in json.loads(letzdesk("queue", "--json", data_dir=data_dir).stdout)["tasks"]]
    tracking = next(t for t in waiting if t["operation"] == "tracking")
    cancelled = letzdesk("queue", "--cancel", str(tracking["id"]), data_dir=data_dir)
    assert cancelled.returncode == 0 and "Cancelled 1 of 1" in cancelled.stdout
    shown = json.loads(letzdesk("orders", "Shop", second.order_number, "--json", data_dir=data_dir).stdout)[0]
    assert (shown["status"], shown["tracking_number"]) == ("confirmed", None)
