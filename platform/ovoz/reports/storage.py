"""Processed photos on disk, named by the digest of their content.

A name is written once and never changes, so the files can be served with a year's cache and a
retried upload stores nothing twice. Files are written before the database rows that point at
them: a failed transaction leaves an unreferenced file, never a row without its file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ovoz.files import write_once
from ovoz.reports.photos import ProcessedPhoto, thumbnail
from ovoz.settings import get_settings

NAME = re.compile(r"^[0-9a-f]{32}$")
SIZES = ("full", "thumb")


def folder() -> Path:
    return get_settings().upload_dir / "reports"


def path_of(name: str, size: str) -> Path:
    if not NAME.match(name) or size not in SIZES:
        raise ValueError("not a photo name")
    suffix = ".jpg" if size == "full" else ".thumb.jpg"
    return folder() / name[:2] / f"{name}{suffix}"


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    name: str
    width: int
    height: int
    # Where a fresh upload was taken, read before the metadata was stripped; never stored.
    gps: tuple[float, float] | None = None


def save(photo: ProcessedPhoto | StoredPhoto) -> StoredPhoto:
    if isinstance(photo, StoredPhoto):
        return photo
    name = hashlib.sha256(photo.data).hexdigest()[:32]
    write_once(path_of(name, "full"), photo.data)
    write_once(path_of(name, "thumb"), thumbnail(photo))
    return StoredPhoto(name, photo.width, photo.height, photo.gps)


def stored(name: str) -> StoredPhoto | None:
    """A photo saved earlier (a form re-shown after an error keeps its photos by name)."""
    try:
        path = path_of(name, "full")
        with Image.open(path) as image:
            return StoredPhoto(name, image.width, image.height)
    except (ValueError, OSError):
        return None
