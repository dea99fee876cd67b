"""Photos attached to problem reports: checked, normalised and re-encoded server-side.

Uploads come from cheap phones in every shape; what leaves here is always a small, progressive
JPEG without any metadata, so a resident's camera, serial number or home position is never
published by accident. The GPS position is read first, so the report form can offer it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Literal

from PIL import ExifTags, Image, ImageFile, ImageOps

PhotoErrorCode = Literal["too_large", "not_an_image", "too_many_pixels", "damaged"]

# Well above any phone camera (a 200 MP sensor bins to 50 MP photos), well below what would
# exhaust a worker's memory once decoded (50 MP RGBA is 200 MB).
MAX_PIXELS = 50_000_000
# Only these decoders ever see an upload, so the format is decided by the content alone. The JPEG
# decoder also opens the multi-picture JPEGs (format "MPO") that many phones write.
_FORMATS = ("JPEG", "PNG", "WEBP")
_JPEG_QUALITY = 80
_WHITE = (255, 255, 255)


class PhotoError(ValueError):
    """A refused upload; `code` is stable, for the form to show a translated message."""

    def __init__(self, code: PhotoErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: PhotoErrorCode = code


@dataclass(frozen=True)
class ProcessedPhoto:
    data: bytes
    media_type: str
    width: int
    height: int
    gps: tuple[float, float] | None


def process_photo(data: bytes, max_bytes: int, max_side: int = 1600) -> ProcessedPhoto:
    """Check an uploaded photo and re-encode it as a metadata-free JPEG of at most max_side."""
    if len(data) > max_bytes:
        raise PhotoError("too_large", f"The photo is {len(data)} bytes, the limit is {max_bytes}.")
    image = _open(data)
    try:
        # verify() leaves the image unusable, hence the second open for the actual decoding.
        image.verify()
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
        gps = _gps(image.getexif())
        # Lets the JPEG decoder scale down by 1/2..1/8 while decoding, saving memory and time.
        image.draft("RGB", (max_side, max_side))
        image.load()
        image = _flatten(ImageOps.exif_transpose(image))
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoError("damaged", "The photo is damaged or incomplete.") from exc
    return ProcessedPhoto(
        data=_encode(image),
        media_type="image/jpeg",
        width=image.width,
        height=image.height,
        gps=gps,
    )


def thumbnail(photo: ProcessedPhoto, side: int = 320) -> bytes:
    """A small JPEG of an already processed photo, for lists and map pop-ups."""
    with Image.open(io.BytesIO(photo.data)) as image:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return _encode(image)


def _open(data: bytes) -> ImageFile.ImageFile:
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning arrives as an exception only where warnings are errors (as in the tests);
        # otherwise it is merely logged and the size check below refuses the image.
        raise PhotoError("too_many_pixels", "The photo has too many pixels.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError("not_an_image", "The file is not a JPEG, PNG or WebP image.") from exc
    if image.width * image.height > MAX_PIXELS:
        raise PhotoError("too_many_pixels", "The photo has too many pixels.")
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid onto white (JPEG has no alpha; black would hide things)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image) -> bytes:
    # The JPEG encoder copies a comment from image.info; nothing of the upload may survive.
    image.info.clear()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=_JPEG_QUALITY, progressive=True, optimize=True)
    return out.getvalue()


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(latitude, longitude) in decimal degrees, or None when absent or unusable.

    A broken GPS block only costs the suggestion, never the photo."""
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        latitude = _degrees(gps[ExifTags.GPS.GPSLatitude], gps[ExifTags.GPS.GPSLatitudeRef], "NS")
        longitude = _degrees(
            gps[ExifTags.GPS.GPSLongitude], gps[ExifTags.GPS.GPSLongitudeRef], "EW"
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return latitude, longitude


def _degrees(value: object, ref: object, refs: str) -> float:
    """Degrees, minutes, seconds and a hemisphere letter, as signed decimal degrees."""
    if isinstance(ref, bytes):
        ref = ref.decode("ascii")
    if not isinstance(ref, str) or ref.strip().upper() not in tuple(refs):
        raise ValueError(f"GPS reference {ref!r} is not one of {refs}")
    if not isinstance(value, tuple) or not 1 <= len(value) <= 3:
        raise ValueError(f"GPS value {value!r} is not degrees, minutes, seconds")
    degrees = sum(float(part) / 60**i for i, part in enumerate(value))
    # A rational with a zero denominator reads as NaN.
    if not math.isfinite(degrees):
        raise ValueError("GPS value is not a number")
    return -degrees if ref.strip().upper() == refs[1] else degrees
