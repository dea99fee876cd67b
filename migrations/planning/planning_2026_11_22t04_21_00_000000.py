from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T04:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one ballot per voter and cycle, one choice per proposal, one sub-budget per mahalla"

INDEXES = (
    ("planning_ballot_once", "planning_ballot (cycle, resident)"),
    ("planning_ballot_choice_once", "planning_ballot_choice (ballot, proposal)"),
    ("planning_mahalla_budget_once", "planning_mahalla_budget (cycle, mahalla)"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="planning", description=DESCRIPTION)

    async def create_indexes():
        for name, target in INDEXES:
            await engine_finder().run_ddl(f"CREATE UNIQUE INDEX {name} ON {target}")

    async def drop_indexes():
        for name, _ in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
