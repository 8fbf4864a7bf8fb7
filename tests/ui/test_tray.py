"""The tray and the notices: what is told, where it goes, and what closing the window does.

Offscreen Qt has no system tray, so the tray-absent path is the one a bare X server or GNOME
without an extension takes. The tray path is driven with ``tray=True``: the icon object is
real, only the desktop's tray host is missing (Qt warns about that once; the warning is ignored).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from letzdesk.app import Services
from letzdesk.letzshop.errors import AuthError, SchemaDriftError
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.autosync import AutoSync, VendorClock
from letzdesk.services.synclog import SyncRun
from letzdesk.services.worker import DrainReport
from letzdesk.store.types import utcnow
from letzdesk.ui.main_window import STILL_RUNNING, MainWindow
from letzdesk.ui.notices import WARNING, Notices
from letzdesk.ui.tray import tooltip_text
from tests.conftest import TEST_KEY

NO_TRAY_HOST = pytest.mark.qt_log_ignore("systemTrayWindowChanged", "propagateSizeHints")


def _run(name: str, *, imported: int = 0, error: str | None = None) -> SyncRun:
    run = SyncRun(1, name, "import orders", "inbound", "scheduler")
    run.imported = imported
    run.error = error
    return run


def test_new_orders_are_told_per_vendor_and_a_quiet_sync_says_nothing(qapp) -> None:  # type: ignore[no-untyped-def]
    notices = Notices()
    told = notices.runs_finished([_run("Shop", imported=3), _run("Atelier"), _run("Kiosk", imported=1)])
    assert [(n.title, n.text) for n in told] == [
        ("Shop", "3 new orders from Letzshop"),
        ("Kiosk", "1 new order from Letzshop"),
    ]
    assert notices.runs_finished([_run("Shop", imported=2)], tell_new_orders=False) == []


def test_a_refused_key_is_told_once_until_a_sync_succeeds_again(qapp) -> None:  # type: ignore[no-untyped-def]
    notices = Notices()
    refused = _run("Shop", error=f"{AuthError.user_message} (401)")
    first = notices.runs_finished([refused])
    assert [(n.title, n.level) for n in first] == [("Shop", WARNING)]
    assert first[0].text == AuthError.user_message
    # Every later tick fails the same way: nothing new to tell.
    assert notices.runs_finished([refused]) == []
    assert notices.runs_finished([refused]) == []
    # Once a sync works, a new refusal is news again.
    notices.runs_finished([_run("Shop")])
    assert len(notices.runs_finished([refused])) == 1


def test_a_network_hiccup_is_not_a_notice_but_drift_is(qapp) -> None:  # type: ignore[no-untyped-def]
    notices = Notices()
    assert notices.runs_finished([_run("Shop", error="Letzshop could not be reached. (timeout)")]) == []
    drift = notices.runs_finished([_run("Shop", error=f"{SchemaDriftError.user_message} (field)")])
    assert [n.text for n in drift] == [SchemaDriftError.user_message]


def test_answers_refused_for_good_and_answers_held_by_drift(qapp) -> None:  # type: ignore[no-untyped-def]
    notices = Notices()
    told = notices.drained(DrainReport(done=4, failed=2))
    assert [n.text for n in told] == ["Letzshop refused 2 answers; the Queue tab says why."]
    assert notices.drained(DrainReport(done=5, retrying=1)) == []
    held = "Letzshop's API has changed (2 mismatch(es)); answers wait until a connection test passes."
    dry = "Dry run: answers are queued but not sent."
    assert [n.text for n in notices.drained(DrainReport(held={"Shop": held, "Kiosk": dry}))] == [held]
    # Every 30 s the queue is held again; the vendor was told once.
    assert notices.drained(DrainReport(held={"Shop": held})) == []


def test_tooltip_says_last_and_next_sync_per_vendor() -> None:
    now = utcnow()
    clocks = [
        VendorClock(1, "Atelier", True, now - timedelta(minutes=5), "success", now + timedelta(minutes=25)),
        VendorClock(2, "Kiosk", False, now - timedelta(minutes=1), "failed", None),
        VendorClock(3, "New", True, None, None, now),
    ]
    text = tooltip_text(clocks, paused=False, failing=2)
    last = (now - timedelta(minutes=5)).astimezone().strftime("%H:%M")
    upcoming = (now + timedelta(minutes=25)).astimezone().strftime("%H:%M")
    failed_at = (now - timedelta(minutes=1)).astimezone().strftime("%H:%M")
    lines = text.splitlines()
    # Around midnight the dates differ and carry the day too; the times are what matter here.
    assert lines[0] == "letzdesk"
    assert lines[1].startswith("Atelier: synced") and last in lines[1] and f"next {upcoming}"[-5:] in lines[1]
    assert lines[2].startswith("Kiosk: sync failed") and failed_at in lines[2] and "next" not in lines[2]
    assert lines[3] == "New: never synced, next now"
    assert lines[4] == "2 answers failed"
    assert tooltip_text([], paused=True, failing=0).splitlines() == ["letzdesk — auto-sync paused", "No vendor yet"]


def test_without_a_tray_closing_quits_and_notices_appear_in_the_window(qtbot, qloop, services: Services) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(services, tray=False)
    qtbot.addWidget(window)
    window.show()
    assert window.tray is None and not window.notice_bar.isVisible()

    window.auto_synced([_run("Shop", imported=2), _run("Atelier", error=f"{AuthError.user_message} (401)")])
    assert window.notice_bar.isVisible()
    assert window.notice_bar.lines.text().splitlines() == [
        f"⚠ Atelier: {AuthError.user_message}",
        "• Shop: 2 new orders from Letzshop",
    ]
    window.notice_bar.dismiss()
    assert not window.notice_bar.isVisible()

    with qtbot.waitSignal(window.quit_requested, timeout=1000):
        window.close()
    qloop.run_until_complete(window.orders_tab.reload())  # auto_synced asked for fresh tables
    qloop.run_until_complete(window.shutdown())


@NO_TRAY_HOST
def test_with_a_tray_closing_hides_and_says_so_once_per_data_folder(qtbot, qloop, services: Services) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(services, tray=True)
    qtbot.addWidget(window)
    told = []
    window.tray.tell = told.append  # the desktop's tray host is what is missing offscreen
    window.show()

    quits = []
    window.quit_requested.connect(lambda: quits.append(True))
    window.close()
    assert not window.isVisible() and not quits
    assert told == [STILL_RUNNING]
    window.tray.open_action.trigger()
    assert window.isVisible()
    window.close()
    assert told == [STILL_RUNNING]  # said once

    # A later start on the same data folder does not say it again.
    again = MainWindow(services, tray=True)
    qtbot.addWidget(again)
    again.tray.tell = told.append
    again.show()
    again.close()
    assert told == [STILL_RUNNING] and not again.isVisible()

    # Notices go to the tray, not the bar; Quit in the tray's menu quits.
    again.auto_synced([_run("Shop", imported=1)])
    assert [n.text for n in told[1:]] == ["1 new order from Letzshop"] and not again.notice_bar.isVisible()
    with qtbot.waitSignal(again.quit_requested, timeout=1000):
        again.tray.quit_action.trigger()
    qloop.run_until_complete(again.orders_tab.reload())
    for w in (window, again):
        qloop.run_until_complete(w.shutdown())


@NO_TRAY_HOST
def test_pause_from_the_tray_stops_imports_keeps_sending_and_is_remembered(
    qtbot, qloop, services: Services, sandbox: SandboxServer
) -> None:  # type: ignore[no-untyped-def]
    services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True, interval_minutes=30)
    window = MainWindow(services, tray=True)
    qtbot.addWidget(window)
    autosync = AutoSync(services.db, services.importer, services.worker)
    window.attach_autosync(autosync)
    assert not autosync.paused and window.tray.pause_action.text() == "Pause auto-sync"

    window.tray.pause_action.trigger()
    assert autosync.paused and window.pause_action.isChecked()
    assert window.tray.pause_action.text() == "Resume auto-sync"
    assert autosync.schedule() == [] and autosync.due() == []
    runs = qloop.run_until_complete(autosync.tick())
    assert runs == []  # the vendor was due (never synced) but nothing was imported
    qloop.run_until_complete(window.refresh_status_line())
    assert window.status_line.text() == "Auto-sync paused"
    assert window.tray.icon.toolTip().splitlines()[0] == "letzdesk — auto-sync paused"

    # Remembered: a window opened later on this data folder starts paused.
    later = MainWindow(services, tray=True)
    qtbot.addWidget(later)
    fresh = AutoSync(services.db, services.importer, services.worker)
    later.attach_autosync(fresh)
    assert fresh.paused and later.pause_action.isChecked()
    later.pause_action.trigger()  # the File menu resumes too
    assert not fresh.paused and later.tray.pause_action.text() == "Pause auto-sync"
    assert [run.vendor_name for run in qloop.run_until_complete(fresh.tick())] == ["Shop"]
    for w in (window, later):
        qloop.run_until_complete(w.orders_tab.reload())
        qloop.run_until_complete(w.shutdown())


@NO_TRAY_HOST
def test_sync_all_now_from_the_tray_tells_new_orders_when_the_window_is_hidden(
    qtbot, qloop, services: Services, sandbox: SandboxServer
) -> None:  # type: ignore[no-untyped-def]
    services.vendors.add("Shop", TEST_KEY, sandbox.url)
    window = MainWindow(services, tray=True)
    qtbot.addWidget(window)
    told = []
    window.tray.tell = told.append
    window.hide()
    window.tray.sync_action.trigger()
    assert not window.tray.sync_action.isEnabled() and window.tray.sync_action.text() == "Syncing…"
    qloop.run_until_complete(window.orders_tab._sync_task)
    assert window.tray.sync_action.isEnabled()
    assert [(n.title, n.text) for n in told] == [("Shop", "40 new orders from Letzshop")]
    qloop.run_until_complete(window.shutdown())


def test_status_bar_shows_an_auto_sync_in_progress(qtbot, qloop, services: Services, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True)
    window = MainWindow(services, tray=False)
    qtbot.addWidget(window)
    window.show()
    autosync = AutoSync(services.db, services.importer, services.worker)
    window.attach_autosync(autosync)
    seen = []
    autosync.progress = lambda p: (window._auto_progress(p), seen.append(window.sync_progress.isVisible()))
    runs = qloop.run_until_complete(autosync.tick())
    assert [run.imported for run in runs] == [40]
    assert seen and all(seen)  # visible at the start and after each page
    assert not window.sync_progress.isVisible()  # hidden once the tick ended
    assert window.notice_bar.lines.text() == "• Shop: 40 new orders from Letzshop"
    qloop.run_until_complete(window.orders_tab.reload())
    qloop.run_until_complete(window.shutdown())
