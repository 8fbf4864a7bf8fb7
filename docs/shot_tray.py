"""Screenshot of the real window with its tray menu open, on a virtual X screen with a tray host.

Needs Debian's xvfb, trayer, xdotool and imagemagick (`import`):
    apt-get install xvfb trayer xdotool imagemagick libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
    python docs/shot_tray.py

It runs `letzdesk --demo` under Xvfb with trayer as the tray, waits for the demo's first sync
(its "new orders" notice shows at the tray), saves docs/screenshots/tray-notice.png, opens the
tray icon's menu with a right click, saves docs/screenshots/tray.png, and quits from that menu.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "screenshots"
SCREEN = (1600, 900)
TRAY_HEIGHT = 28
NO_TCP = ("-nolisten", "tcp")


def _wait_for(what: str, check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise SystemExit(f"shot_tray: {what} did not appear within {seconds:g} s")


def _windows(env: dict[str, str], *args: str) -> list[str]:
    done = subprocess.run(["xdotool", "search", *args], env=env, capture_output=True, text=True)
    return done.stdout.split()


def _shoot(env: dict[str, str], name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", "root", str(OUT / name)], env=env, check=True)
    print(f"wrote {OUT / name}")


def main() -> int:
    missing = [tool for tool in ("Xvfb", "trayer", "xdotool", "import") if shutil.which(tool) is None]
    if missing:
        print(f"shot_tray: install {', '.join(missing)} first (see the top of this file)", file=sys.stderr)
        return 1
    # Xvfb picks a free display and writes its number to the pipe.
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        # -wr: a white desktop behind the window instead of black.
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-wr", *NO_TCP],
        pass_fds=(write_end,),
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        display = ":" + pipe.readline().strip()
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = display
    procs = [xvfb]
    try:
        tray_host = subprocess.Popen(
            [
                *("trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "96"),
                *("--heighttype", "pixel", "--height", str(TRAY_HEIGHT), "--SetDockType", "true", "--tint", "0x333333"),
            ],
            env=env,
        )
        procs.append(tray_host)
        _wait_for("the tray host", lambda: _windows(env, "--class", "trayer"))
        app = subprocess.Popen([sys.executable, "-m", "letzdesk", "--demo"], env=env)
        procs.append(app)
        _wait_for("the letzdesk window", lambda: _windows(env, "--name", "^letzdesk"))
        # The demo's first sync ends with a notice at the tray icon.
        time.sleep(6)
        _shoot(env, "tray-notice.png")

        # trayer sits at the top right, TRAY_HEIGHT high; the newest icon is at its right end.
        icon = (SCREEN[0] - TRAY_HEIGHT // 2, TRAY_HEIGHT // 2)
        subprocess.run(["xdotool", "mousemove", *map(str, icon)], env=env, check=True)
        time.sleep(0.5)
        subprocess.run(["xdotool", "click", "3"], env=env, check=True)
        time.sleep(1.5)
        _shoot(env, "tray.png")
        subprocess.run(["xdotool", "key", "Escape"], env=env, check=False)

        app.terminate()  # quits like the menu's Quit: the demo cleans up after itself
        app.wait(timeout=10)
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    sys.exit(main())
