"""Every scheduled job of Ovoz, wired in one place for `ovoz worker` and the in-server worker."""

from __future__ import annotations

from ovoz.accountability import services as accountability
from ovoz.desk import activity as desk_activity
from ovoz.notify.schedule import DIGEST, HOUSEKEEPING, DailyJob
from ovoz.petitions import services as petitions
from ovoz.planning import services as planning
from ovoz.reports import services as reports

# Mid-morning, so the question about a fix does not wake anyone.
FIX_CHECK = DailyJob("reports.fix_check", 10, lambda moment, at: reports.ask_fix_checks(at))

# Just after midnight: windows that ended yesterday close, old signers are anonymised.
PETITION_DEADLINES = DailyJob("petitions.deadlines", 0, lambda moment, at: petitions.close_due(at))

# Phases start at midnight: proposals move on, and results are counted when voting closes.
PLANNING_PHASES = DailyJob("planning.phases", 0, lambda moment, at: planning.advance(at))


# In the morning, when offices open: what falls due soon, what has passed, and to supervisors
# what has stayed overdue.
DEADLINE_REMINDERS = DailyJob("deadlines.remind", 9,
                              lambda moment, at: accountability.remind_due(at))

# Before the offices open: yesterday's unusually busy mahalla desks, to the moderators.
DESK_FLAGS = DailyJob("desk.flags", 8, lambda moment, at: desk_activity.tell_moderators(at))

JOBS: tuple[DailyJob, ...] = (HOUSEKEEPING, DIGEST, FIX_CHECK, PETITION_DEADLINES,
                              PLANNING_PHASES, DEADLINE_REMINDERS, DESK_FLAGS)
