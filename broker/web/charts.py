"""Line charts drawn on the server as SVG geometry: no script, no external asset.

The template draws what ``trend_chart`` computes; every number on the chart is also in the
table under it, so the chart is never the only way to read a value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 40, 16, 44


@dataclass(frozen=True)
class Mark:
    """A published monthly value on the chart."""

    x: float
    y: float
    label: str
    provisional: bool
    meets_target: bool


@dataclass(frozen=True)
class Tick:
    """An axis label at a position."""

    at: float
    text: str


@dataclass(frozen=True)
class TrendChart:
    """Everything the template needs to draw one indicator's trend against its target."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    path: str
    marks: list[Mark]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    target_y: float


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 10.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _number(value: float) -> str:
    return f"{value:g}"


def trend_chart(
    months: Sequence[str],
    values: Sequence[float | None],
    provisional: Sequence[bool],
    meets: Sequence[bool | None],
    *,
    target: float,
    percent: bool,
) -> TrendChart:
    """Geometry of a monthly line chart; a missing value breaks the line (no interpolation)."""
    top_value = 100.0 if percent else _nice_ceiling(max([target, *(v or 0 for v in values)]) * 1.2)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(months) - 1, 1)

    def y_of(value: float) -> float:
        return round(TOP + plot_h * (1 - value / top_value), 1)

    marks: list[Mark] = []
    segments: list[str] = []
    pen_down = False
    for index, (month, value) in enumerate(zip(months, values, strict=True)):
        x = round(LEFT + index * step, 1)
        if value is None:
            pen_down = False
            continue
        y = y_of(value)
        segments.append(f"{'L' if pen_down else 'M'}{x} {y}")
        pen_down = True
        marks.append(
            Mark(x, y, f"{month}: {_number(value)}", provisional[index], bool(meets[index]))
        )
    x_ticks = [
        Tick(round(LEFT + index * step, 1), month)
        for index, month in enumerate(months)
        if index % 2 == (len(months) - 1) % 2
    ]
    y_ticks = [Tick(y_of(top_value * part / 4), _number(top_value * part / 4)) for part in range(5)]
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        path=" ".join(segments),
        marks=marks,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        target_y=y_of(min(target, top_value)),
    )
