"""The orders tab on a real offscreen window, syncing from the sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import time

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


def test_window_keeps_painting_during_a_slow_sync(
    qtbot,
    qloop,
    services: Services,  # type: ignore[no-untyped-def]
    sandbox: SandboxServer,
) -> None:
    """While Letzshop is slow, the GUI loop keeps turning: timers fire at a steady pace."""
    services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    original = sandbox.state.page

    def slow_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # the sandbox runs in its own thread: this is network latency for us
        return original(*args, **kwargs)

    sandbox.state.page = slow_page  # type: ignore[method-assign]
    ticks: list[float] = []

    async def scenario() -> None:
        task = window.orders_tab.start_sync("user")
        assert window.orders_tab.progress.isVisible() and not window.orders_tab.sync_button.isEnabled()
        while not task.done():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)
        await task

    qloop.run_until_complete(scenario())
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10
    assert max(gaps) < 0.25, f"GUI loop stalled for {max(gaps):.3f} s"
    assert window.orders_tab.proxy.rowCount() == 40


def test_empty_state_without_vendors(qtbot, qloop, services: Services) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(services)
    qtbot.addWidget(window)
    qloop.run_until_complete(window.orders_tab.reload())
    assert window.orders_tab.stack.currentWidget() is window.orders_tab.empty
    qloop.run_until_complete(window.orders_tab.start_sync("user"))
    assert window.orders_tab.progress_label.text() == "No vendor to sync."
