"""The orders tab on a real offscreen window, syncing from the sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import threading

from PySide6.QtCore import Qt

from letzdesk.app import Services
from letzdesk.sandbox.server import SandboxServer
from letzdesk.ui.main_window import MainWindow
from letzdesk.ui.orders_model import ITEMS, NUMBER, ROW_ROLE, SORT_ROLE, TOTAL
from tests.conftest import TEST_KEY


def _synced_window(qtbot, qloop, services: Services, sandbox: SandboxServer) -> MainWindow:  # type: ignore[no-untyped-def]
    services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    qloop.run_until_complete(window.orders_tab.start_sync("user"))
    return window


def test_sync_fills_the_table_and_detail(qtbot, qloop, services: Services, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    window = _synced_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    assert tab.proxy.rowCount() == 40
    assert window.tabs.tabText(0) == "Orders (40)"
    assert "40 new" in tab.progress_label.text()
    assert tab.sync_button.isEnabled() and not tab.progress.isVisible()

    # Newest first by default, sorted by the timestamp rather than the display text.
    dates = [tab.proxy.index(r, 1).data(SORT_ROLE) for r in range(tab.proxy.rowCount())]
    assert dates == sorted(dates, reverse=True)

    tab.table.selectRow(0)
    row = tab.proxy.index(0, 0).data(ROW_ROLE)
    assert row.number in tab.detail.title.text()
    assert tab.detail.units.rowCount() == row.items == len(row.order.units)
    skus = {tab.detail.units.item(r, 1).text() for r in range(tab.detail.units.rowCount())}
    assert skus == {unit.sku or "" for unit in row.order.units}


def test_search_and_status_filter(qtbot, qloop, services: Services, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    window = _synced_window(qtbot, qloop, services, sandbox)
    tab = window.orders_tab
    target = tab.proxy.index(5, NUMBER).data()
    qtbot.keyClicks(tab.search, target.lower())
    assert tab.proxy.rowCount() == 1 and tab.proxy.index(0, NUMBER).data() == target
    tab.search.clear()

    surname = sandbox.state.shipments[0]["order"]["shipAddress"]["lastName"]
    tab.search.setText(surname)
    expected = sum(
        1
        for s in sandbox.state.shipments
        if surname.casefold()
        in " ".join(
            filter(
                None,
                [
                    (s["order"].get("shipAddress") or {}).get("firstName"),
                    (s["order"].get("shipAddress") or {}).get("lastName"),
                    s["order"].get("email"),
                ],
            )
        ).casefold()
        or any(
            surname.casefold() in ((u.get("variant") or {}).get("sku") or "").casefold() for u in s["inventoryUnits"]
        )
    )
    assert tab.proxy.rowCount() >= expected >= 1
    tab.search.clear()

    tab.status_filter.setCurrentIndex(tab.status_filter.findData("declined"))
    assert tab.proxy.rowCount() == 0
    tab.status_filter.setCurrentIndex(tab.status_filter.findData("pending"))
    assert tab.proxy.rowCount() == 40


def test_money_and_items_sort_as_values(qtbot, qloop, services: Services, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    tab = _synced_window(qtbot, qloop, services, sandbox).orders_tab
    tab.table.sortByColumn(TOTAL, Qt.SortOrder.AscendingOrder)
    totals = [tab.proxy.index(r, TOTAL).data(SORT_ROLE) for r in range(tab.proxy.rowCount())]
    assert totals == sorted(totals)
    tab.table.sortByColumn(ITEMS, Qt.SortOrder.DescendingOrder)
    items = [int(tab.proxy.index(r, ITEMS).data()) for r in range(tab.proxy.rowCount())]
    assert items == sorted(items, reverse=True)


def test_window_keeps_working_while_letzshop_has_not_answered(
    qtbot,
    qloop,
    services: Services,  # type: ignore[no-untyped-def]
    sandbox: SandboxServer,
) -> None:
    """The sandbox holds its answer until the GUI has proved it is alive: typing in the search
    box is filtered and a timer fires, all while the request is outstanding. A window that
    waited on the network would never get there, and the held request would fail the sync."""
    services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    tab = window.orders_tab
    qloop.run_until_complete(tab.start_sync("user"))  # 40 orders in the table
    original = sandbox.state.page
    request_arrived, gui_alive = threading.Event(), threading.Event()

    def held_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        request_arrived.set()
        gui_alive.wait(timeout=20)  # the sandbox's own thread: for us this is a silent network
        return original(*args, **kwargs)

    sandbox.state.page = held_page  # type: ignore[method-assign]

    async def scenario() -> None:
        task = tab.start_sync("user")
        assert tab.progress.isVisible() and not tab.sync_button.isEnabled()
        while not request_arrived.is_set():
            await asyncio.sleep(0.01)
        target = tab.proxy.index(3, NUMBER).data()
        qtbot.keyClicks(tab.search, target)
        assert tab.proxy.rowCount() == 1  # the GUI filters while the request is outstanding
        await asyncio.sleep(0.05)  # timers still fire
        assert not task.done()
        gui_alive.set()
        await task

    qloop.run_until_complete(scenario())
    assert "0 new" in tab.progress_label.text() and tab.sync_button.isEnabled()
    tab.search.clear()
    assert tab.proxy.rowCount() == 40


def test_empty_state_without_vendors(qtbot, qloop, services: Services) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(services)
    qtbot.addWidget(window)
    qloop.run_until_complete(window.orders_tab.reload())
    assert window.orders_tab.stack.currentWidget() is window.orders_tab.empty
    qloop.run_until_complete(window.orders_tab.start_sync("user"))
    assert window.orders_tab.progress_label.text() == "No vendor to sync."
