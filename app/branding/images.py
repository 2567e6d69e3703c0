"""Checking uploaded images by decoding them (pure; Pillow only).

An upload is accepted only if Pillow decodes it completely as one of the formats its role
allows, its name and declared media type agree with what it really is, and its dimensions fit.
Dimensions are checked from the header before any pixel is decoded, so a small file that
claims enormous dimensions (a decompression bomb) is refused without allocating memory.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMAT_MEDIA_TYPES = {"PNG": "image/png", "ICO": "image/vnd.microsoft.icon", "ICNS": "image/icns"}
FORMAT_EXTENSIONS = {"PNG": {".png"}, "ICO": {".ico"}, "ICNS": {".icns"}}
MEDIA_TYPE_ALIASES = {
    "image/png": "PNG",
    "image/x-png": "PNG",
    "image/vnd.microsoft.icon": "ICO",
    "image/x-icon": "ICO",
    "image/ico": "ICO",
    "image/icns": "ICNS",
    "image/x-icns": "ICNS",
}
NEUTRAL_MEDIA_TYPES = {"", "application/octet-stream"}


@dataclass(frozen=True)
class RoleRule:
    formats: tuple[str, ...]
    min_size: int
    max_width: int
    max_height: int
    square: bool


ROLE_RULES: dict[str, RoleRule] = {
    "tray_icon": RoleRule(("ICO", "PNG"), 16, 256, 256, True),
    "app_icon_windows": RoleRule(("ICO",), 16, 256, 256, True),
    "app_icon_macos": RoleRule(("ICNS", "PNG"), 16, 1024, 1024, True),
    "splash": RoleRule(("PNG",), 64, 1920, 1200, False),
    "viewer_logo": RoleRule(("PNG",), 16, 1024, 512, False),
}


class ImageRejected(ValueError):
    """The upload is not acceptable for its role; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    format: str
    media_type: str
    width: int
    height: int


def _safe_filename(filename: str) -> str:
    if filename != os.path.basename(filename) or "/" in filename or "\\" in filename or filename in {".", ".."}:
        raise ImageRejected("file", "The file name must be a plain name, without folders.")
    if any(ord(ch) < 32 for ch in filename) or len(filename) > 255:
        raise ImageRejected("file", "The file name contains control characters or is too long.")
    return filename


def inspect_image(data: bytes, role: str, *, filename: str = "", declared_type: str = "") -> ImageInfo:
    """Decode ``data`` and check it against ``role``'s rule; raise ImageRejected on any problem."""
    rule = ROLE_RULES.get(role)
    if rule is None:
        raise ImageRejected("role", f"Unknown role; use one of {', '.join(ROLE_RULES)}.")
    if filename:
        _safe_filename(filename)
    allowed = ", ".join(rule.formats)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMAT_MEDIA_TYPES))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, ValueError):
        raise ImageRejected("file", f"Not a readable image; {role} accepts {allowed}.") from None
    with image:
        fmt = image.format or ""
        if fmt not in rule.formats:
            raise ImageRejected("file", f"The file is {fmt}; {role} accepts {allowed}.")
        width, height = image.size
        if width > rule.max_width or height > rule.max_height:
            raise ImageRejected(
                "file", f"{width}x{height} is too large; {role} allows at most {rule.max_width}x{rule.max_height}."
            )
        if min(width, height) < rule.min_size:
            raise ImageRejected(
                "file", f"{width}x{height} is too small; {role} needs at least {rule.min_size} pixels a side."
            )
        if rule.square and width != height:
            raise ImageRejected("file", f"{role} must be square, got {width}x{height}.")
        try:
            image.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise ImageRejected("file", "The image is truncated or corrupt.") from None
    extension = os.path.splitext(filename)[1].lower()
    if extension and extension not in FORMAT_EXTENSIONS[fmt]:
        raise ImageRejected("file", f"The file name ends in {extension} but the file is {fmt}.")
    declared = declared_type.split(";")[0].strip().lower()
    if declared not in NEUTRAL_MEDIA_TYPES and MEDIA_TYPE_ALIASES.get(declared) != fmt:
        raise ImageRejected("file", f"The declared content type {declared} does not match the file, which is {fmt}.")
    return ImageInfo(fmt, FORMAT_MEDIA_TYPES[fmt], width, height)
