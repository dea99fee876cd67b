"""What operators watch: /metrics for Prometheus (requests by route pattern, outbox depth,
overdue answers), the administrators' status page, and JSON logs without personal data."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import httpx

from ovoz.accountability.tables import Obligation
from ovoz.accounts.permissions import Grant, Role
from ovoz.notify import services as notify
from ovoz.reports import services as reports
from ovoz.web.logs import JsonFormatter, uvicorn_log_config
from tests.petitions.test_staff_web import as_staff
from tests.reports.helpers import draft, load_demo_mahallas, make_resident


def gauge(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name} in the metrics"
    return float(found.group(1))


def report_pages(scraped: httpx.Response) -> float:
    """Report pages served so far by this process, as the metrics count them."""
    found = re.search(r'^ovoz_requests_total\{[^}]*path="/reports/\{report_id\}",'
                      r'status_code="200"\} (\S+)$', scraped.text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_requests_by_route_and_read_the_queues(client: httpx.AsyncClient
                                                                   ) -> None:
    await load_demo_mahallas()
    resident = await make_resident()
    first = await reports.create_report(resident, draft())
    await reports.create_report(resident, draft(description="Another deep pothole here."))
    await Obligation.update({Obligation.due_at: datetime.now(UTC) - timedelta(days=1)}).where(
        Obligation.ref == first)
    await notify.enqueue("test:metrics", "resident", resident, "digest",
                         {"count": 1, "items": "-"}, channels=("sms",))
    before = report_pages(await client.get("/metrics"))
    for report_id in (first, first + 1):
        assert (await client.get(f"/reports/{report_id}")).status_code == 200

    scraped = await client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith(
        "text/plain")
    text = scraped.text
    # One series for every report page, not one per report.
    assert report_pages(scraped) == before + 2
    assert "ovoz_request_duration_seconds_bucket" in text
    assert "/metrics" not in re.findall(r'path="([^"]+)"', text)
    assert gauge(text, "ovoz_obligations_overdue") == 1
    assert gauge(text, "ovoz_outbox_pending") == (await notify.outbox_depth()).pending >= 1
    assert gauge(text, "ovoz_migrations_pending") == 0
    assert "+998" not in text


async def test_the_status_page_is_for_administrators(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")
    await as_staff(client, "moderator", Grant(Role.MODERATOR))
    assert (await client.get("/staff/status")).status_code == 403
    await as_staff(client, "admin", Grant(Role.ADMINISTRATOR))
    assert 'href="/staff/status"' in (await client.get("/staff/admin")).text
    page = await client.get("/staff/status")
    assert page.status_code == 200
    assert "up to date" in page.text and "Notifications waiting" in page.text
    assert "No scheduled job has run yet" in page.text


def record(name: str, message: str, args: tuple[object, ...] | None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def test_json_logs_leave_out_the_client_and_the_query() -> None:
    access = json.loads(JsonFormatter().format(record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:5123", "GET", "/oneid/callback?code=secret", "1.1", 302))))
    assert access["method"] == "GET" and access["path"] == "/oneid/callback"
    assert access["status"] == 302 and "203.0.113.7" not in json.dumps(access)
    assert "secret" not in json.dumps(access)
    other = json.loads(JsonFormatter().format(record("ovoz.errors", "worker %s started", (3,))))
    assert other["message"] == "worker 3 started" and other["level"] == "info"
    assert uvicorn_log_config("text") is None
    config = uvicorn_log_config("json")
    assert config is not None and config["formatters"]["json"]["()"].endswith("JsonFormatter")
