"""Render what a terminal shows into an image for the README.

Runs a command in a detached tmux pane of the given size, waits, captures the pane
with its colours (capture-pane -e), and draws it cell by cell into a PNG. (Rendering
rich's SVG export with rsvg-convert misaligns the columns.) Needs Pillow
(pip install pillow) and Debian's fonts-dejavu-core.

Usage: python scripts/screenshot.py OUT.png --wait SECONDS -- COMMAND...
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
import uuid

from rich.console import Console
from rich.text import Text


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
BACKGROUND = (30, 30, 30)
FOREGROUND = (220, 220, 220)


def render_png(lines: list[Text], cols: int, out: str, title: str) -> None:
    """Draw the lines cell by cell in a monospace font (Pillow; no SVG renderer, whose
    whitespace handling misaligns terminal columns)."""
    from PIL import Image, ImageDraw, ImageFont

    from rich.terminal_theme import MONOKAI

    size = 15
    font, bold = ImageFont.truetype(FONT, size), ImageFont.truetype(FONT_BOLD, size)
    cw = round(font.getlength("M"))
    ch = round(size * 1.45)
    pad, top = 14, 34
    image = Image.new("RGB", (cols * cw + 2 * pad, len(lines) * ch + top + pad), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((pad, 9), title, font=bold, fill=(160, 160, 160))
    for row, text in enumerate(lines):
        x = pad
        for segment in text.render(Console(color_system="256", width=10_000)):
            style = segment.style
            colour = FOREGROUND
            if style is not None and style.color is not None and not style.color.is_default:
                colour = tuple(style.color.get_truecolor(MONOKAI))
            if style is not None and style.dim:
                colour = tuple(c * 6 // 10 for c in colour)
            face = bold if style is not None and style.bold else font
            for char in segment.text:
                if char != " ":
                    draw.text((x, top + row * ch), char, font=face, fill=colour)
                x += cw
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--wait", type=float, default=5.0)
    parser.add_argument("--size", default="110x30")
    parser.add_argument("--title", default="simjobs")
    argv = sys.argv[1:]
    if "--" not in argv:
        parser.error("give the command after --")
    cut = argv.index("--")
    args = parser.parse_args(argv[:cut])
    command = argv[cut + 1:]
    cols, rows = (int(v) for v in args.size.split("x"))
    session = f"shot-{uuid.uuid4().hex[:8]}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(cols), "-y", str(rows),
                    "-e", "TERM=tmux-256color", " ".join(command) + "; sleep 600"], check=True)
    try:
        time.sleep(args.wait)  # the moment to photograph, not a synchronisation
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", session],
                                capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session])
    lines = [Text.from_ansi(line) for line in screen.rstrip("\n").split("\n")]
    render_png(lines, cols, args.out, args.title)
    print(args.out)


if __name__ == "__main__":
    main()
