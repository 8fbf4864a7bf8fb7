"""PySide6 6.12.0 on Python 3.11 lowered None's refcount on every void Qt call and aborted after
~4,700 calls (DESIGN.md §9). Run the same pattern far past that point in a child process, so an
abort shows as a failed test instead of killing the run."""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
for i in range(20_000):
    label.setText("x")        # void
    label.setEnabled(i % 2 == 0)  # void
print("survived")
"""


def test_twenty_thousand_void_qt_calls_do_not_abort() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout
