"""What every HTML report shares: the page style and charts drawn by matplotlib as inline SVG."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

CHART_STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",
}
"""Scoped to one chart with rc_context: glyphs become paths (no font files)."""

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
.period { color: #59636e; margin: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: .75rem; margin: 1.5rem 0; }
.kpi { border: 1px solid #d1d9e0; border-radius: 6px; padding: .6rem .8rem; }
.kpi b { display: block; font-size: 1.25rem; font-variant-numeric: tabular-nums; }
.kpi span { color: #59636e; font-size: .8rem; }
figure { margin: 0; } figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e5e9ed; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; } th.key, td.key { text-align: left; }
.notes { color: #59636e; font-size: .85rem; margin-top: 2rem; }
"""


def inline_svg(draw: Callable[[], Figure], *, salt: str) -> str:
    """Render `draw()` (a function returning a Figure) to SVG markup for embedding; ids are stable per salt."""
    import matplotlib

    out = io.BytesIO()
    with matplotlib.rc_context({**CHART_STYLE, "svg.hashsalt": salt}):  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave a PathLike untyped
        fig = draw()
        fig.savefig(out, format="svg", metadata=dict.fromkeys(("Creator", "Date", "Format", "Type")))  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave **kwargs untyped
    svg = out.getvalue().decode("utf-8")
    return svg[svg.index("<svg") :]  # inline: drop the XML declaration and DOCTYPE
