"""Where a form may send the person next: only a path on this site."""

import pytest

from ovoz.web.forms import local_path


@pytest.mark.parametrize("target", ["/reports/12", "/staff/monitor?from=2026-07-01&page=2",
                                    " /petitions "])
def test_a_path_on_this_site_is_kept(target: str) -> None:
    assert local_path(target, "/") == target.strip()


@pytest.mark.parametrize("target", [None, "", "https://example.com/", "//example.com/x",
                                    "/\\example.com", "reports", "/a\nb", "/" + "x" * 2000])
def test_anything_else_goes_to_the_default(target: str | None) -> None:
    assert local_path(target, "/staff") == "/staff"
