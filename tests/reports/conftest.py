"""Fixtures shared by the reports tests: a resident with the demo mahallas loaded, their report,
and an official of the same district."""

from __future__ import annotations

import pytest

from ovoz.accounts.permissions import StaffMember
from ovoz.reports import services
from tests.reports.helpers import draft, load_demo_mahallas, make_official, make_resident


@pytest.fixture
async def author(db: str) -> int:
    await load_demo_mahallas()
    return await make_resident()


@pytest.fixture
async def report_id(author: int) -> int:
    return await services.create_report(author, draft())


@pytest.fixture
async def official(db: str) -> StaffMember:
    return await make_official()
