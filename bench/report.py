"""Figures, the printed table, the Markdown table and the JSON document of a run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass
class Figure:
    """One measured value, with its baseline (measured in the same run) and target."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: str | None = None
    """Name of the figure this one is compared with (same bench)."""
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        bench: str,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: Figure | None = None,
        target_ratio: float | None = None,
        target: str | None = None,
        met: bool | None = None,
        note: str = "",
    ) -> Figure:
        """Add a figure; with ``baseline`` its ratio is computed, with ``target_ratio`` checked."""
        ratio = None
        if baseline is not None and baseline.value > 0:
            ratio = value / baseline.value
        if target_ratio is not None:
            target = target or f">= {target_ratio:g}x"
            met = ratio is not None and ratio >= target_ratio
        figure = Figure(
            bench,
            name,
            value,
            unit,
            baseline.name if baseline is not None else None,
            ratio,
            target,
            met,
            note,
        )
        self.figures.append(figure)
        return figure

    def json_bytes(self) -> bytes:
        doc = {
            "meta": self.meta,
            "figures": [asdict(f) for f in self.figures],
            "details": self.details,
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _row(f: Figure) -> list[str]:
    verdict = "" if f.met is None else ("met" if f.met else "NOT met")
    return [
        f.bench,
        f.name,
        f"{_number(f.value)} {f.unit}",
        f.baseline or "",
        "" if f.ratio is None else f"{f.ratio:.2f}x",
        f.target or "",
        verdict,
    ]


HEADERS = ("bench", "figure", "value", "baseline", "ratio", "target", "")


def render_text(figures: Sequence[Figure]) -> str:
    rows = [list(HEADERS), *(_row(f) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(figures: Sequence[Figure]) -> str:
    lines = [
        "| " + " | ".join(h or "verdict" for h in HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for f in figures:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _row(f)) + " |")
    return "\n".join(lines)


def render_load(results: Results) -> str:
    """The machine's CPU use during each measurement: ours and other people's (in cores)."""
    load = results.details.get("load", {})
    cores = results.meta.get("machine", {}).get("cpus", "?")
    lines = [f"load during each measurement (cores busy of {cores}: all / this suite / others)"]
    width = max((len(k) for k in load), default=0)
    for what, w in load.items():
        lines.append(
            f"  {what.ljust(width)}  {w['seconds']:7.1f} s  {w['machine_cores_busy']:.2f} / "
            f"{w['benchmark_cores']:.2f} / {w['other_cores']:.2f}"
        )
    return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
