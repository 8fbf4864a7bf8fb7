"""`letzdesk --self-test` as a vendor runs it: its own process, one JSON report, an exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

STEPS = ["data_dir", "database", "vault", "keyring", "sandbox", "import", "answer", "window", "https", "cleanup"]
#: The shape of the throw-away secrets the self-test makes up (a prefix and token_urlsafe(24)).
THROWAWAY_SECRET = re.compile(r"selftest-[A-Za-z0-9_-]{32}")


def self_test(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run the self-test with its temporary dirs under ``tmp_path/tmp`` and the vendor's desk at
    ``tmp_path/desk`` (which it must only look at); returns the process and the parsed report."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "letzdesk", "--data-dir", str(tmp_path / "desk"), "--self-test", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "TMPDIR": str(tmp_path / "tmp"), **(env or {})},
    )
    return proc, json.loads(proc.stdout)  # all of stdout is the one JSON object


def by_name(report: Any) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in report["steps"]}


def test_every_step_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # No QT_QPA_PLATFORM and no display: the self-test must choose offscreen by itself.
    proc, report = self_test(tmp_path, "-v")

    steps = by_name(report)
    assert [step["name"] for step in report["steps"]] == STEPS
    assert {name: step["detail"] for name, step in steps.items() if not step["ok"]} == {}
    assert report["ok"] is True and proc.returncode == 0
    assert report["version"] and report["frozen"] is False
    assert all(isinstance(step["seconds"], float) and step["seconds"] >= 0 for step in report["steps"])

    # What each step says it saw.
    assert re.search(r"revision \d{4}", steps["database"]["detail"])
    assert "key file" in steps["vault"]["detail"]
    assert "keyring.backends.fail.Keyring" in steps["keyring"]["detail"]
    assert "key file" in steps["keyring"]["detail"]
    assert "http://127.0.0.1:" in steps["sandbox"]["detail"]
    assert steps["import"]["detail"].startswith("60 orders imported in 2 pages")
    assert "done, applied once" in steps["answer"]["detail"]
    assert "60 orders in the table" in steps["window"]["detail"] and "'offscreen'" in steps["window"]["detail"]
    assert "certificate authorities loaded" in steps["https"]["detail"]

    # The temporary data dir is gone; the vendor's own desk was not created; the OS keyring untouched.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "desk").exists()
    assert "Traceback" not in proc.stdout
    # -v puts the developer log on stderr: the throw-away key and value never appear there either.
    assert "Self-test step import passed" in proc.stderr
    assert not THROWAWAY_SECRET.search(proc.stdout + proc.stderr)


def test_a_missing_display_plugin_fails_the_window_step_only(tmp_path: Path) -> None:
    # A real failure: Qt has no such platform plugin (as a frozen letzdesk missing its plugins).
    # Without the check Qt would abort the process and no report would be printed at all.
    proc, report = self_test(tmp_path, env={"QT_QPA_PLATFORM": "no-such-platform"})

    steps = by_name(report)
    assert proc.returncode == 1 and report["ok"] is False
    assert steps["window"]["ok"] is False
    assert "'no-such-platform' display plugin is missing" in steps["window"]["detail"]
    assert [name for name, step in steps.items() if not step["ok"]] == ["window"]
    assert "self-test failed at: window" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failed_step_skips_the_steps_that_need_it(tmp_path: Path) -> None:
    proc, report = self_test(tmp_path, env={"LETZDESK_SELFTEST_FAIL": "sandbox"})

    steps = by_name(report)
    assert proc.returncode == 1 and report["ok"] is False
    assert steps["sandbox"] == {
        **steps["sandbox"],
        "ok": False,
        "detail": "made to fail on purpose by LETZDESK_SELFTEST_FAIL",
    }
    for name, needs in (("import", "sandbox"), ("answer", "import"), ("window", "import")):
        assert steps[name]["ok"] is False
        assert steps[name]["detail"] == f"skipped: the {needs} step did not pass"
    # Steps that do not need the sandbox still ran and passed, and cleanup still happened.
    assert all(steps[name]["ok"] for name in ("data_dir", "database", "vault", "keyring", "https", "cleanup"))
    assert "self-test failed at: sandbox." in proc.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_self_test_takes_no_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "letzdesk", "--self-test", "logs", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--self-test runs on its own" in proc.stderr
    assert proc.stdout == ""
