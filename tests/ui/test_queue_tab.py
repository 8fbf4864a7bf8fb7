"""The queue tab on the real services and the sandbox: listing, filters, retry, cancel and sending."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pytestqt.qtbot import QtBot

from letzdesk.app import Services
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.orders import orders_for
from letzdesk.services.outbox import TaskView
from letzdesk.ui.main_window import MainWindow
from letzdesk.ui.queue_model import (
    ANSWER,
    ATTEMPTS,
    ERROR,
    NEXT,
    ORDER,
    SORT_ROLE,
    STATE,
    VENDOR,
    QueueTableModel,
)
from letzdesk.ui.queue_tab import EMPTY_TEXT, FILTERED_TEXT, QueueTab
from tests.conftest import TEST_KEY
from tests.ui.test_answers_ui import refuse_answers, settle

Loop = asyncio.AbstractEventLoop


def two_vendors(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> tuple[MainWindow, int, int]:
    """ "Shop" sends to the sandbox; "Held" (dry run) keeps its answers queued."""
    shop = services.vendors.add("Shop", TEST_KEY, sandbox.url)
    held = services.vendors.add("Held", TEST_KEY, sandbox.url)
    services.vendors.edit(held, dry_run=True)
    for vendor_id, name in ((shop, "Shop"), (held, "Held")):
        qloop.run_until_complete(services.importer.run(vendor_id, name))
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    qloop.run_until_complete(window.orders_tab.reload())
    return window, shop, held


def answer(qloop: Loop, window: MainWindow, vendor_id: int, count: int) -> list[int]:
    """Confirm every item of the vendor's first ``count`` orders from the orders tab, one by one."""
    tab = window.orders_tab
    rows = [tab.model.row_at(r) for r in range(tab.model.rowCount())]
    pks = [row.pk for row in rows if row.vendor_id == vendor_id][:count]
    for pk in pks:
        tab.select_pk(pk)
        tab.actions.confirm_all()
        settle(qloop, window)
    return pks


def cells(tab: QueueTab, column: int) -> list[str]:
    return [tab.proxy.index(r, column).data() for r in range(tab.proxy.rowCount())]


def select(tab: QueueTab, *rows: int) -> None:
    tab.table.clearSelection()
    for row in rows:
        tab.table.selectionModel().select(
            tab.proxy.index(row, 0),
            tab.table.selectionModel().SelectionFlag.Select | tab.table.selectionModel().SelectionFlag.Rows,
        )


