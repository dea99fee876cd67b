"""Fixtures of the petitions tests: Beruniy's demo mahallas, an author and five backers at home
in the first of them, staff, and settings changed for one test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ovoz.accounts.permissions import StaffMember
from ovoz.petitions import services
from ovoz.settings import get_settings
from tests.petitions.helpers import (
    beruniy_mahallas,
    district_petition,
    load_demo_mahallas,
    make_district_official,
    make_moderator,
    make_residents,
    make_verified,
    open_petition,
)

Configure = Callable[..., None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Set OVOZ_* variables for this test: configure(OVOZ_PETITION_SPONSORS="3", levels={...}),
    where `levels` is written to OVOZ_PETITION_LEVELS as JSON."""

    def apply(levels: dict[str, dict[str, Any]] | None = None, **variables: str) -> None:
        if levels is not None:
            monkeypatch.setenv("OVOZ_PETITION_LEVELS", json.dumps(levels))
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    # Before monkeypatch restores the environment: the next read sees the restored one.
    get_settings.cache_clear()


@pytest.fixture
async def mahallas(db: str) -> list[int]:
    await load_demo_mahallas()
    return await beruniy_mahallas()


@pytest.fixture
async def author(mahallas: list[int]) -> int:
    return await make_verified(1, mahallas[0])


@pytest.fixture
async def backers(mahallas: list[int]) -> list[int]:
    """Five verified residents of the author's mahalla, enough to sponsor any level."""
    return await make_residents(5, mahallas[0], first=100)


@pytest.fixture
async def moderator(db: str) -> StaffMember:
    return await make_moderator()


@pytest.fixture
async def official(db: str) -> StaffMember:
    return await make_district_official()


@pytest.fixture
async def draft_id(author: int) -> int:
    return await services.create_draft(author, district_petition())


@pytest.fixture
async def open_id(author: int, backers: list[int], moderator: StaffMember) -> int:
    """A petition to Beruniy's hokimiyat collecting signatures (threshold as configured)."""
    return await open_petition(author, backers, moderator)
