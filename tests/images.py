"""Real images made in memory with Pillow, for uploads in tests."""

from __future__ import annotations

import io

from PIL import Image


def _image(size: tuple[int, int], color: tuple[int, int, int, int]) -> Image.Image:
    return Image.new("RGBA", size, color)


def png(width: int = 64, height: int = 64, color=(11, 95, 255, 255)) -> bytes:
    """A PNG of the given size; different colours give different bytes."""
    out = io.BytesIO()
    _image((width, height), color).save(out, format="PNG")
    return out.getvalue()


def ico(size: int = 32, color=(255, 122, 0, 255)) -> bytes:
    """A Windows icon with one image of ``size`` pixels (plus smaller ones)."""
    out = io.BytesIO()
    sizes = [(s, s) for s in (16, 32, 48, 64, 128, 256) if s <= size]
    _image((size, size), color).save(out, format="ICO", sizes=sizes)
    return out.getvalue()


def icns(size: int = 512, color=(0, 160, 80, 255)) -> bytes:
    """A macOS icon."""
    out = io.BytesIO()
    _image((size, size), color).save(out, format="ICNS")
    return out.getvalue()
