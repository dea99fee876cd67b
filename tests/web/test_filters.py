"""A filter form submitted without JavaScript sends "all" as an empty value: every list takes it
as no filter, never as a bad request."""

import httpx
import pytest

from ovoz.web.forms import chosen_id
from tests.reports.test_web import signed_in_official


@pytest.mark.parametrize("path", [
    "/reports?district=&category=&status=&period=",
    "/petitions?district=&status=&level=&topic=&q=",
    "/cycles?district=",
    "/projects?district=&status=",
])
async def test_public_lists_take_an_empty_filter_as_all(client: httpx.AsyncClient,
                                                        path: str) -> None:
    assert (await client.get(path)).status_code == 200


async def test_the_officials_queue_takes_an_empty_filter_as_all(
        client: httpx.AsyncClient) -> None:
    await signed_in_official(client)
    response = await client.get("/staff/reports?status=open&category=&mahalla=&department=&due=")
    assert response.status_code == 200


def test_only_a_plain_number_names_an_id() -> None:
    assert chosen_id(" 16 ") == 16
    assert [chosen_id(text) for text in (None, "", "abc", "-1", "1.5", "9" * 13)] == [None] * 6
