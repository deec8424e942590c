#!/usr/bin/python3
"""Draws the images of a Lerarenkaart pass template as PNG, with nothing but zlib and struct.

Usage: templates/draw_images.py templates/2026 [--year 2026]
Writes icon, logo and strip at 1x, 2x and 3x (Apple's point sizes: icon 29x29, logo 50x50 inside
the 160x50 logo area, storeCard strip 375x123). The drawing is ours: a rounded card with an open
book for the icon and logo, and a blue gradient with a yellow rule and the book for the strip.
Deterministic: the same arguments give byte-identical files.
"""
import os
import struct
import sys
import zlib

BLUE = (0, 84, 130)       # rgb(0, 84, 130): the pass background colour
DEEP = (0, 56, 92)
YELLOW = (255, 214, 0)    # rgb(255, 214, 0): the label colour
WHITE = (255, 255, 255)


def png(width, height, rows, alpha):
    """rows: list of bytearrays of width*channels bytes. Each row uses the Up filter when it equals
    the row above (all zeros), else Sub (horizontal gradients become runs), so files stay small."""
    ch = 4 if alpha else 3
    raw = bytearray()
    for y, row in enumerate(rows):
        if y > 0 and row == rows[y - 1]:
            raw.append(2)  # filter: Up, identical row
            raw += bytes(len(row))
            continue
        raw.append(1)  # filter: Sub
        prev = [0] * ch
        for x in range(width):
            for c in range(ch):
                v = row[x * ch + c]
                raw.append((v - prev[c]) & 0xFF)
                prev[c] = v
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def coverage(inside, x, y, ss=4):
    """Fraction of pixel (x, y) inside the shape, by ss x ss supersampling."""
    hits = 0
    for i in range(ss):
        for j in range(ss):
            if inside(x + (i + 0.5) / ss, y + (j + 0.5) / ss):
                hits += 1
    return hits / (ss * ss)


def mix(a, b, t):
    return tuple(int(round(a[k] * (1 - t) + b[k] * t)) for k in range(3))


def rounded_rect(w, h, r):
    def inside(x, y):
        cx = min(max(x, r), w - r)
        cy = min(max(y, r), h - r)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    return inside


def book(cx, cy, size):
    """An open book seen from the front: two pages meeting at the spine, slightly raised at the top."""
    half = size / 2
    def inside(x, y):
        dx = x - cx
        ady = abs(dx)
        if ady > half or ady < size * 0.04:
            return False
        top = cy - size * 0.30 - size * 0.10 * (ady / half)
        bottom = cy + size * 0.30 - size * 0.06 * (ady / half) ** 2
        return top <= y <= bottom
    return inside


def icon(scale):
    n = 29 * scale
    card = rounded_rect(n, n, n * 0.22)
    pages = book(n / 2, n / 2, n * 0.70)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            a = coverage(card, x, y)
            b = coverage(pages, x, y)
            colour = mix(mix(BLUE, DEEP, y / n), WHITE, b)
            row += bytes(colour) + bytes([int(round(255 * a))])
        rows.append(row)
    return png(n, n, rows, True)


def logo(scale):
    n = 50 * scale
    disc = lambda x, y: (x - n / 2) ** 2 + (y - n / 2) ** 2 <= (n * 0.48) ** 2
    pages = book(n / 2, n / 2, n * 0.62)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            a = coverage(disc, x, y)
            b = coverage(pages, x, y)
            colour = mix(YELLOW, BLUE, b)
            row += bytes(colour) + bytes([int(round(255 * a))])
        rows.append(row)
    return png(n, n, rows, True)


def strip(scale):
    w, h = 375 * scale, 123 * scale
    pages = book(w * 0.86, h * 0.5, h * 0.62)
    line_top, line_bottom = h - 4 * scale, h - 2 * scale
    rows = []
    for y in range(h):
        row = bytearray()
        for x in range(w):
            t = x / w
            # a horizontal gradient, lighter on the left where the holder's name sits
            colour = mix(BLUE, DEEP, 0.15 + 0.6 * t * t)
            if line_top <= y < line_bottom and x < w * 0.62:
                colour = YELLOW  # a thin yellow rule under the name
            if x > w * 0.72:
                b = coverage(pages, x, y, 2)
                colour = mix(colour, YELLOW, 0.9 * b)
            row += bytes(colour)
        rows.append(row)
    return png(w, h, rows, False)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, draw in (("icon", icon), ("logo", logo), ("strip", strip)):
        for scale in (1, 2, 3):
            suffix = "" if scale == 1 else "@%dx" % scale
            path = os.path.join(out, "%s%s.png" % (name, suffix))
            with open(path, "wb") as f:
                f.write(draw(scale))
            print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
