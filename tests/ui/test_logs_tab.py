"""The logs tab on the real services: runs written by synclog.record, filters, sorting and the detail."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from letzdesk.app import Services
from letzdesk.services import synclog
from letzdesk.services.synclog import SyncRun
from letzdesk.store.types import utcnow
from letzdesk.ui.logs_model import COUNTS, DURATION, ROW_ROLE, STARTED, STATUS, VENDOR
from letzdesk.ui.logs_tab import EMPTY_TEXT, FILTERED_TEXT, PERIODS, LogsTab, period_start
from letzdesk.ui.main_window import MainWindow
from tests.conftest import TEST_KEY

Loop = asyncio.AbstractEventLoop
ENDPOINT = "http://127.0.0.1:9/graphql"


def write(
    services: Services,
    vendor_id: int,
    name: str,
    *,
    days_ago: float,
    operation: str = "import orders",
    took_ms: int = 500,
    **fields: object,
) -> int:
    """One run that started ``days_ago`` days back and took ``took_ms``; ``fields`` set its counts."""
    outbound = operation == "send answers"
    started = utcnow() - timedelta(days=days_ago)
    run = SyncRun(vendor_id, name, operation, "outbound" if outbound else "inbound", "user", started_at=started)
    for key, value in fields.items():
        setattr(run, key, value)
    row = synclog.record(services.db, run)
    # record() measures the duration up to now; give each run its own for the sorting test.
    with services.db.write_session() as session:
        stored = session.get(type(row), row.id)
        assert stored is not None
        stored.duration_ms = took_ms
    return row.id


def history(services: Services) -> dict[str, int]:
    shop = services.vendors.add("Shop", TEST_KEY, ENDPOINT)
    cafe = services.vendors.add("Café", TEST_KEY, ENDPOINT)
    return {
        "shop new": write(services, shop, "Shop", days_ago=0.01, took_ms=1_200, imported=12, updated=3, unchanged=40),
        "shop failed": write(
            services,
            shop,
            "Shop",
            days_ago=2,
            took_ms=90_000,
            error="Letzshop refused the API key.",
        ),
        "shop send": write(
            services,
            shop,
            "Shop",
            days_ago=5,
            operation="send answers",
            took_ms=300,
            updated=5,
            failed=1,
            details=[{"task": 17, "shipment": "H1234", "error": "Unit already confirmed"}],
        ),
        "cafe partial": write(
            services,
            cafe,
            "Café",
            days_ago=10,
            took_ms=9_000,
            imported=4,
            failed=2,
            details=[{"shipment": "S1", "error": "no address"}, {"shipment": "S2", "error": "bad price"}],
        ),
        "cafe old": write(services, cafe, "Café", days_ago=45, took_ms=40, unchanged=7),
    }


def open_tab(qtbot: QtBot, qloop: Loop, services: Services) -> tuple[MainWindow, LogsTab]:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    window.tabs.setCurrentWidget(window.logs_tab)  # the first showing loads the tab
    qloop.run_until_complete(window.logs_tab.reload())
    return window, window.logs_tab


def ids(tab: LogsTab) -> list[int]:
    return [tab.proxy.index(r, 0).data(ROW_ROLE).id for r in range(tab.proxy.rowCount())]


def choose(combo, data: object) -> None:  # type: ignore[no-untyped-def]
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def test_empty_log_says_what_it_is_for(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    window, tab = open_tab(qtbot, qloop, services)
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "Logs"
    assert window.tabs.indexOf(tab) == window.tabs.indexOf(window.queue_tab) + 1
    assert tab.stack.currentWidget() is tab.empty
    assert tab.empty.text() == EMPTY_TEXT


def test_rows_show_counts_status_and_the_last_30_days(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    runs = history(services)
    _window, tab = open_tab(qtbot, qloop, services)

    # Newest first; the 45-day-old run is outside the default period.
    assert ids(tab) == [runs["shop new"], runs["shop failed"], runs["shop send"], runs["cafe partial"]]
    assert tab.proxy.index(0, COUNTS).data() == "12 new, 3 updated, 40 unchanged, 0 failed"
    assert tab.proxy.index(1, COUNTS).data() == "nothing read"  # stopped before the first page
    assert tab.proxy.index(2, COUNTS).data() == "5 sent, 1 failed"
    assert [tab.proxy.index(r, STATUS).data() for r in range(4)] == ["Success", "Failed", "Partial", "Partial"]
    assert tab.proxy.index(1, DURATION).data() == "1 min 30 s"

    choose(tab.period_filter, None)
    qloop.run_until_complete(tab.reload())
    assert ids(tab)[-1] == runs["cafe old"]
    choose(tab.period_filter, PERIODS[0][1])
    qloop.run_until_complete(tab.reload())
    # "Today" starts at local midnight: the 15-minute-old run is in it unless midnight just passed.
    assert set(ids(tab)) <= {runs["shop new"]}


def test_each_filter_narrows_the_rows(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    runs = history(services)
    _window, tab = open_tab(qtbot, qloop, services)
    cafe = next(vid for vid, name in services.vendors.names().items() if name == "Café")

    choose(tab.vendor_filter, f"id:{cafe}")
    assert ids(tab) == [runs["cafe partial"]]
    choose(tab.vendor_filter, None)

    choose(tab.operation_filter, "send answers")
    assert ids(tab) == [runs["shop send"]]
    choose(tab.operation_filter, None)

    choose(tab.status_filter, "failed")
    assert ids(tab) == [runs["shop failed"]]

    choose(tab.vendor_filter, f"id:{cafe}")
    assert ids(tab) == []
    assert tab.stack.currentWidget() is tab.empty and tab.empty.text() == FILTERED_TEXT

    choose(tab.period_filter, PERIODS[1][1])  # last 7 days: a query, not a proxy filter
    choose(tab.status_filter, None)
    choose(tab.vendor_filter, None)
    qloop.run_until_complete(tab.reload())
    assert ids(tab) == [runs["shop new"], runs["shop failed"], runs["shop send"]]


def test_removed_vendor_keeps_its_runs_under_its_name(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    runs = history(services)
    cafe = next(vid for vid, name in services.vendors.names().items() if name == "Café")
    services.vendors.remove(cafe)
    _window, tab = open_tab(qtbot, qloop, services)

    choose(tab.vendor_filter, "name:Café")
    assert ids(tab) == [runs["cafe partial"]]
    assert tab.proxy.index(0, VENDOR).data() == "Café (removed)"


def test_started_and_duration_sort_by_value(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    runs = history(services)
    _window, tab = open_tab(qtbot, qloop, services)

    # "1 min 30 s" < "9.0 s" < "1.2 s" as text; by value it is 300 ms, 1.2 s, 9 s, 90 s.
    tab.table.sortByColumn(DURATION, Qt.SortOrder.AscendingOrder)
    assert ids(tab) == [runs["shop send"], runs["shop new"], runs["cafe partial"], runs["shop failed"]]

    # A run from this morning shows as "HH:MM" and older ones with their date: text would mix them.
    tab.table.sortByColumn(STARTED, Qt.SortOrder.AscendingOrder)
    assert ids(tab) == [runs["cafe partial"], runs["shop send"], runs["shop failed"], runs["shop new"]]


def test_detail_shows_the_error_and_each_failed_item(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    runs = history(services)
    _window, tab = open_tab(qtbot, qloop, services)
    assert tab.detail.isReadOnly()
    assert tab.detail.toPlainText() == ""

    tab.select_id(runs["shop failed"])
    text = tab.detail.toPlainText()
    assert "Shop: import orders, failed." in text
    assert "What went wrong: Letzshop refused the API key." in text

    tab.select_id(runs["cafe partial"])
    text = tab.detail.toPlainText()
    assert "2 items failed:" in text
    assert "shipment S1: no address" in text and "shipment S2: bad price" in text

    tab.select_id(runs["shop send"])
    assert "shipment H1234, answer #17: Unit already confirmed" in tab.detail.toPlainText()

    # The selection and its detail survive a reload, as after a sync.
    qloop.run_until_complete(tab.reload())
    assert tab.selected_run() is not None and tab.selected_run().id == runs["shop send"]  # type: ignore[union-attr]
    assert "H1234" in tab.detail.toPlainText()


def test_first_load_prunes_old_runs_but_keeps_each_vendors_last(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    shop = services.vendors.add("Shop", TEST_KEY, ENDPOINT)
    write(services, shop, "Shop", days_ago=400)
    kept = write(services, shop, "Shop", days_ago=200)
    _window, tab = open_tab(qtbot, qloop, services)

    choose(tab.period_filter, None)
    qloop.run_until_complete(tab.reload())
    assert ids(tab) == [kept]


def test_periods_start_at_local_midnight() -> None:
    now = datetime(2025, 3, 14, 15, 9, 26).astimezone()
    assert period_start(0, now) == now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert period_start(7, now) == now.replace(day=7, hour=0, minute=0, second=0, microsecond=0)
    assert period_start(None, now) is None


def test_help_menu_opens_the_log_folder(qtbot, services, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QDesktopServices

    from letzdesk.ui.main_window import MainWindow

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or False)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.open_logs.trigger()
    assert opened == [str(services.settings.log_dir)]
    # Nothing could open it here (no file manager): the status bar says where it is.
    assert window.statusBar().currentMessage() == f"The log folder is {services.settings.log_dir}"
