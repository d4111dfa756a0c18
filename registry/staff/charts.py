"""Bar charts drawn on the server as SVG: no script, readable without colour alone."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

Bar = tuple[str, int]


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = 400,
              colors: Sequence[str] = ("#1f5f8b",)) -> Markup:
    """Horizontal bars, each with its label above it and its value at its end.

    Labels sit above the bars (not beside them) so that nothing is cut off on a phone.
    """
    row_h, pad, value_w = 44, 4, 44
    height = max(1, len(bars)) * row_h + 2 * pad
    top = max([v for _, v in bars] + [1])
    plot_w = width - value_w - pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not bars:
        parts.append(f'<text x="{pad}" y="{pad + 18}" font-size="15" fill="#4a5561">'
                     'Nothing in this period.</text>')
    for i, (label, value) in enumerate(bars):
        y = pad + i * row_h
        w = 0 if value <= 0 else max(3, round(plot_w * value / top))
        color = colors[i % len(colors)]
        parts.append(
            f'<text x="{pad}" y="{y + 15}" font-size="15" fill="#1b1f24">'
            f'{escape(label.replace("_", " ").lower())}</text>'
            f'<rect x="{pad}" y="{y + 21}" width="{w}" height="16" rx="3" fill="{color}"/>'
            f'<text x="{pad + w + 6}" y="{y + 35}" font-size="15" font-weight="700" '
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
