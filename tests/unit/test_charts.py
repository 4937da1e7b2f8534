"""The SVG charts: well-formed, accessible, scaled to the data, and safe with any label."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from esimcare.reports.charts import HEIGHT, Chart, Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input


def per_day(**changes: object) -> Chart:
    values: dict[str, object] = {
        "title": "Cancellations per day",
        "x_label": "Day",
        "y_label": "Cancellations",
        "labels": ["11-23", "11-24", "11-25"],
        "series": [Series("mts", [3, 7, 0]), Series("beeline", [1, 0, 4])],
        "element_id": "per-day",
    }
    return Chart(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_a_chart_is_an_accessible_svg_image_with_title_description_and_axis_labels(
    draw: object,
) -> None:
    assert callable(draw)
    root = parse(draw(per_day()))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "per-day-title per-day-desc"
    assert root.find(f"{SVG}title").text == "Cancellations per day"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "mts: 11-23 3, 11-24 7, 11-25 0" in desc and "beeline: 11-23 1" in desc
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Day", "Cancellations", "11-24", "mts", "beeline"} <= set(texts)
    assert "10" in texts  # the y axis runs to a round number above the peak (7)


def test_bars_are_as_tall_as_their_values() -> None:
    root = parse(bar_chart(per_day()))
    heights = [float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")][:6]
    # mts 3, beeline 1, mts 7, beeline 0, mts 0, beeline 4 on a 0..10 axis
    unit = heights[2] / 7
    assert heights == pytest.approx([3 * unit, unit, 7 * unit, 0, 0, 4 * unit])
    assert 0 < heights[2] < HEIGHT


def test_a_line_chart_draws_one_line_per_series_with_a_point_per_label() -> None:
    root = parse(line_chart(per_day()))
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2
    assert all(len(line.get("points", "").split()) == 3 for line in lines)
    assert len(list(root.iter(f"{SVG}circle"))) == 6


def test_labels_from_data_are_escaped_not_run_as_markup() -> None:
    svg = bar_chart(per_day(labels=["<script>x</script>", "a&b", '"q"']))
    root = parse(svg)
    assert "<script>" not in svg
    assert "<script>x</script>" in [t.text for t in root.iter(f"{SVG}text")]


def test_an_empty_chart_still_draws_its_axes() -> None:
    root = parse(line_chart(per_day(labels=[], series=[Series("mts", [])])))
    assert "mts: no data" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "changes",
    [
        {"series": []},
        {"series": [Series("mts", [1, 2])]},
        {"series": [Series("mts", [1, -2, 3])]},
        {"series": [Series("mts", [1, float("nan"), 3])]},
        {"element_id": 'x" onload="alert(1)'},
    ],
)
def test_a_chart_refuses_data_it_cannot_draw_truthfully(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"series|values|element_id"):
        per_day(**changes)


def test_counts_get_whole_number_ticks_and_many_days_get_thinned_labels() -> None:
    days = [f"d{n:02d}" for n in range(30)]
    counts = per_day(labels=days, series=[Series("mts", [2.0] + [1.0] * 29)], whole_numbers=True)
    texts = [t.text for t in parse(bar_chart(counts)).iter(f"{SVG}text")]
    assert {"0", "1", "2"} <= set(texts) and "0.4" not in texts
    shown = [label for label in days if label in texts]
    assert shown[0] == "d00" and 6 <= len(shown) <= 12


def test_a_long_legend_wraps_onto_more_rows_instead_of_leaving_the_picture() -> None:
    names = [f"reason number {n} with a long name" for n in range(5)]
    chart = per_day(series=[Series(name, [1, 2, 3]) for name in names])
    root = parse(bar_chart(chart))
    assert int(root.get("height", "0")) > HEIGHT
    legend_x = [float(t.get("x", "0")) for t in root.iter(f"{SVG}text") if t.text in names]
    assert len(legend_x) == 5 and max(legend_x) < 640
