"""Server-side SVG charts: bar and line, pure Python, no script, no CDN.

Each chart is an ``<svg role="img">`` labelled by its ``<title>`` and ``<desc>`` (the data in
words, for screen readers), with both axes labelled and every number drawn as text. Colours
come from a palette that stays apart for the common colour-vision deficiencies, and series
are also told apart by a legend with their names. All text is XML-escaped: labels come from
data (operator names, reasons), never trusted as markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Okabe-Ito: distinguishable with protanopia, deuteranopia and tritanopia.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 40, 72
_TICKS = 5
# More x labels than this would overlap: every n-th is drawn (each bar keeps its tooltip).
MAX_X_LABELS = 12
_LEGEND_ROW = 16
_CHAR_W = 7.0  # an 11px system-ui character, roughly (wider for Cyrillic); for the legend
# Where on the x axis the i-th label sits.
_Centre = Callable[[int], float]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


@dataclass(frozen=True)
class Chart:
    """What to draw: one label per x position and one or more series of the same length."""

    title: str
    x_label: str
    y_label: str
    labels: Sequence[str]
    series: Sequence[Series]
    # Unique per page: several charts on one page each need their own title and desc ids.
    element_id: str = "chart"
    # Counts: no tick at 0.4 of a cancellation.
    whole_numbers: bool = False

    def __post_init__(self) -> None:
        if not self.element_id.replace("-", "").isalnum():
            raise ValueError("element_id: letters, digits and hyphens only")
        if not self.series:
            raise ValueError("a chart needs at least one series")
        for series in self.series:
            if len(series.values) != len(self.labels):
                raise ValueError(
                    f"series {series.name!r} has {len(series.values)} values "
                    f"for {len(self.labels)} labels"
                )
            if any(not math.isfinite(v) or v < 0 for v in series.values):
                raise ValueError("values must be finite and not negative")

    @property
    def top(self) -> float:
        """A round upper bound for the y axis (1, 2 or 5 times a power of ten)."""
        peak = max((v for s in self.series for v in s.values), default=0.0)
        if peak <= 0:
            return 1.0
        magnitude = 10.0 ** math.floor(math.log10(peak))
        return next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= peak)


def bar_chart(chart: Chart) -> str:
    """Grouped bars: one group per label, one bar per series."""
    plot_w = WIDTH - LEFT - RIGHT
    group_w = plot_w / max(len(chart.labels), 1)
    bar_w = group_w * 0.8 / len(chart.series)
    shapes = []
    for i, _label in enumerate(chart.labels):
        for j, series in enumerate(chart.series):
            x = LEFT + i * group_w + group_w * 0.1 + j * bar_w
            y = _y(chart, series.values[i])
            shapes.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{_y(chart, 0) - y:.1f}" fill="{_colour(j)}">'
                f"<title>{escape(series.name)}, {escape(chart.labels[i])}: "
                f"{_number(series.values[i])}</title></rect>"
            )
    return _svg(chart, shapes, centre=lambda i: LEFT + (i + 0.5) * group_w)


def line_chart(chart: Chart) -> str:
    """One line with point markers per series."""
    step = (WIDTH - LEFT - RIGHT) / max(len(chart.labels) - 1, 1)
    shapes = []
    for j, series in enumerate(chart.series):
        points = [(LEFT + i * step, _y(chart, v)) for i, v in enumerate(series.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        shapes.append(
            f'<polyline points="{path}" fill="none" stroke="{_colour(j)}" stroke-width="2"/>'
        )
        shapes += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{_colour(j)}">'
            f"<title>{escape(series.name)}, {escape(chart.labels[i])}: "
            f"{_number(series.values[i])}</title></circle>"
            for i, (x, y) in enumerate(points)
        ]
    return _svg(chart, shapes, centre=lambda i: LEFT + i * step)


def _y(chart: Chart, value: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h * (1 - value / chart.top)


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _svg(chart: Chart, shapes: list[str], centre: _Centre) -> str:
    legend = _legend(chart)
    height = HEIGHT + _LEGEND_ROW * (_legend_rows(chart) - 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{chart.element_id}-title {chart.element_id}-desc" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{chart.element_id}-title">{escape(chart.title)}</title>',
        f'<desc id="{chart.element_id}-desc">{escape(_describe(chart))}</desc>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14" class="chart-title">'
        f"{escape(chart.title)}</text>",
        *_axes(chart, centre),
        *shapes,
        *legend,
        "</svg>",
    ]
    return "\n".join(parts)


def _axes(chart: Chart, centre: _Centre) -> list[str]:
    base = _y(chart, 0)
    lines = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#333"/>',
    ]
    ticks = _tick_count(chart)
    for tick in range(ticks + 1):
        value = chart.top * tick / ticks
        y = _y(chart, value)
        lines.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    every = math.ceil(len(chart.labels) / MAX_X_LABELS) if chart.labels else 1
    for i, label in enumerate(chart.labels):
        if i % every:
            continue
        lines.append(
            f'<text x="{centre(i):.1f}" y="{base + 16:.1f}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    lines.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 30}" text-anchor="middle" '
        f'class="axis-label">{escape(chart.x_label)}</text>'
    )
    middle = (TOP + base) / 2
    lines.append(
        f'<text x="16" y="{middle:.1f}" text-anchor="middle" class="axis-label" '
        f'transform="rotate(-90 16 {middle:.1f})">{escape(chart.y_label)}</text>'
    )
    return lines


def _tick_count(chart: Chart) -> int:
    """Five steps, or one per unit when whole numbers would otherwise get fractional ticks."""
    if chart.whole_numbers and chart.top < _TICKS:
        return int(chart.top)
    return _TICKS


def _legend_places(chart: Chart) -> list[tuple[float, float]]:
    """Where each series' legend entry goes: left to right, wrapping onto further rows."""
    places: list[tuple[float, float]] = []
    x, row = float(LEFT), 0
    for series in chart.series:
        width = 14 + _CHAR_W * len(series.name) + 22  # the swatch, the name, a gap
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, row = float(LEFT), row + 1
        places.append((x, HEIGHT - 16 + row * _LEGEND_ROW))
        x += max(width, 90.0)
    return places


def _legend_rows(chart: Chart) -> int:
    return 1 + int((_legend_places(chart)[-1][1] - (HEIGHT - 16)) / _LEGEND_ROW)


def _legend(chart: Chart) -> list[str]:
    return [
        f'<rect x="{x:.0f}" y="{y:.0f}" width="10" height="10" fill="{_colour(j)}"/>'
        f'<text x="{x + 14:.0f}" y="{y + 9:.0f}">{escape(series.name)}</text>'
        for j, (series, (x, y)) in enumerate(zip(chart.series, _legend_places(chart), strict=True))
    ]


def _describe(chart: Chart) -> str:
    """The chart's data in words: what a screen reader says instead of showing shapes."""
    parts = []
    for series in chart.series:
        pairs = ", ".join(
            f"{label} {_number(value)}"
            for label, value in zip(chart.labels, series.values, strict=True)
        )
        parts.append(f"{series.name}: {pairs}" if pairs else f"{series.name}: no data")
    return f"{chart.y_label} by {chart.x_label}. " + "; ".join(parts)
