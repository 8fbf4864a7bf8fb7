"""The vendors tab and its dialog on offscreen widgets, against the sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QAbstractItemModel, QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from letzdesk.app import Services
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services import connection, synclog
from letzdesk.services.orders import orders_for
from letzdesk.services.vendors import VendorInfo
from letzdesk.ui.credentials_tab import CredentialsTab
from letzdesk.ui.main_window import MainWindow
from letzdesk.ui.vendor_dialog import KEEP_KEY_HINT, VendorDialog
from letzdesk.ui.vendors_model import (
    API_CHECK,
    FAILING,
    KEY,
    LAST_SYNC,
    NAME,
    PENDING,
    ROW_ROLE,
    SORT_ROLE,
    VendorsSortProxy,
    VendorsTableModel,
)
from tests.conftest import TEST_KEY

WRONG_KEY = "wrong-key-not-real-9999"
Loop = asyncio.AbstractEventLoop


def _tab(qtbot: QtBot, qloop: Loop, services: Services) -> CredentialsTab:
    tab = CredentialsTab(services)
    qtbot.addWidget(tab)
    tab.show()
    qloop.run_until_complete(tab.reload())
    return tab


def _run(qloop: Loop, task: asyncio.Task[None] | None) -> None:
    assert task is not None, "the action did not start"
    qloop.run_until_complete(task)


def _until(qloop: Loop, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async def wait() -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)

    qloop.run_until_complete(wait())


def _type(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Key presses for each character; QTest only maps ASCII, so others go as plain text events."""
    for char in text:
        if char.isascii():
            qtbot.keyClicks(widget, char)
        else:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, char))


def _fill(qtbot: QtBot, dialog: VendorDialog, *, name: str = "", key: str = "", endpoint: str = "") -> None:
    """Type as a person would: into the widgets, replacing what is there."""
    for field, text in ((dialog.name, name), (dialog.api_key, key), (dialog.endpoint, endpoint)):
        if text:
            field.selectAll()
            _type(qtbot, field, text)


def _cells(model: QAbstractItemModel) -> list[str]:
    """Every value of every role the model answers, as text."""
    roles = [*range(0, 16), *range(Qt.ItemDataRole.UserRole, Qt.ItemDataRole.UserRole + 8)]
    values = [str(model.headerData(c, Qt.Orientation.Horizontal, r)) for c in range(model.columnCount()) for r in roles]
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            values += [str(model.index(row, column).data(role)) for role in roles]
    return values


def _texts(widget: QWidget) -> list[str]:
    texts = [widget.windowTitle(), widget.toolTip()]
    for label in widget.findChildren(QLabel):
        texts += [label.text(), label.toolTip()]
    for edit in widget.findChildren(QLineEdit):
        texts += [edit.text(), edit.displayText(), edit.placeholderText(), edit.toolTip()]
    for button in widget.findChildren(QAbstractButton):
        texts += [button.text(), button.toolTip()]
    return texts


def _added(
    qtbot: QtBot, qloop: Loop, tab: CredentialsTab, sandbox: SandboxServer, name: str = "Atelier Mëller"
) -> VendorDialog:
    dialog = tab.add_vendor()
    _fill(qtbot, dialog, name=name, key=TEST_KEY, endpoint=sandbox.url)
    _run(qloop, dialog.start_save())
    qloop.run_until_complete(tab.reload())
    return dialog


