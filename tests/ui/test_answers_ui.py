"""Answering orders from the window: the real services on a temporary data dir, the sandbox over loopback.

Each answer is queued in a worker thread and sent by a background drain; the tests await those
tasks (never sleep) and then read the database, the sandbox's record and the widgets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from filelock import FileLock
from graphql import GraphQLError
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from letzdesk.app import Services
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.orders import orders_for
from letzdesk.services.worker import LOCK_NAME
from letzdesk.ui.answer_dialogs import DeclineDialog, TrackingDialog
from letzdesk.ui.answer_sender import BUSY_NOTE
from letzdesk.ui.main_window import MainWindow
from letzdesk.ui.order_detail import STATE
from letzdesk.ui.orders_model import LETZSHOP, ROW_ROLE, OrderRow
from letzdesk.ui.orders_tab import OrdersTab
from tests.conftest import TEST_KEY

Loop = asyncio.AbstractEventLoop


def open_window(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer, **vendor: object) -> MainWindow:
    """A vendor imported from the sandbox, and the window on it."""
    vendor_id = services.vendors.add("Shop", TEST_KEY, sandbox.url, **vendor)  # type: ignore[arg-type]
    qloop.run_until_complete(services.importer.run(vendor_id, "Shop"))
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    qloop.run_until_complete(window.orders_tab.reload())
    return window


def settle(qloop: Loop, window: MainWindow) -> None:
    """Until the answer (or retry, or cancel) is queued, every drain it started has ended, and both
    tables are read again."""

    async def wait() -> None:
        for task in (window.orders_tab.actions.task, window.queue_tab.action_task):
            if task is not None:
                await task
        await window.answer_sender.wait_idle()
        await window.orders_tab.reload()
        await window.queue_tab.reload()

    qloop.run_until_complete(wait())


def multi_unit_rows(tab: OrdersTab, count: int = 1) -> list[OrderRow]:
    rows = [tab.model.row_at(r) for r in range(tab.model.rowCount())]
    return [row for row in rows if row.items >= 2][:count]


def fresh(services: Services, pk: int):  # type: ignore[no-untyped-def]
    return next(order for order in orders_for(services.db) if order.id == pk)


def letzshop_cell(tab: OrdersTab, pk: int) -> str:
    for r in range(tab.proxy.rowCount()):
        if tab.proxy.index(r, 0).data(ROW_ROLE).pk == pk:
            return tab.proxy.index(r, LETZSHOP).data()
    raise AssertionError(f"order {pk} not in the table")


def test_confirm_all_on_one_order(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    window = open_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    tab.select_pk(row.pk)
    assert tab.actions.confirm_all_button.isEnabled() and not tab.actions.tracking_button.isEnabled()
    assert letzshop_cell(tab, row.pk) == ""

    tab.actions.confirm_all_button.click()
    assert not tab.actions.confirm_all_button.isEnabled()  # busy at once: a double click queues nothing twice
    settle(qloop, window)

    order = fresh(services, row.pk)
    assert {unit.state for unit in order.units} == {"confirmed_available"} and order.status == "confirmed"
    assert sandbox.state.answer_counts() == {unit.unit_id: 1 for unit in order.units}
    assert letzshop_cell(tab, row.pk) == "Sent"
    assert tab.current_row().pk == row.pk  # the selection survived the reloads
    states = {tab.detail.units.item(r, STATE).text() for r in range(tab.detail.units.rowCount())}
    assert states == {"Confirmed"}
    assert tab.detail.writeback.text() == "Answers: Sent to Letzshop" and not tab.detail.retry_button.isVisible()
    assert "sent to Letzshop" in tab.actions.note.text()
    assert tab.actions.tracking_button.isEnabled() and not tab.actions.confirm_all_button.isEnabled()
    assert window.queue_tab.model.rowCount() == 1


def test_decline_ticked_units_with_a_reason(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    window = open_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    tab.select_pk(row.pk)
    first, *others = [unit.unit_id for unit in row.order.units]
    assert not tab.detail.decline_button.isEnabled()  # nothing ticked yet

    # A click anywhere on the row ticks the item.
    tab.detail.units.cellClicked.emit(0, STATE)
    assert tab.detail.checked_units() == [first] and tab.detail.decline_button.text() == "Decline 1 ticked…"
    tab.detail.decline_button.click()
    dialog = tab.actions.dialog
    assert isinstance(dialog, DeclineDialog) and dialog.isVisible()
    assert not dialog.ok_button.isEnabled()
    dialog.accept()  # without a reason nothing happens
    assert dialog.isVisible() and tab.actions.task is None

    quick = next(b for b in dialog.findChildren(type(dialog.ok_button)) if b.text() == "Out of stock")
    quick.click()
    assert dialog.reason_text() == "Out of stock" and dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    settle(qloop, window)

    units = {unit.unit_id: unit for unit in fresh(services, row.pk).units}
    assert units[first].state == "confirmed_unavailable" and units[first].decline_reason == "Out of stock"
    assert all(units[u].state == "unconfirmed" and units[u].answer is None for u in others)
    assert sandbox.state.unit(first)["state"] == "confirmed_unavailable"
    assert all(sandbox.state.unit(u)["state"] == "unconfirmed" for u in others)
    assert tab.detail.units.item(0, STATE).text() == "Declined — Out of stock"
    assert tab.detail.units.item(1, STATE).text() == "Awaiting answer"
    # A declined item cannot be ticked again: Letzshop takes one answer per item.
    assert not tab.detail.units.item(0, 0).flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert letzshop_cell(tab, row.pk) == "Sent"
    assert not tab.actions.tracking_button.isEnabled()  # still nothing confirmed


def test_tracking_is_normalised_and_ships_the_order(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    window = open_window(qtbot, qloop, services, sandbox, default_carrier="dpd")
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    tab.select_pk(row.pk)
    assert not tab.actions.tracking_button.isEnabled() and tab.actions.set_tracking() is None

    # Confirm one ticked item: enough for tracking.
    tab.detail.set_checked([row.order.units[0].unit_id])
    tab.detail.confirm_button.click()
    settle(qloop, window)
    assert tab.actions.tracking_button.isEnabled()
    # The rest too, or the order stays pending (an item still awaits an answer) even once tracked.
    assert tab.actions.confirm_all_button.isEnabled()
    tab.actions.confirm_all_button.click()
    settle(qloop, window)

    tab.actions.tracking_button.click()
    dialog = tab.actions.dialog
    assert isinstance(dialog, TrackingDialog)
    assert dialog.carrier.currentData() == "dpd" and not dialog.other_carrier.isVisible()
    field = dialog.numbers[row.pk]
    qtbot.keyClicks(field, "lu 123 456")
    assert field.text() == "LU123456"  # tidied as typed
    dialog.accept()
    settle(qloop, window)

    order = fresh(services, row.pk)
    assert (order.tracking_number, order.tracking_carrier, order.status) == ("LU123456", "dpd", "shipped")
    assert sandbox.state.trackings(order.shipment_id) == [{"code": "LU123456", "provider": "dpd"}]
    assert letzshop_cell(tab, row.pk) == "Sent"
    assert "tracking LU123456 (dpd)" in tab.detail.summary.text()


def test_tracking_dialog_values(qtbot: QtBot) -> None:
    """Numbers are tidied on accept too; "other" takes a typed carrier; nothing goes without both."""
    from letzdesk.ui.answer_dialogs import TrackingTarget

    dialog = TrackingDialog([TrackingTarget(1, "R1"), TrackingTarget(2, "R2", "OLD1")], None)
    qtbot.addWidget(dialog)
    assert dialog.carrier.currentData() is None and dialog.numbers[2].text() == "OLD1"
    dialog.numbers[1].setText(" ab 12 cd ")
    dialog.numbers[2].clear()
    dialog.accept()
    assert dialog.error.text() == "Choose the carrier, or type its name." and dialog.result() == 0
    dialog.carrier.setCurrentIndex(dialog.carrier.findData("other"))
    dialog.accept()
    assert dialog.result() == 0
    dialog.other_carrier.setText("Luxtrans")
    dialog.accept()
    assert dialog.result() == TrackingDialog.DialogCode.Accepted
    assert dialog.values() == {1: "AB12CD"} and dialog.carrier_code() == "Luxtrans"

    custom = TrackingDialog([TrackingTarget(1, "R1")], "Luxtrans")
    qtbot.addWidget(custom)
    assert custom.carrier.currentData() == "other" and custom.other_carrier.text() == "Luxtrans"

    # A number the service would refuse is said in the dialog, which stays open.
    short = TrackingDialog([TrackingTarget(1, "R1")], "dhl")
    qtbot.addWidget(short)
    short.numbers[1].setText("a#")
    short.accept()
    assert short.result() == 0 and "3 to 60 letters and digits" in short.error.text()


def test_confirm_and_track_several_orders(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    window = open_window(qtbot, qloop, services, sandbox, default_carrier="post_lu")
    tab = window.orders_tab
    rows = multi_unit_rows(tab, 3)
    tab.select_pks([row.pk for row in rows])
    assert len(tab.selected_rows()) == 3

    questions: list[str] = []
    tab.actions.ask = lambda _title, text: questions.append(text) or False  # type: ignore[method-assign]
    assert tab.actions.confirm_all() is None and sandbox.state.answer_counts() == {}
    tab.actions.ask = lambda _title, _text: True  # type: ignore[method-assign]
    tab.actions.confirm_all()
    settle(qloop, window)
    assert "3 orders" in questions[0]

    units = [unit.unit_id for row in rows for unit in fresh(services, row.pk).units]
    assert sandbox.state.answer_counts() == dict.fromkeys(units, 1)
    assert all(fresh(services, row.pk).status == "confirmed" for row in rows)
    assert [letzshop_cell(tab, row.pk) for row in rows] == ["Sent"] * 3

    # One dialog for the selection: a number per order; an empty one skips that order.
    dialog = tab.actions.set_tracking()
    assert isinstance(dialog, TrackingDialog) and set(dialog.numbers) == {row.pk for row in rows}
    dialog.numbers[rows[0].pk].setText("aa 111")
    dialog.numbers[rows[1].pk].setText("bb 222")
    dialog.carrier.setCurrentIndex(dialog.carrier.findData("other"))
    dialog.other_carrier.setText("Luxtrans")
    dialog.accept()
    settle(qloop, window)
    shipped = [fresh(services, row.pk) for row in rows]
    assert [(o.tracking_number, o.tracking_carrier) for o in shipped] == [
        ("AA111", "Luxtrans"),
        ("BB222", "Luxtrans"),
        (None, None),
    ]
    assert [o.status for o in shipped] == ["shipped", "shipped", "confirmed"]
    assert sandbox.state.tracking_counts() == {shipped[0].shipment_id: 1, shipped[1].shipment_id: 1}


def test_decline_all_on_several_orders(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    window = open_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    rows = multi_unit_rows(tab, 2)
    tab.select_pks([row.pk for row in rows])
    tab.actions.decline_all_button.click()
    dialog = tab.actions.dialog
    assert isinstance(dialog, DeclineDialog) and "every open item of 2 orders" in dialog.intro.text()
    dialog.reason.setText("  Discontinued  ")
    dialog.accept()
    settle(qloop, window)

    for row in rows:
        order = fresh(services, row.pk)
        assert order.status == "declined"
        assert {(u.state, u.decline_reason) for u in order.units} == {("confirmed_unavailable", "Discontinued")}
        assert all(sandbox.state.answers(u.unit_id) == [False] for u in order.units)
    assert [letzshop_cell(tab, row.pk) for row in rows] == ["Sent", "Sent"]
    assert not tab.actions.tracking_button.isEnabled() and not tab.actions.decline_all_button.isEnabled()


def test_dry_run_keeps_answers_queued(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    window = open_window(qtbot, qloop, services, sandbox, dry_run=True)
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    tab.select_pk(row.pk)
    tab.actions.confirm_all()
    settle(qloop, window)

    assert sandbox.state.answer_counts() == {}
    assert letzshop_cell(tab, row.pk) == "Queued (dry run)"
    states = {tab.detail.units.item(r, STATE).text() for r in range(tab.detail.units.rowCount())}
    assert states == {"Confirmed (queued)"}
    assert "Dry run" in tab.actions.note.text()
    # Still open on Letzshop: the queued answer can be replaced by a decline.
    assert tab.detail.units.item(0, 0).flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert fresh(services, row.pk).status == "confirmed"


def refuse_answers(sandbox: SandboxServer, message: str) -> Callable[[], None]:
    """Letzshop refuses every confirmation with ``message`` (the items stay open); returns the undo."""
    original = sandbox.state.confirm_units

    def refuse(_answers):  # type: ignore[no-untyped-def]
        raise GraphQLError(message)

    sandbox.state.confirm_units = refuse  # type: ignore[method-assign]
    return lambda: setattr(sandbox.state, "confirm_units", original)


def test_a_refused_answer_shows_failed_and_retries(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    window = open_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    first = row.order.units[0].unit_id
    undo = refuse_answers(sandbox, "Shop closed for inventory")

    tab.select_pk(row.pk)
    tab.detail.set_checked([first])
    tab.detail.confirm_button.click()
    settle(qloop, window)
    cell = letzshop_cell(tab, row.pk)
    assert cell.startswith("Failed: ") and "Shop closed for inventory" in cell
    assert "Shop closed for inventory" in tab.detail.writeback.text() and tab.detail.retry_button.isVisible()
    assert window.tabs.tabText(window.tabs.indexOf(window.queue_tab)) == "Queue (1 failed)"
    assert fresh(services, row.pk).status == "pending"  # the item is open again
    assert tab.detail.units.item(0, STATE).text() == "Awaiting answer"
    tab.status_filter.setCurrentIndex(tab.status_filter.findData("writeback:failed"))
    assert tab.proxy.rowCount() == 1
    tab.status_filter.setCurrentIndex(0)

    # Letzshop takes answers again; Retry sends it.
    undo()
    tab.detail.retry_button.click()
    settle(qloop, window)
    assert letzshop_cell(tab, row.pk) == "Sent"
    assert fresh(services, row.pk).units[0].state == "confirmed_available"
    assert sandbox.state.answer_counts() == {first: 1}
    assert window.tabs.tabText(window.tabs.indexOf(window.queue_tab)) == "Queue"


def test_an_answer_letzshop_already_has_otherwise_fails(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    """Declined on Letzshop meanwhile: the confirmation fails with Letzshop's words, and the
    item shows Letzshop's answer."""
    window = open_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    shipment = next(s for s in sandbox.state.shipments if s["id"] == row.order.shipment_id)
    shipment["inventoryUnits"][0]["state"] = "confirmed_unavailable"
    sandbox.state.touch(reindex=False)

    tab.select_pk(row.pk)
    tab.detail.set_checked([row.order.units[0].unit_id])
    tab.detail.confirm_button.click()
    settle(qloop, window)
    assert "cannot be changed" in letzshop_cell(tab, row.pk)
    assert tab.detail.units.item(0, STATE).text() == "Declined"
    assert not tab.detail.units.item(0, 0).flags() & Qt.ItemFlag.ItemIsUserCheckable


