"""Demo participatory budgeting for `ovoz seed --demo`, in the first pilot district: a cycle
voting now, with reviewed proposals and a few ballots, and an earlier cycle whose winners are
being built. Cycles and proposals say "Namuna" (sample); demo residents are named "(demo)",
have no phone number, so nobody can sign in as them, and hear only through the bell."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ovoz import ledger
from ovoz.accounts import staff
from ovoz.accounts.permissions import Grant, Role, StaffMember
from ovoz.accounts.tables import Resident, StaffAccount
from ovoz.db import transaction
from ovoz.geo import services as geo
from ovoz.i18n import locale
from ovoz.notify import services as notify
from ovoz.planning import services
from ovoz.planning.tables import Cycle, Proposal

MARK = "Namuna:"
DEMO_PLANNER = "demo-planner"
VOTING_TITLE = f"{MARK} mahallalar tashabbusli budjeti, joriy mavsum"
EARLIER_TITLE = f"{MARK} mahallalar tashabbusli budjeti, oʻtgan mavsum"
AUTHORS = ("Dilfuza Namuna (demo)", "Rustam Namuna (demo)", "Gulnora Namuna (demo)")
VOTERS = 12


@dataclass(frozen=True, slots=True)
class Idea:
    category: str
    title: str
    description: str
    estimated_cost: int
    reviewed_cost: int


CURRENT = (
    Idea("roads", "Navbahor koʻchasiga asfalt yotqizish",
         "Namuna: 1,2 km koʻcha yomgʻirda loyga aylanadi, maktab avtobusi oʻtolmay qoladi.",
         320_000_000, 300_000_000),
    Idea("water", "Ichimlik suvi quvurini yangilash",
         "Namuna: eski quvur tez-tez yoriladi, yozda uch koʻchada suv kunora keladi.",
         280_000_000, 290_000_000),
    Idea("lighting", "Koʻcha chiroqlarini quyosh panelli qilish",
         "Namuna: 60 ta chiroq qoʻyilsa, kechqurun bozordan qaytish xavfsiz boʻladi.",
         90_000_000, 85_000_000),
    Idea("education", "Maktab sport zalining tomini ta’mirlash",
         "Namuna: 12-maktab sport zalining tomi oqadi, qishda darslar boshqa xonada oʻtadi.",
         150_000_000, 150_000_000),
    Idea("sport", "Bolalar oʻyin maydonchasi qurish",
         "Namuna: mahallada bolalar koʻchada oʻynaydi; guzar yonida boʻsh yer bor.",
         110_000_000, 120_000_000),
    Idea("health", "Qishloq vrachlik punktiga qon tahlili jihozi",
         "Namuna: tahlil uchun tuman markaziga 40 km borishga toʻgʻri keladi.",
         200_000_000, 180_000_000),
    Idea("environment", "Kanal boʻyiga 500 tup daraxt ekish",
         "Namuna: kanal boʻyi yozda chang boʻladi; daraxtlar soya va salqin beradi.",
         40_000_000, 40_000_000),
    Idea("culture", "Mahalla guzariga yopiq ayvon qurish",
         "Namuna: toʻy va yigʻinlar uchun soyabon kerak, qariyalar ham shu yerda oʻtiradi.",
         130_000_000, 135_000_000),
)
# Who chose what, by position in CURRENT: a few voters so far, voting goes on.
CURRENT_BALLOTS = ((0, 1, 2), (0, 2), (1, 3, 6), (2, 4, 6), (0, 5), (3, 4), (1, 2, 7),
                   (0, 6))

EARLIER = (
    Idea("roads", "Bozor yoʻlidagi koʻprikni ta’mirlash",
         "Namuna: koʻprik panjarasi sinib ketgan, yuk mashinalari aylanib oʻtadi.",
         250_000_000, 250_000_000),
    Idea("lighting", "Markaziy koʻchaga 40 ta chiroq oʻrnatish",
         "Namuna: markaziy koʻchada kechasi qorongʻi, piyodalar yoʻl chetida yuradi.",
         80_000_000, 80_000_000),
    Idea("water", "Mahallaga suv minorasini oʻrnatish",
         "Namuna: baland koʻchalarga suv bosimi yetmaydi, nasos koʻp buziladi.",
         300_000_000, 300_000_000),
    Idea("education", "Bogʻchaga yangi isitish qozoni",
         "Namuna: bogʻchaning qozoni eskirgan, qishda guruh xonalari sovuq boʻladi.",
         120_000_000, 120_000_000),
    Idea("sport", "Mini-futbol maydoniga sun’iy qoplama",
         "Namuna: maktab yonidagi maydon tuproq, yomgʻirdan keyin oʻynab boʻlmaydi.",
         200_000_000, 200_000_000),
)
EARLIER_BALLOTS = ((0, 1), (0, 1), (0, 2), (0, 1), (0, 3), (1, 2), (0, 1), (1, 4), (2, 3),
                   (2, 4), (0, 3), (1,))
# (status, progress %, share of the cost spent, note) for the first two winners.
DELIVERY = (
    (("procurement", 10, 0, "Namuna: tanlov e’lon qilindi, pudratchi tanlandi."),
     ("in_progress", 60, 55, "Namuna: koʻprik tayanchlari tayyor, panjara oʻrnatilmoqda.")),
    (("in_progress", 50, 40, "Namuna: 20 ta chiroq ustuni oʻrnatildi."),
     ("completed", 100, 96, "Namuna: 40 ta chiroq yonmoqda, ish topshirildi.")),
)


async def seed_demo() -> None:
    """Add the demo cycles once; later runs, or a district without mahallas yet, add nothing."""
    pilots = await geo.pilot_district_ids()
    if not pilots:
        return
    district = await geo.district(pilots[0])
    mahallas = await geo.mahallas_of(pilots[0])
    if district is None or not mahallas:
        return
    # One transaction: an interrupted run leaves nothing behind, and the next one starts over.
    async with transaction():
        if await Cycle.exists().where((Cycle.district == district["id"])
                                      & Cycle.title.like(f"{MARK}%")):
            return
        planner = await _planner(district)
        authors = [await _resident(name, mahallas[index % len(mahallas)]["id"])
                   for index, name in enumerate(AUTHORS)]
        voters = [await _resident(f"Saylovchi {number} Namuna (demo)",
                                  mahallas[number % len(mahallas)]["id"])
                  for number in range(1, VOTERS + 1)]
        await _earlier_cycle(planner, district["id"], mahallas, authors, voters)
        await _voting_cycle(planner, district["id"], mahallas, authors, voters)


def _today() -> date:
    return services.now().astimezone(locale.TASHKENT).date()


async def _planner(district: dict[str, Any]) -> StaffMember:
    """A district official nobody can sign in as: its password is thrown away."""
    grant = Grant(Role.OFFICIAL, district["region"], district["id"])
    row = await StaffAccount.select(StaffAccount.id).where(
        StaffAccount.username == DEMO_PLANNER).first()
    if row is None:
        row, _ = await staff.create_staff(DEMO_PLANNER, "Namuna rejalashtiruvchi (demo)",
                                          secrets.token_urlsafe(32), grants=[grant])
    return StaffMember(row["id"], (grant,))


async def _resident(name: str, mahalla_id: int) -> int:
    """A demo resident of the mahalla, verified so that they may propose and vote."""
    at = datetime.now(UTC)
    created = await Resident.insert(Resident(
        display_name=name, mahalla=mahalla_id, phone_verified_at=at,
        residence_confirmed_at=at, created_at=at)).returning(Resident.id)
    resident_id = int(created[0]["id"])
    # No phone: an SMS could never reach them.
    await notify.choose_channels(resident_id, ["inapp"])
    return resident_id


def _form(district_id: int, title: str, description: str, budget: int, max_choices: int,
          selection_rule: str, completion: str) -> services.CycleForm:
    today = _today()
    return services.CycleForm(
        district_id=district_id, title=title, description=description, budget=budget,
        ballot_rule=services.APPROVAL, max_choices=max_choices, selection_rule=selection_rule,
        satisfaction="cost", completion=completion, show_running_totals=False,
        proposals_from=today, review_from=today + timedelta(days=1),
        voting_from=today + timedelta(days=2), results_from=today + timedelta(days=3),
        implementation_from=today + timedelta(days=3))


async def _move(cycle_id: int, offsets: Sequence[int]) -> None:
    """Set the phases' dates relative to today and act on the phases reached. The dates are
    moved rather than waited for, and the ledger says so as it does for any reschedule."""
    today = _today()
    days = [today + timedelta(days=offset) for offset in offsets]
    await Cycle.update({getattr(Cycle, column): day for column, day in
                        zip(services.PHASE_STARTS.values(), days, strict=True)}
                       ).where(Cycle.id == cycle_id)
    await ledger.record("planning.cycle_rescheduled", services.cycle_subject(cycle_id),
                        {"dates": [day.isoformat() for day in days]})
    await services.advance()


async def _proposals(planner: StaffMember, cycle_id: int, district_id: int,
                     mahallas: Sequence[dict[str, Any]], authors: Sequence[int],
                     ideas: Sequence[Idea]) -> list[int]:
    ids = []
    for index, idea in enumerate(ideas):
        mahalla = mahallas[index % len(mahallas)]
        lat, lon = mahalla["centre_lat"], mahalla["centre_lon"]
        if lat is None or lon is None or await geo.pilot_district_at(lat, lon) != district_id:
            lat = lon = None
        proposal_id = await services.submit_proposal(
            authors[index % len(authors)], cycle_id, services.ProposalText(
                idea.title, idea.description, idea.category, mahalla["id"],
                idea.estimated_cost, lat, lon))
        await services.review(planner, proposal_id, True, idea.reviewed_cost)
        ids.append(proposal_id)
    return ids


async def _vote(cycle_id: int, voters: Sequence[int], ids: Sequence[int],
                ballots: Sequence[Sequence[int]]) -> None:
    for voter, chosen in zip(voters, ballots, strict=False):
        await services.cast_ballot(voter, cycle_id, [ids[index] for index in chosen])


async def _earlier_cycle(planner: StaffMember, district_id: int,
                         mahallas: Sequence[dict[str, Any]], authors: Sequence[int],
                         voters: Sequence[int]) -> None:
    cycle_id = await services.create_cycle(planner, _form(
        district_id, EARLIER_TITLE,
        "Namuna: oʻtgan mavsumda mahallalar tanlagan loyihalar va ularning bajarilishi.",
        600_000_000, 2, services.GREEDY, "none"))
    await services.advance()
    ids = await _proposals(planner, cycle_id, district_id, mahallas, authors, EARLIER)
    await _move(cycle_id, (-120, -100, -90, 1, 1))
    await _vote(cycle_id, voters, ids, EARLIER_BALLOTS)
    await _move(cycle_id, (-120, -100, -90, -75, -75))
    winners = await Proposal.select(Proposal.id, Proposal.reviewed_cost).where(
        (Proposal.cycle == cycle_id) & (Proposal.status == services.SELECTED)
    ).order_by(Proposal.id)
    for winner, updates in zip(winners, DELIVERY, strict=False):
        for status, progress, spent, note in updates:
            await services.record_delivery(planner, winner["id"], services.DeliveryText(
                status, progress, winner["reviewed_cost"] * spent // 100, note))


async def _voting_cycle(planner: StaffMember, district_id: int,
                        mahallas: Sequence[dict[str, Any]], authors: Sequence[int],
                        voters: Sequence[int]) -> None:
    cycle_id = await services.create_cycle(planner, _form(
        district_id, VOTING_TITLE,
        "Namuna: tumanning bir milliard soʻmi uchun mahallalar taklif qilgan loyihalar. "
        "Har kim uchtagacha loyihani tanlaydi; pul teng ulushlar usulida taqsimlanadi.",
        1_000_000_000, 3, services.EQUAL_SHARES, "add1"))
    await services.advance()
    ids = await _proposals(planner, cycle_id, district_id, mahallas, authors, CURRENT)
    await _move(cycle_id, (-21, -11, -1, 13, 13))
    await _vote(cycle_id, voters, ids, CURRENT_BALLOTS)
