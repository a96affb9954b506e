"""Progress toward zero as inline SVG drawn on the server: no script, no style attribute, no CDN, so the
pages' Content-Security-Policy (``default-src 'self'``) has nothing to refuse. Colours come from app.css."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT, PAD = 240, 90, 18


@dataclass(frozen=True)
class Chart:
    kind: str
    points: str  # the polyline's "x,y x,y ..."
    top: int
    last: int
    first_month: str
    last_month: str
    dots: list[tuple[float, float, int, str]]  # x, y, count, month (a <title> each)


def chart(kind: str, counts: list[int], ends: list[date]) -> Chart:
    top = max(counts) if counts and max(counts) > 0 else 1
    step = (WIDTH - 2 * PAD) / max(len(counts) - 1, 1)
    dots = []
    for n, (count, end) in enumerate(zip(counts, ends, strict=True)):
        x = PAD + n * step
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * count / top
        dots.append((round(x, 1), round(y, 1), count, end.strftime("%Y-%m")))
    points = " ".join(f"{x},{y}" for x, y, _c, _m in dots)
    return Chart(kind, points, top, counts[-1] if counts else 0, ends[0].strftime("%Y-%m"),
                 ends[-1].strftime("%Y-%m"), dots)
