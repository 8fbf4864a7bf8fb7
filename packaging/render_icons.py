"""Render letzdesk's SVG icon to the PNG sizes desktops and installers ask for.

Run with the project's Python (Qt from the venv, offscreen, no display needed):

    python packaging/render_icons.py OUT_DIR [SIZE ...]

writes OUT_DIR/letzdesk-<size>.png for each size (default 16 32 48 64 128 256). The PNGs are
rendered at build time rather than committed, so they never drift from the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parent.parent / "letzdesk" / "resources" / "letzdesk.svg"
SIZES = (16, 32, 48, 64, 128, 256)


def render(out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # QImage painting wants one
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {SVG} is not a valid SVG")

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"letzdesk-{size}.png"
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"render_icons: could not write {path}")
        written.append(path)
    del app
    return written


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python packaging/render_icons.py OUT_DIR [SIZE ...]", file=sys.stderr)
        return 2
    sizes = tuple(int(s) for s in argv[1:]) or SIZES
    for path in render(Path(argv[0]), sizes):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
