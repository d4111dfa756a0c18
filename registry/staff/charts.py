"""Bar charts drawn on the server as SVG: no script, readable without colour alone."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

Bar = tuple[str, int]


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = 560,
              colors: Sequence[str] = ("#1f5f8b",)) -> Markup:
    """Horizontal bars with the value written at the end of each bar."""
    label_w, row_h, pad = 230, 30, 8
    height = max(1, len(bars)) * row_h + 2 * pad
    top = max([v for _, v in bars] + [1])
    plot_w = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not bars:
        parts.append(f'<text x="{pad}" y="{pad + 18}" font-size="14" fill="#4a5561">'
                     'Nothing in this period.</text>')
    for i, (label, value) in enumerate(bars):
        y = pad + i * row_h
        w = 0 if value <= 0 else max(2, round(plot_w * value / top))
        color = colors[i % len(colors)]
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" font-size="13" text-anchor="end" '
            f'fill="#1b1f24">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{w}" height="{row_h - 10}" rx="3" '
            f'fill="{color}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 19}" font-size="13" font-weight="600" '
            f'fill="#1b1f24">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece is escaped above


def paired_chart(title: str, rows: Sequence[tuple[str, int, int]],
                 names: tuple[str, str] = ("enrolled", "active")) -> Markup:
    """Two bars per row (e.g. enrolled and active), with a legend."""
    bars: list[Bar] = []
    for label, a, b in rows:
        bars += [(f"{label}: {names[0]}", a), (f"{label}: {names[1]}", b)]
    return bar_chart(title, bars, colors=("#8fb3cf", "#1f5f8b"))
