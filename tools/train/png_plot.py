"""A tiny line-plot PNG writer (zlib only; matplotlib is not installed here).

Draws axes with tick labels (a 3×5 pixel font for digits), one or more
polylines and optional vertical markers. Enough for a loss curve.
"""

import struct
import zlib

_FONT = {  # 3x5 glyphs, rows top to bottom
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
    "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
    "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "010", "010", "010"],
    "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
    ".": ["000", "000", "000", "000", "010"], "-": ["000", "000", "111", "000", "000"],
    "k": ["100", "101", "110", "101", "101"], "M": ["101", "111", "111", "101", "101"],
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def line(self, x0, y0, x1, y1, c, width=1):
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in range(n + 1):
            x = round(x0 + (x1 - x0) * k / n)
            y = round(y0 + (y1 - y0) * k / n)
            for dx in range(width):
                for dy in range(width):
                    self.set(x + dx, y + dy, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=2):
        for ch in s:
            g = _FONT.get(ch)
            if g:
                for r, row in enumerate(g):
                    for q, bit in enumerate(row):
                        if bit == "1":
                            for a in range(scale):
                                for b in range(scale):
                                    self.set(x + q * scale + a, y + r * scale + b, c)
            x += 4 * scale

    def save(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
        with open(path, "wb") as f:
            f.write(png)


def _fmt(v):
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def plot(path, series, markers=(), w=720, h=400, x_ticks=6, y_ticks=6, y_range=None):
    """series: [(xs, ys, rgb)]; markers: [(x, rgb)] vertical lines."""
    left, right, top, bottom = 60, 20, 20, 40
    xs_all = [x for s in series for x in s[0]]
    ys_all = [y for s in series for y in s[1]]
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = y_range or (min(ys_all), max(ys_all))
    c = Canvas(w, h)
    px = lambda x: left + round((x - x0) / ((x1 - x0) or 1) * (w - left - right))  # noqa: E731
    py = lambda y: h - bottom - round((min(max(y, y0), y1) - y0) / ((y1 - y0) or 1) * (h - top - bottom))  # noqa: E731
    for k in range(y_ticks + 1):
        y = y0 + (y1 - y0) * k / y_ticks
        c.line(left, py(y), w - right, py(y), (225, 225, 225))
        c.text(4, py(y) - 5, _fmt(round(y, 2)))
    for k in range(x_ticks + 1):
        x = x0 + (x1 - x0) * k / x_ticks
        c.line(px(x), top, px(x), h - bottom, (235, 235, 235))
        c.text(px(x) - 12, h - bottom + 8, _fmt(round(x, -3) if x1 > 1e4 else round(x, 1)))
    c.line(left, top, left, h - bottom, (0, 0, 0))
    c.line(left, h - bottom, w - right, h - bottom, (0, 0, 0))
    for x, rgb in markers:
        c.line(px(x), top, px(x), h - bottom, rgb)
    for xs, ys, rgb in series:
        pts = [(px(x), py(y)) for x, y in zip(xs, ys)]
        for (a, b), (p, q) in zip(pts, pts[1:]):
            c.line(a, b, p, q, rgb, width=2)
    c.save(path)
