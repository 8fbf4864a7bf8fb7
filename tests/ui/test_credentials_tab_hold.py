"""The Vendors tab says how long answers are held after a schema drift as the queue does it."""

from __future__ import annotations

from datetime import UTC, datetime

from pytestqt.qtbot import QtBot

from letzdesk.app import Services
from tests.conftest import TEST_KEY
from tests.ui.test_credentials_tab import Loop, _tab


def test_drift_holds_answers_until_a_connection_test_passes(qtbot: QtBot, qloop: Loop, services: Services) -> None:
    vendor_id = services.vendors.add("Atelier", TEST_KEY, "http://127.0.0.1:9/graphql")
    services.vendors.record_schema_check(vendor_id, ["Shipments: Cannot query field 'tradeId'"], datetime.now(UTC))
    tab = _tab(qtbot, qloop, services)
    held = services.vendors.answers_on_hold(vendor_id)
    assert held and "until a connection test passes" in held
    assert "until a connection test passes" in tab.schema_label.text()
    assert "until letzdesk is updated" not in tab.schema_label.text()

    # A test that passes (no mismatch) is what lets the answers go: the tab's words hold.
    services.vendors.record_schema_check(vendor_id, [], datetime.now(UTC))
    qloop.run_until_complete(tab.reload())
    assert services.vendors.answers_on_hold(vendor_id) is None
    assert "matches what letzdesk expects" in tab.schema_label.text()
