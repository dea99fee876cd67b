"""The map's front end is served from the site itself: vendored Leaflet (as pinned) and map.js."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from ovoz.settings import ROOT

STATIC = ROOT / "static"
LEAFLET = STATIC / "vendor" / "leaflet"
SERVED = (
    "vendor/leaflet/dist/leaflet.js", "vendor/leaflet/dist/leaflet.css",
    "vendor/leaflet/dist/images/marker-icon.png", "vendor/leaflet/dist/images/marker-icon-2x.png",
    "vendor/leaflet/dist/images/marker-shadow.png", "js/map.js", "css/map.css",
)
# A script or style sheet from another origin, or any of the usual CDNs.
REMOTE_ASSET = re.compile(
    r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//|unpkg\.com|cdnjs|jsdelivr""",
    re.IGNORECASE)


def test_leaflet_is_the_pinned_release() -> None:
    lines = (LEAFLET / "VERSION").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("leaflet 1.9.4 ")
    pinned = {path: digest for _, digest, path in (line.split() for line in lines[1:])}
    assert set(pinned) >= {"dist/leaflet.js", "dist/leaflet.css", "dist/images/marker-icon.png"}
    for path, digest in pinned.items():
        assert hashlib.sha256((LEAFLET / path).read_bytes()).hexdigest() == digest, path
    assert "BSD 2-Clause" in (LEAFLET / "LICENSE").read_text(encoding="utf-8")
    assert b"Leaflet 1.9.4" in (LEAFLET / "dist" / "leaflet.js").read_bytes()[:200]


def test_nothing_is_loaded_from_a_cdn() -> None:
    pages = [*(ROOT / "templates").rglob("*.html"), *(STATIC / "js").glob("*.js"),
             *(STATIC / "css").glob("*.css")]
    assert STATIC / "js" / "map.js" in pages
    for path in pages:
        assert not REMOTE_ASSET.search(path.read_text(encoding="utf-8")), path
    # The site's own map code names no address at all: tiles come from the page's data-tiles.
    for own in (STATIC / "js" / "map.js", STATIC / "css" / "map.css"):
        assert "http" not in own.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SERVED)
async def test_the_map_files_are_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"/static/{path}")
    assert response.status_code == 200
    assert response.content == (STATIC / path).read_bytes()