def test_add_vendor_through_the_dialog(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    tab = _tab(qtbot, qloop, services)
    changed: list[bool] = []
    tab.vendors_changed.connect(lambda: changed.append(True))
    assert "master key in key file" in tab.header.text()
    assert tab.model.rowCount() == 0 and "No vendor yet" in tab.detail_title.text()

    dialog = _added(qtbot, qloop, tab, sandbox)
    assert dialog.result() == VendorDialog.DialogCode.Accepted
    assert changed == [True]
    [info] = services.vendors.list()
    assert (info.name, info.endpoint, info.masked_key) == ("Atelier Mëller", sandbox.url, "test****")
    assert tab.proxy.rowCount() == 1
    assert tab.proxy.index(0, NAME).data() == "Atelier Mëller"
    assert tab.proxy.index(0, KEY).data() == "test****"
    assert tab.current_vendor() is not None and tab.current_vendor().id == info.id

    # The full key is nowhere: not in any role of the table, not in any text of the tab or the dialog.
    assert not [v for v in _cells(tab.model) + _cells(tab.proxy) if TEST_KEY in v]
    assert not [t for t in _texts(tab) + _texts(dialog) if TEST_KEY in t]


def test_interval_outside_the_range_is_refused_not_clamped(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    tab = _tab(qtbot, qloop, services)
    dialog = tab.add_vendor()
    _fill(qtbot, dialog, name="Atelier", key=TEST_KEY, endpoint=sandbox.url)
    dialog.interval.selectAll()
    qtbot.keyClicks(dialog.interval, "3")
    assert dialog.interval.value() == 3
    label = dialog.error_labels["interval_minutes"]
    assert label.isVisible() and label.text() == "The sync interval is 5 to 1440 minutes."

    assert dialog.start_save() is None
    assert dialog.isVisible() and services.vendors.list() == []

    dialog.interval.selectAll()
    qtbot.keyClicks(dialog.interval, "45")
    assert not label.isVisible()


def test_empty_key_and_plain_http_are_refused(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    tab = _tab(qtbot, qloop, services)
    dialog = tab.add_vendor()
    _fill(qtbot, dialog, name="Atelier", endpoint="http://example.com/graphql")
    assert dialog.error_labels["endpoint"].isVisible()
    assert not dialog.error_labels["api_key"].isVisible()  # not typed yet: no scolding before OK

    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert dialog.error_labels["api_key"].text() == "The API key is empty."
    assert dialog.error_labels["api_key"].isVisible()
    assert "use https://" in dialog.error_labels["endpoint"].text()
    assert not dialog.error_labels["name"].isVisible()
    assert dialog.isVisible() and services.vendors.list() == []

    # A key test is not sent either: the endpoint would carry the key over plain http.
    qtbot.keyClicks(dialog.api_key, TEST_KEY)
    assert dialog.start_test() is None
    assert "use https://" in dialog.error_labels["endpoint"].text()


def test_duplicate_name_from_the_service_shows_next_to_the_name(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    tab = _tab(qtbot, qloop, services)
    dialog = tab.add_vendor()
    _fill(qtbot, dialog, name="Atelier", key=TEST_KEY, endpoint=sandbox.url)
    _run(qloop, dialog.start_save())
    assert "already exists" in dialog.error_labels["name"].text()
    assert dialog.isVisible() and dialog.buttons.isEnabled()
    assert len(services.vendors.list()) == 1


def test_test_key_with_the_right_and_a_wrong_key(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    tab = _tab(qtbot, qloop, services)
    dialog = tab.add_vendor()
    _fill(qtbot, dialog, name="Atelier", key=TEST_KEY, endpoint=sandbox.url)

    task = dialog.start_test()
    assert not dialog.test_button.isEnabled() and dialog.test_button.text() == "Testing…"
    assert dialog.start_test() is task  # a second click joins the running test
    _run(qloop, task)
    assert dialog.test_button.isEnabled()
    assert "ms" in dialog.test_result.text() and "Connected" in dialog.test_result.text()
    assert "1b6e20" in dialog.test_result.styleSheet()

    _fill(qtbot, dialog, key=WRONG_KEY)
    assert not dialog.test_result.isVisible()  # the old answer is about another key
    _run(qloop, dialog.start_test())
    assert "refused this API key" in dialog.test_result.text()
    assert "b00020" in dialog.test_result.styleSheet()
    assert services.vendors.list() == []  # testing saves nothing


def test_edit_keeps_the_key_when_the_field_stays_empty(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    tab = _tab(qtbot, qloop, services)
    dialog = tab.edit_vendor()
    assert dialog is not None
    assert dialog.api_key.text() == "" and dialog.api_key.placeholderText() == KEEP_KEY_HINT
    assert dialog.api_key.echoMode() == QLineEdit.EchoMode.Password

    # The stored key can be tested from the empty field.
    _run(qloop, dialog.start_test())
    assert "Connected" in dialog.test_result.text()

    _fill(qtbot, dialog, name="Atelier Mëller")
    dialog.interval.selectAll()
    qtbot.keyClicks(dialog.interval, "60")
    dialog.auto_sync.setChecked(True)
    _run(qloop, dialog.start_save())
    qloop.run_until_complete(tab.reload())

    info = services.vendors.info(vendor_id)
    assert (info.name, info.interval_minutes, info.auto_sync) == ("Atelier Mëller", 60, True)
    assert info.masked_key == "test****"
    assert info.schema_checked_at is not None  # an unchanged endpoint keeps the API check
    assert tab.proxy.index(0, NAME).data() == "Atelier Mëller"
    assert tab.proxy.index(0, 3).data() == "every 60 min"
    assert qloop.run_until_complete(connection.test_vendor(services.vendors, vendor_id)).ok


def test_remove_asks_first_and_says_what_goes(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    qloop.run_until_complete(services.importer.run(vendor_id, "Atelier", trigger="user"))
    tab = _tab(qtbot, qloop, services)
    questions: list[str] = []
    answer = False
    tab.confirm = lambda _title, text: questions.append(text) or answer  # type: ignore[method-assign]

    units = sum(len(s["inventoryUnits"]) for s in sandbox.state.shipments)
    expected = (
        f"Remove Atelier? Its API key and its 40 orders ({units} items) are deleted from this computer. "
        "Its 1 sync log entry is kept. Nothing is changed on Letzshop."
    )
    _run(qloop, tab.start_remove())
    assert questions == [expected]
    assert len(services.vendors.list()) == 1 and len(orders_for(services.db)) == 40
    assert tab.remove_button.isEnabled()

    answer = True
    _run(qloop, tab.start_remove())
    assert services.vendors.list() == [] and orders_for(services.db) == []
    assert tab.model.rowCount() == 0 and not tab.remove_button.isEnabled()
    [log] = synclog.recent(services.db)
    assert log.vendor_name == "Atelier" and log.vendor_id is None


def test_test_connection_fills_the_api_check(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    tab = _tab(qtbot, qloop, services)
    assert tab.proxy.index(0, API_CHECK).data() == "not checked"

    task = tab.start_test()
    assert tab.result_label.text() == "Testing…" and not tab.test_button.isEnabled()
    _run(qloop, task)
    assert "Connected in" in tab.result_label.text() and " ms" in tab.result_label.text()
    assert tab.test_button.isEnabled() and tab.test_button.text() == "Test connection"
    assert tab.proxy.index(0, API_CHECK).data() == "OK"
    assert "matches" in tab.schema_label.text()
    assert not [t for t in _texts(tab) if TEST_KEY in t]


def test_drift_and_a_refused_key_are_shown(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    drifted = SandboxServer(generate_shipments(3, 1), api_key=TEST_KEY, drift=True)
    drifted.start()
    try:
        services.vendors.add("Atelier", TEST_KEY, drifted.url)
        services.vendors.add("Brasserie", WRONG_KEY, drifted.url)
        tab = _tab(qtbot, qloop, services)
        tab.select_id(services.vendors.get("Atelier").id)
        _run(qloop, tab.start_test())
        drift = services.vendors.info(services.vendors.get("Atelier").id).schema_drift
        assert drift and tab.current_vendor().name == "Atelier"
        assert tab.proxy.index(0, API_CHECK).data() == f"changed: {len(drift)}"
        assert all(line in tab.schema_label.text() for line in drift)

        tab.select_id(services.vendors.get("Brasserie").id)
        _run(qloop, tab.start_test())
        assert "refused this API key" in tab.result_label.text()
        assert tab.proxy.index(1, API_CHECK).data() == "not checked"
    finally:
        drifted.stop()


def test_numbers_and_dates_sort_as_values(qtbot: QtBot) -> None:
    def info(pk: int, pending: int, synced: datetime | None) -> VendorInfo:
        return VendorInfo(
            pk,
            f"V{pk}",
            "https://letzshop.lu/graphql",
            "abcd****",
            auto_sync=False,
            interval_minutes=30,
            default_carrier=None,
            last_sync_at=synced,
            last_sync_status="success",
            last_sync_error=None,
            schema_checked_at=None,
            pending=pending,
        )

    model = VendorsTableModel()
    proxy = VendorsSortProxy()
    proxy.setSourceModel(model)
    model.set_rows(
        [
            info(1, 10, datetime(2026, 3, 1, tzinfo=UTC)),
            info(2, 9, None),
            info(3, 100, datetime(2025, 12, 31, tzinfo=UTC)),
        ]
    )
    proxy.sort(PENDING, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, PENDING).data() for r in range(3)] == ["9", "10", "100"]
    proxy.sort(LAST_SYNC, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, 0).data(ROW_ROLE).id for r in range(3)] == [2, 3, 1]
    assert proxy.index(0, LAST_SYNC).data() == "never" and proxy.index(0, LAST_SYNC).data(SORT_ROLE) == 0.0


def test_main_window_wiring(qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer) -> None:
    services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    vendors_index = window.tabs.indexOf(window.vendors_tab)
    assert vendors_index > 0 and window.tabs.tabText(vendors_index) == "Vendors"
    tab = window.vendors_tab
    window.tabs.setCurrentWidget(tab)
    qloop.run_until_complete(tab.reload())
    assert tab.proxy.index(0, LAST_SYNC).data() == "never"

    # A sync ends: the vendors tab shows its result without being asked.
    qloop.run_until_complete(window.orders_tab.start_sync("user"))
    _until(qloop, lambda: "success" in (tab.proxy.index(0, LAST_SYNC).data() or ""))
    assert tab.proxy.index(0, PENDING).data() == "40"

    # Removing the vendor empties the orders tab too.
    tab.confirm = lambda _title, _text: True  # type: ignore[method-assign]
    _run(qloop, tab.start_remove())
    _until(qloop, lambda: window.tabs.tabText(0) == "Orders (0)")
    assert window.orders_tab.proxy.rowCount() == 0


def test_dry_run_and_attempts_are_set_in_the_dialog(
    qtbot: QtBot, qloop: Loop, services: Services, sandbox: SandboxServer
) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, sandbox.url)
    tab = _tab(qtbot, qloop, services)
    dialog = tab.edit_vendor()
    assert dialog is not None
    assert (dialog.dry_run.isChecked(), dialog.max_attempts.value()) == (False, 3)

    # Out of range is said next to the field, not clamped.
    dialog.max_attempts.setValue(0)
    assert dialog.start_save() is None
    assert "1 to 20 times" in dialog.error_labels["max_attempts"].text()

    dialog.max_attempts.setValue(5)
    dialog.dry_run.setChecked(True)
    _run(qloop, dialog.start_save())
    info = services.vendors.info(vendor_id)
    assert (info.dry_run, info.max_attempts) == (True, 5)
    qloop.run_until_complete(tab.reload())
    assert tab.proxy.index(0, FAILING).data() == "0 · dry run"
