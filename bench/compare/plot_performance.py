#!/usr/bin/env python3
"""Draws docs/img/performance.svg from the output of the bench/compare/*_vs_torch.py scripts.

Usage:
  for s in logps_forward logps_backward batch_losses token_kl; do
    /usr/bin/python3 bench/compare/${s}_vs_torch.py --threads 2 --portable \\
        --native-driver build/bench/compare/prefopt_compare_driver_native
  done > results.txt
  python3 bench/compare/plot_performance.py results.txt docs/img/performance.svg

Reads every `case,prefopt_s,peer_s,ratio,max_abs_diff` line (and the `== script` and
`# load average` lines, for the caption) and draws, per case, prefopt's speed-up over the peer
(peer_s / prefopt_s) as a horizontal bar on a log axis, with the line of parity. Plain SVG with
no plotting library, so it runs with any Python 3.
"""
import math
import sys

COLOURS = {"default": "#1f77b4", "default_portable": "#aec7e8", "march_native": "#ff7f0e"}


def parse(path):
    rows, loads = [], []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("# load average:"):
            loads.append(line.split(":", 1)[1].strip())
            continue
        parts = line.split(",")
        if len(parts) != 5 or parts[0] == "case" or line.startswith("#"):
            continue
        try:
            prefopt_s, peer_s = float(parts[1]), float(parts[2])
        except ValueError:
            continue
        rows.append((parts[0], prefopt_s, peer_s))
    return rows, loads


def variant_of(case):
    for v in ("default_portable", "march_native", "default"):
        if case.endswith("_" + v):
            return case[: -len(v) - 1], v
    return case, "default"


def draw(rows, loads, out):
    bar, gap, left, right, top = 16, 10, 250, 40, 50
    width = 820
    lo = min(min(p / s for _, s, p in rows), 0.5)
    hi = max(max(p / s for _, s, p in rows), 2.0)
    lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    scale = (width - left - right) / (math.log10(hi) - math.log10(lo))
    x = lambda r: left + (math.log10(r) - math.log10(lo)) * scale  # noqa: E731
    height = top + len(rows) * (bar + 4) + gap * 6 + 60
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">prefopt speed-up over PyTorch '
           '(peer time / prefopt time, log scale; same data, same threads, same run)</text>']
    if loads:
        svg.append(f'<text x="{left}" y="36" fill="#555">load average during the runs: '
                   f'{"; ".join(l.split()[0] for l in loads)}</text>')
    y, previous = top, None
    for case, prefopt_s, peer_s in rows:
        work, variant = variant_of(case)
        if previous is not None and work != previous:
            y += gap
        previous = work
        r = peer_s / prefopt_s
        x0, x1 = (x(1.0), x(r)) if r >= 1 else (x(r), x(1.0))  # bars grow from parity
        svg.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(1.0, x1 - x0):.1f}" height="{bar}" '
                   f'fill="{COLOURS.get(variant, "#999")}"/>')
        svg.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">{case}</text>')
        svg.append(f'<text x="{x1 + 4:.1f}" y="{y + bar - 4}">{r:.2f}×</text>')
        y += bar + 4
    axis = y + 8
    svg.append(f'<line x1="{x(1.0):.1f}" y1="{top - 6}" x2="{x(1.0):.1f}" y2="{axis}" '
               'stroke="black" stroke-dasharray="4,3"/>')
    decade = lo
    while decade <= hi * 1.0001:
        svg.append(f'<line x1="{x(decade):.1f}" y1="{axis}" x2="{x(decade):.1f}" y2="{axis + 5}" '
                   'stroke="black"/>')
        svg.append(f'<text x="{x(decade):.1f}" y="{axis + 18}" text-anchor="middle">'
                   f'{decade:g}×</text>')
        decade *= 10
    svg.append(f'<line x1="{left}" y1="{axis}" x2="{width - right}" y2="{axis}" stroke="black"/>')
    legend = axis + 38
    lx = left
    for name, colour in COLOURS.items():
        svg.append(f'<rect x="{lx}" y="{legend - 10}" width="12" height="12" fill="{colour}"/>')
        label = {"default": "default build (runtime dispatch)",
                 "default_portable": "same binary, PREFOPT_ISA=portable",
                 "march_native": "-march=native build"}[name]
        svg.append(f'<text x="{lx + 16}" y="{legend}">{label}</text>')
        lx += 200
    svg.append("</svg>")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows, loads = parse(sys.argv[1])
    if not rows:
        sys.exit(f"no case lines in {sys.argv[1]}")
    draw(rows, loads, sys.argv[2])


if __name__ == "__main__":
    main()
