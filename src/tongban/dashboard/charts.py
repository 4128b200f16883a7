"""The geometry of the dashboard's SVG charts, computed here so the template only draws."""

from __future__ import annotations

from dataclasses import dataclass

from tongban.dashboard.schemas import DayCount

WIDTH, HEIGHT = 640, 200  # the plot area in SVG units; the SVG scales to its box
# One colour per channel, told apart by more than hue (each also has its legend text), all at
# least 3:1 against white as WCAG asks of graphics.
CHANNEL_COLOURS = {
    "web": "#0b5cad",
    "app": "#1a6b35",
    "wechat": "#6a3d9a",
    "alipay": "#a33a00",
    "window": "#56616d",
}


@dataclass(frozen=True)
class Segment:
    channel: str
    x: float
    y: float
    width: float
    height: float
    count: int


@dataclass(frozen=True)
class Column:
    day: str  # YYYY-MM-DD, for the tooltip
    label: str  # MM-DD under the axis, or "" between labels
    x: float
    total: int
    segments: list[Segment]


@dataclass(frozen=True)
class DailyChart:
    columns: list[Column]
    peak: int
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal guides
    width: int
    height: int
    colours: dict[str, str]


def daily_columns(days: list[DayCount], channels: list[str]) -> DailyChart:
    """Stacked columns, one per day, a segment per channel, scaled to the busiest day."""
    peak = max((d.total for d in days), default=0)
    scale = _nice(peak)
    step = WIDTH / max(len(days), 1)
    columns = []
    for i, d in enumerate(days):
        x = i * step + step * 0.15
        top = float(HEIGHT)
        segments = []
        for channel in channels:
            count = d.channels.get(channel, 0)
            if not count:
                continue
            height = HEIGHT * count / scale
            top -= height
            segments.append(
                Segment(
                    channel,
                    round(x, 1),
                    round(top, 1),
                    round(step * 0.7, 1),
                    round(height, 1),
                    count,
                )
            )
        # A date under every seventh column, counted back from today so today is labelled.
        label = d.day.strftime("%m-%d") if (len(days) - 1 - i) % 7 == 0 else ""
        columns.append(Column(d.day.isoformat(), label, round(x, 1), d.total, segments))
    ticks = [(round(HEIGHT - HEIGHT * v / scale, 1), v) for v in _tick_values(scale)]
    return DailyChart(columns, peak, ticks, WIDTH, HEIGHT, CHANNEL_COLOURS)


def _nice(peak: int) -> int:
    """The axis top: the peak rounded up to 1, 2 or 5 times a power of ten (at least 4)."""
    if peak <= 4:
        return 4
    magnitude = 1
    while magnitude * 10 <= peak:
        magnitude *= 10
    for m in (1, 2, 5, 10):
        if m * magnitude >= peak:
            return m * magnitude
    return 10 * magnitude


def _tick_values(scale: int) -> list[int]:
    """Guides at whole numbers: fifths of a top of 10, 20, 50 …, quarters of a top of 4."""
    parts = 5 if scale % 5 == 0 else 4
    return [scale * i // parts for i in range(1, parts + 1)]
