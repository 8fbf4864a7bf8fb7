"""One window per data dir, checked with real `python -m letzdesk` processes: the lock and the
local socket only mean something between processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QWidget

from letzdesk.ui.single_instance import LOCK_NAME, bring_forward, server_name

LISTENING = "Listening for other letzdesk starts"
SHOWN = "Asked to show the window by another letzdesk"


@pytest.fixture
def start(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Start `letzdesk --data-dir D` offscreen, away from the OS keyring; kill leftovers at the end."""
    started: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("LETZDESK_DATA_DIR", None)

    def _start(data_dir: Path) -> subprocess.Popen[bytes]:
        # Output to a file, so a full pipe never blocks the process.
        with open(tmp_path / f"output-{len(started)}.txt", "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "letzdesk", "--data-dir", str(data_dir)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield _start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _log(data_dir: Path) -> str:
    path = data_dir / "logs" / "letzdesk.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _wait_for(data_dir: Path, text: str, *, count: int = 1, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while _log(data_dir).count(text) < count:
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{_log(data_dir)}"
        time.sleep(0.1)


def _terminate(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM and kill -9 are Unix")
def test_second_start_shows_the_first_window_and_another_data_dir_runs(start, tmp_path: Path):  # type: ignore[no-untyped-def]
    desk, other = tmp_path / "desk", tmp_path / "other"
    first = start(desk)
    _wait_for(desk, LISTENING)

    began = time.monotonic()
    second = start(desk)
    assert second.wait(timeout=5) == 0
    assert time.monotonic() - began < 5
    _wait_for(desk, SHOWN, timeout=5)
    assert "already runs" in (tmp_path / "output-1.txt").read_text()

    third = start(other)
    _wait_for(other, LISTENING)
    time.sleep(3)
    assert third.poll() is None, "a letzdesk with another data dir must keep running"
    assert _terminate(third) == 0
    assert first.poll() is None
    assert _terminate(first) == 0
    assert not (desk / LOCK_NAME).exists()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP is Unix")
def test_a_first_instance_that_does_not_answer_is_not_claimed_shown(start, tmp_path: Path):  # type: ignore[no-untyped-def]
    desk = tmp_path / "desk"
    first = start(desk)
    _wait_for(desk, LISTENING)
    first.send_signal(signal.SIGSTOP)  # alive and holding the lock, but answering nobody
    try:
        second = start(desk)
        assert second.wait(timeout=15) == 1
        said = (tmp_path / "output-1.txt").read_text()
        assert "did not answer" in said and "showing its window" not in said, said
    finally:
        first.send_signal(signal.SIGCONT)
    assert _terminate(first) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is Unix")
def test_a_crashed_first_instance_leaves_nothing_that_blocks_the_next(start, tmp_path: Path):  # type: ignore[no-untyped-def]
    desk = tmp_path / "desk"
    crashed = start(desk)
    _wait_for(desk, LISTENING)
    crashed.kill()
    crashed.wait()
    # What a crash leaves behind: the lock file and, on Unix, the socket file.
    assert (desk / LOCK_NAME).exists()
    assert Path(QDir.tempPath(), server_name(desk)).exists()

    after = start(desk)
    _wait_for(desk, LISTENING, count=2)
    time.sleep(1)
    assert after.poll() is None, "the stale lock and socket must not stop a new start"
    # ...and the new instance answers later starts itself.
    assert start(desk).wait(timeout=5) == 0
    _wait_for(desk, SHOWN, timeout=5)
    assert _terminate(after) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is Unix")
def test_two_starts_at_the_same_moment_leave_one_window(start, tmp_path: Path):  # type: ignore[no-untyped-def]
    desk = tmp_path / "desk"
    desk.mkdir()
    pair = [start(desk), start(desk)]
    deadline = time.monotonic() + 10
    while all(process.poll() is None for process in pair):
        assert time.monotonic() < deadline, "neither start gave way to the other"
        time.sleep(0.1)
    (loser,) = [process for process in pair if process.poll() is not None]
    (winner,) = [process for process in pair if process is not loser]
    assert loser.returncode == 0
    time.sleep(1)
    assert winner.poll() is None
    assert _terminate(winner) == 0


def test_server_names_are_short_safe_and_per_data_dir(tmp_path: Path) -> None:
    name = server_name(tmp_path / "a")
    assert name.startswith("letzdesk-") and len(name) == len("letzdesk-") + 16
    assert name.replace("-", "").isalnum()
    assert name == server_name(tmp_path / "a") != server_name(tmp_path / "b")


def test_bring_forward_restores_a_minimized_window(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    bring_forward(window)
    assert window.isVisible() and not window.isMinimized()

    window.hide()
    bring_forward(window)
    assert window.isVisible()
