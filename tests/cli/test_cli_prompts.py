"""Ctrl-D at a terminal prompt, or nothing on standard input, ends a command in one line."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_cli_errors import assert_one_line, run

pytestmark = pytest.mark.skipif(not hasattr(pty, "fork"), reason="needs a pseudo-terminal")


def at_terminal(args: list[str], prompt: bytes, reply: bytes = b"\x04", timeout: float = 60) -> tuple[int, str]:
    """Run letzdesk on a real pseudo-terminal, send ``reply`` (Ctrl-D) at ``prompt``; (exit status, output)."""
    env = {**os.environ, "LETZSHOP_API_KEY": "", "TERM": "dumb"}
    env.pop("LETZDESK_PASSPHRASE", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: letzdesk with this terminal as its own
        os.execve(sys.executable, [sys.executable, "-m", "letzdesk", *args], env)
    output = b""
    sent = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not sent and prompt in output:
                time.sleep(0.2)  # let the prompt switch echo off before the reply arrives
                os.write(fd, reply)
                sent = True
        else:
            os.kill(pid, 9)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert sent, output
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_ctrl_d_at_the_key_prompt_says_no_key_given(tmp_path: Path) -> None:
    code, output = at_terminal(["vendor", "add", "Shop", "--data-dir", str(tmp_path)], b"Letzshop API key:")
    assert "Traceback" not in output and "EOFError" not in output, output
    assert "letzdesk: no API key given" in output, output
    assert code == 2
    assert not any(p.name == "master.key" for p in tmp_path.iterdir())  # nothing was stored


def test_ctrl_d_at_the_new_passphrase_prompt_changes_nothing(tmp_path: Path) -> None:
    code, output = at_terminal(["keys", "passphrase", "--data-dir", str(tmp_path)], b"New passphrase:")
    assert "Traceback" not in output and "EOFError" not in output, output
    assert "letzdesk: no passphrase given; nothing changed" in output, output
    assert code == 2


def test_nothing_on_standard_input_says_no_key_given(tmp_path: Path) -> None:
    result = run("vendor", "add", "Shop", "--data-dir", str(tmp_path), stdin="")
    assert_one_line(result, "no API key given")
    assert result.returncode == 2
