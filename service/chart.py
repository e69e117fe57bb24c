"""The breadth report as a picture: subfield shares (left) and breadth per month (right).

Drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, so nothing touches
pyplot's global state and it is safe inside the web server. The output is deterministic for
a given report and matplotlib version: no dates in the metadata, a fixed SVG id salt.
"""

from __future__ import annotations

import io
import re
import textwrap
import threading

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TOP_SUBFIELDS = 10  # bars on the left; the rest are grouped as "Other"
LABEL_WIDTH = 34
BAR = "#3b6ea8"
OTHER = "#9aa7b5"
USER_LINE = "#c0392b"
MEDIAN_LINE = "#555555"
_SVG_SETTINGS = threading.Lock()  # rc_context is process-wide: one SVG at a time


def _bars(report: dict) -> list[tuple[str, float, bool]]:
    """(label, share, is_other) for the top subfields; more than TOP_SUBFIELDS become top 9 + Other."""
    shares = sorted((report.get("shares") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if len(shares) <= TOP_SUBFIELDS:
        return [(name, share, False) for name, share in shares]
    top, rest = shares[:TOP_SUBFIELDS - 1], shares[TOP_SUBFIELDS - 1:]
    return [(name, share, False) for name, share in top] + \
        [(f"Other ({len(rest)} subfields)", sum(s for _, s in rest), True)]


def _label(name: str) -> str:
    return textwrap.shorten(name, LABEL_WIDTH, placeholder="…")


def _whose(report: dict) -> str:
    return report.get("user_name") or f"user {report.get('user')}"


def _compared(report: dict) -> bool:
    """Is there a median reader other than this one? With one reader the "median" is that reader."""
    return (report.get("median_user") or {}).get("users", 0) > 1


def _title(report: dict) -> str:
    if not report.get("reads"):
        return f"Reading breadth of {_whose(report)}: no reads yet"
    return (f"Reading breadth of {_whose(report)}: {report['effective_subfields']:.1f} effective subfields, "
            f"Rao–Stirling {report['rao_stirling']:.2f}, {report['outside_home_share']:.0%} outside "
            f"{report.get('home_field') or 'the home field'}")


def chart_description(report: dict) -> str:
    """One line describing the chart, for the page's alt attribute."""
    if not report.get("reads"):
        return "Reading breadth chart: no reads yet, so there are no subfield shares or monthly figures to show."
    bars = _bars(report)
    top = ", ".join(f"{name} {share:.0%}" for name, share, _ in bars[:3])
    text = (f"Bar chart of the share of reads per subfield ({len(report.get('shares', {}))} subfields; "
            f"largest: {top})")
    monthly = report.get("monthly") or []
    if monthly:
        median = (report.get("median_user") or {}).get("effective_subfields")
        text += (f", and line chart of effective subfields per month from {monthly[0]['month']} to "
                 f"{monthly[-1]['month']} ({monthly[0]['effective_subfields']:.1f} to "
                 f"{monthly[-1]['effective_subfields']:.1f}")
        if not _compared(report):
            text += "; the only reader here, so no median reader to compare with)."
        else:
            text += f"; median reader {median:.1f} overall)." if median else ")."
    else:
        text += "."
    return text


def _month_number(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def _draw(report: dict) -> Figure:
    fig = Figure(figsize=(12, 5.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    fig.suptitle(_title(report), fontsize=12)

    bars = _bars(report)
    if bars:
        labels = [_label(name) for name, _, _ in bars]
        values = [share * 100 for _, share, _ in bars]
        positions = list(range(len(bars)))[::-1]  # largest at the top
        left.barh(positions, values, color=[OTHER if other else BAR for _, _, other in bars], height=0.7)
        left.set_yticks(positions, labels, fontsize=9)
        for y, v in zip(positions, values):
            left.text(v + max(values) * 0.01, y, f"{v:.0f}%", va="center", fontsize=8)
        left.set_xlim(0, max(values) * 1.15)
    else:
        left.set_yticks([])
        left.text(0.5, 0.5, "No reads yet", ha="center", va="center", transform=left.transAxes, fontsize=11)
    left.set_xlabel("share of reads (%)")
    left.set_title("Where the reading goes (share per subfield)", fontsize=10)
    left.spines[["top", "right"]].set_visible(False)

    monthly = report.get("monthly") or []
    # One reader alone is their own median: a second line would only repeat the first.
    median = {m["month"]: m["effective_subfields"] for m in (report.get("median_user") or {}).get("monthly", [])
              if _compared(report)}
    if monthly:
        months = [m["month"] for m in monthly]
        x = [_month_number(m) - _month_number(months[0]) for m in months]  # gaps stay visible
        right.plot(x, [m["effective_subfields"] for m in monthly], marker="o", color=USER_LINE, linewidth=2,
                   label="you", zorder=3)
        med_x = [i for i, month in enumerate(months) if median.get(month) is not None]
        if med_x:
            right.plot([x[i] for i in med_x], [median[months[i]] for i in med_x], linestyle="--", marker=".",
                       color=MEDIAN_LINE, linewidth=1.5, label="median reader that month", zorder=4, alpha=0.8)
        step = max(1, -(-len(months) // 12))
        right.set_xticks(x[::step], months[::step], rotation=45, ha="right", fontsize=8)
        right.set_xlim(x[0] - 0.5, x[-1] + 0.5)
        top = max([m["effective_subfields"] for m in monthly] + [median[months[i]] for i in med_x] + [1.0])
        right.set_ylim(0, top * 1.2)
        right.legend(loc="lower left", fontsize=8, frameon=False)
        right.grid(axis="y", alpha=0.3)
    else:
        right.text(0.5, 0.5, "No monthly figures yet", ha="center", va="center", transform=right.transAxes,
                   fontsize=11)
        right.set_xticks([])
    right.set_ylabel("effective subfields, exp(H)")
    right.set_title("Breadth per month", fontsize=10)
    right.spines[["top", "right"]].set_visible(False)
    return fig


def breadth_chart(report: dict, fmt: str = "png") -> bytes:
    """The chart as PNG or SVG bytes."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"chart format must be 'png' or 'svg', not {fmt!r}")
    fig = _draw(report)
    description = chart_description(report)
    buffer = io.BytesIO()
    if fmt == "png":
        fig.savefig(buffer, format="png", metadata={"Software": None, "Title": _title(report),
                                                    "Description": description})
    else:
        # Text stays text (selectable, readable by screen readers); a fixed salt keeps element ids stable.
        with _SVG_SETTINGS, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "glean-breadth"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Title": _title(report),
                                                        "Description": description})
        return _responsive(buffer.getvalue())
    return buffer.getvalue()


def _responsive(svg: bytes) -> bytes:
    """The SVG as wide as the page that holds it: width 100%, no fixed height; its viewBox keeps the
    proportions, so a phone gets the whole chart scaled down instead of a 12-inch strip."""
    def fix(match: re.Match) -> bytes:
        tag = re.sub(rb'\s(?:width|height)="[^"]*"', b"", match.group(0))
        return tag.replace(b"<svg", b'<svg width="100%"', 1)

    return re.sub(rb"<svg\b[^>]*>", fix, svg, count=1)
