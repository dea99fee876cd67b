"""Staff with an e-mail address get their notifications by e-mail as well."""

from __future__ import annotations

from ovoz.accounts import staff
from ovoz.accounts.permissions import Grant, Role
from ovoz.notify import services
from ovoz.notify.email import message_id_for
from tests.notify.test_email import SmtpServer, smtp

__all__ = ["smtp"]


async def test_a_deadline_reminder_reaches_an_official_by_e_mail(db: str, smtp: SmtpServer
                                                                 ) -> None:
    official, _ = await staff.create_staff(
        "s.umarov", "Sardor Umarov", "tuman-yoli-2026-kuz", email="s.umarov@chortoq.uz",
        grants=[Grant(Role.OFFICIAL, district_id=106)])
    queued = await services.enqueue("obligation:7:due", "staff", official["id"],
                                    "obligation.due_soon",
                                    {"date": "1-dekabr", "title": "Yoʻl taʼmiri", "link": "/o/7"})
    assert queued == 2  # the bell and e-mail
    outcome = await services.run_once(
        {"inapp": services.InAppChannel(), "email": services.EmailChannel(smtp.mailer())}, 3)
    assert outcome["sent"] == 2
    [mail] = smtp.recorder.received
    assert mail.rcpt_tos == ["s.umarov@chortoq.uz"]
    assert mail.message["Message-ID"] == message_id_for("obligation:7:due:email")
    assert "Muddati 1-dekabr: Yoʻl taʼmiri." in mail.message.get_content()


async def test_staff_without_an_address_get_only_the_bell(db: str) -> None:
    official, _ = await staff.create_staff("b.aliyev", "Bobur Aliyev", "tuman-yoli-2026-kuz")
    assert await services.staff_channels(official["id"]) == ("inapp",)