def test_empty_queue_says_what_it_is_for(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.tabs.setCurrentWidget(window.queue_tab)
    window.show()
    qloop.run_until_complete(window.queue_tab.reload())
    assert window.queue_tab.stack.currentWidget() is window.queue_tab.empty
    assert window.queue_tab.empty.text() == EMPTY_TEXT
    assert window.tabs.tabText(1) == "Queue"
    assert not window.queue_tab.retry_button.isEnabled() and not window.queue_tab.cancel_button.isEnabled()


def test_lists_filters_and_sends(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    window, shop, held = two_vendors(qtbot, qloop, services, sandbox)
    answer(qloop, window, shop, 2)
    answer(qloop, window, held, 3)
    queue = window.queue_tab
    assert queue.model.rowCount() == 5 and queue.stack.currentWidget() is queue.table

    # Newest first; words, not codes.
    assert cells(queue, VENDOR) == ["Held"] * 3 + ["Shop"] * 2
    assert cells(queue, STATE) == ["Held: dry run"] * 3 + ["Done"] * 2
    assert set(cells(queue, ATTEMPTS)) == {"0 of 3", "1 of 3"}
    assert cells(queue, NEXT)[:3] == ["held"] * 3 and cells(queue, NEXT)[3:] == ["", ""]
    assert all(text.startswith("confirm ") and text.endswith("items") for text in cells(queue, ANSWER))
    order = next(o for o in orders_for(services.db) if o.vendor_id == shop and o.status == "confirmed")
    assert f"{order.order_number} / {order.shipment_number}" in cells(queue, ORDER)

    # Filters by vendor and by state, instantly.
    queue.vendor_filter.setCurrentIndex(queue.vendor_filter.findData(shop))
    assert cells(queue, VENDOR) == ["Shop"] * 2
    queue.state_filter.setCurrentIndex(queue.state_filter.findData("pending"))
    assert queue.proxy.rowCount() == 0 and queue.empty.text() == FILTERED_TEXT
    assert queue.stack.currentWidget() is queue.empty
    queue.vendor_filter.setCurrentIndex(0)
    assert cells(queue, VENDOR) == ["Held"] * 3
    queue.state_filter.setCurrentIndex(queue.state_filter.findData("done"))
    assert cells(queue, STATE) == ["Done"] * 2
    queue.state_filter.setCurrentIndex(0)
    # The filters survive a reload.
    queue.vendor_filter.setCurrentIndex(queue.vendor_filter.findData(held))
    qloop.run_until_complete(queue.reload())
    assert queue.vendor_filter.currentData() == held and queue.proxy.rowCount() == 3
    queue.vendor_filter.setCurrentIndex(0)

    # "Send due answers": the dry-run vendor holds its answers and says so.
    queue.send_button.click()
    assert not queue.send_button.isEnabled() and queue.send_button.text() == "Sending…"
    settle(qloop, window)
    assert queue.send_button.isEnabled() and "Held: Dry run" in queue.note.text()
    assert cells(queue, STATE).count("Held: dry run") == 3


def test_cancel_pending_answers(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    window, _shop, held = two_vendors(qtbot, qloop, services, sandbox)
    pks = answer(qloop, window, held, 3)
    queue = window.queue_tab

    # One: no question asked; the order's items are open again.
    select(queue, 0)
    assert queue.cancel_button.isEnabled() and queue.retry_button.isEnabled()
    queue.ask = lambda *_: (_ for _ in ()).throw(AssertionError("asked for one"))  # type: ignore[method-assign]
    qloop.run_until_complete(queue.cancel_selected())
    settle(qloop, window)
    assert cells(queue, STATE) == ["Cancelled", "Held: dry run", "Held: dry run"]
    assert cells(queue, ERROR)[0] == "cancelled by the vendor"
    reopened = next(o for o in orders_for(services.db) if o.id == pks[-1])
    assert reopened.status == "pending" and all(u.answer is None for u in reopened.units)
    assert window.orders_tab.model.row_at(
        next(r for r in range(window.orders_tab.model.rowCount()) if window.orders_tab.model.row_at(r).pk == pks[-1])
    ).open_units
    assert not queue.cancel_button.isEnabled()  # a cancelled task stays selected, and cannot be cancelled again

    # Several: asked first; "no" changes nothing.
    select(queue, 1, 2)
    questions: list[str] = []
    queue.ask = lambda _t, text: questions.append(text) or False  # type: ignore[method-assign]
    assert queue.cancel_selected() is None and "Cancel 2 answers?" in questions[0]
    queue.ask = lambda *_: True  # type: ignore[method-assign]
    qloop.run_until_complete(queue.cancel_selected())
    settle(qloop, window)
    assert cells(queue, STATE) == ["Cancelled"] * 3
    assert all(o.status == "pending" for o in orders_for(services.db) if o.id in pks)


def test_retry_now_on_a_failed_answer(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    window, shop, _held = two_vendors(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    row = next(
        tab.model.row_at(r)
        for r in range(tab.model.rowCount())
        if tab.model.row_at(r).vendor_id == shop and tab.model.row_at(r).items >= 2
    )
    first, second = (unit.unit_id for unit in row.order.units[:2])
    undo = refuse_answers(sandbox, "Shop closed for inventory")
    tab.select_pk(row.pk)
    tab.actions.confirm_units([first])
    settle(qloop, window)

    queue = window.queue_tab
    assert cells(queue, STATE) == ["Failed"]
    assert "Shop closed for inventory" in cells(queue, ERROR)[0] and cells(queue, ATTEMPTS) == ["1 of 3"]
    assert window.tabs.tabText(window.tabs.indexOf(queue)) == "Queue (1 failed)"
    select(queue, 0)
    assert "Shop closed for inventory" in queue.detail.text()  # in full below the table

    # The order's next answer waits behind the failed one, and says so.
    tab.actions.confirm_units([second])
    settle(qloop, window)
    assert cells(queue, STATE) == ["Behind a failed answer", "Failed"]

    # Still refused: failed again, with a fresh attempt count.
    select(queue, 1)
    qloop.run_until_complete(queue.retry_selected())
    settle(qloop, window)
    assert cells(queue, STATE) == ["Behind a failed answer", "Failed"] and cells(queue, ATTEMPTS)[1] == "1 of 3"
    assert "refused" in queue.note.text()

    # Letzshop takes answers again: the retry goes through, and the answer behind it too.
    undo()
    select(queue, 1)
    queue.retry_button.click()
    settle(qloop, window)
    assert cells(queue, STATE) == ["Done", "Done"] and cells(queue, ERROR) == ["", ""]
    assert window.tabs.tabText(window.tabs.indexOf(queue)) == "Queue"
    assert "sent to Letzshop" in queue.note.text()
    assert sandbox.state.answer_counts() == {first: 1, second: 1}


def _task(**changes: object) -> TaskView:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    values: dict[str, object] = dict(
        id=1,
        vendor_id=1,
        vendor_name="Shop",
        order_pk=1,
        order_number="R1",
        shipment_number="S1",
        operation="confirm",
        payload={"units": ["a", "b"]},
        status="pending",
        attempts=0,
        max_attempts=3,
        next_attempt_at=now,
        verify=False,
        last_error=None,
        created_at=now,
        finished_at=None,
        dry_run=False,
    )
    values.update(changes)
    return TaskView(**values)  # type: ignore[arg-type]


def test_model_sorts_by_value(qtbot: QtBot) -> None:
    model = QueueTableModel()
    later = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    model.set_rows(
        [
            _task(id=1, status="done", attempts=10, max_attempts=10),
            _task(id=2, attempts=2, last_error="Letzshop is busy", next_attempt_at=later),
            _task(id=3, status="failed", attempts=9, last_error="refused"),
            _task(id=4, order_pk=2, operation="tracking", payload={"code": "LU1", "carrier": "dpd"}),
            _task(id=5),  # the same order as the failed task 3, made after it
        ]
    )
    index = model.index
    assert [model.data(index(r, ATTEMPTS), SORT_ROLE) for r in range(4)] == [10, 2, 9, 0]
    assert model.data(index(0, ATTEMPTS)) == "10 of 10"  # not "10" < "9" as text
    assert [model.data(index(r, STATE)) for r in range(5)] == [
        "Done",
        "Waiting to retry",
        "Failed",
        "Waiting",
        "Behind a failed answer",
    ]
    assert model.data(index(2, STATE), SORT_ROLE) < model.data(index(1, STATE), SORT_ROLE)  # failed first
    assert model.data(index(1, NEXT), SORT_ROLE) == later.timestamp()
    assert model.data(index(0, NEXT)) == "" and model.data(index(0, NEXT), SORT_ROLE) == float("inf")
    assert model.data(index(3, ANSWER)) == "tracking LU1 (dpd)"
    assert model.data(index(0, ORDER)) == "R1 / S1"
    assert model.data(index(1, NEXT)) == later.astimezone().strftime(
        "%H:%M" if later.astimezone().date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M"
    )
