"""Fixtures of the administration tests: a national administrator, and a deployment configured
with fewer pilot districts than the shipped litestar.toml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.settings import get_settings
from tests.reports.helpers import BERUNIY, make_staff_account


@pytest.fixture
async def administrator(db: str) -> StaffMember:
    grant = Grant(Role.ADMINISTRATOR)
    return StaffMember(await make_staff_account("admin", grant), (grant,))


@pytest.fixture
def beruniy_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """litestar.toml (here, its environment variable) names one pilot district, Beruniy."""
    monkeypatch.setenv("OVOZ_PILOT_DISTRICTS", str(BERUNIY))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
