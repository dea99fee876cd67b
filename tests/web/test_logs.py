from __future__ import annotations

import logging

from ovoz.web.logs import PathOnlyAccessLog, quiet_access_log


def test_the_access_log_keeps_the_path_and_drops_the_query() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/signin/oneid/callback?code=SECRET&state=x", "1.1", 302),
        None,
    )
    assert PathOnlyAccessLog().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /signin/oneid/callback HTTP/1.1" 302'


def test_the_filter_is_installed_once() -> None:
    quiet_access_log()
    quiet_access_log()
    filters = logging.getLogger("uvicorn.access").filters
    assert sum(isinstance(f, PathOnlyAccessLog) for f in filters) == 1