def test_errors_from_the_service_are_shown(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    window = open_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    tab.select_pk(row.pk)
    tab.actions.confirm_all()
    settle(qloop, window)
    # Decline a unit Letzshop already has confirmed (the detail pane would not offer it).
    tab.actions.decline_units([row.order.units[0].unit_id])
    tab.actions.dialog.reason.setText("Broken")  # type: ignore[union-attr]
    tab.actions.dialog.accept()  # type: ignore[union-attr]
    settle(qloop, window)
    assert "already confirmed" in tab.actions.note.text() and "#b3261e" in tab.actions.note.styleSheet()


def test_start_sending_notes_another_sender(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    other = FileLock(services.settings.data_dir / LOCK_NAME)
    other.acquire()
    try:
        window = MainWindow(services)
        qtbot.addWidget(window)
        assert qloop.run_until_complete(window.start_sending(60_000)) is False
        assert window.statusBar().currentMessage() == BUSY_NOTE
        qloop.run_until_complete(window.answer_sender.request())
        assert window.statusBar().currentMessage() == BUSY_NOTE
        qloop.run_until_complete(window.shutdown())
    finally:
        other.release()


def test_shutdown_cancels_a_drain_in_flight(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    """Quitting while Letzshop has not answered: the drain is cancelled and awaited, and the
    task is left to be read back before any resend."""
    window = open_window(qtbot, qloop, services, sandbox)
    assert qloop.run_until_complete(window.start_sending(60_000))
    tab = window.orders_tab
    row = multi_unit_rows(tab)[0]
    arrived, release = threading.Event(), threading.Event()
    original = sandbox.state.confirm_units

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        arrived.set()
        release.wait(timeout=20)
        return original(*args, **kwargs)

    sandbox.state.confirm_units = held  # type: ignore[method-assign]

    async def scenario() -> None:
        tab.select_pk(row.pk)
        await tab.actions.confirm_all()  # type: ignore[misc]
        while not arrived.is_set():
            await asyncio.sleep(0.01)
        assert window.answer_sender.busy
        await window.shutdown()
        assert not window.answer_sender.busy

    try:
        qloop.run_until_complete(scenario())
    finally:
        release.set()
    task = services.answers.tasks()[0]
    assert task.status == "pending" and task.verify
