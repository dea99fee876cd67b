from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-06T21:24:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "one flag per resident and item; decisions found by their item"

INDEXES = (
    ("moderation_flag_once", "UNIQUE INDEX", "moderation_flag (kind, ref, resident)"),
    ("moderation_decision_item", "INDEX", "moderation_decision (kind, ref)"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="moderation", description=DESCRIPTION)

    async def create_indexes():
        for name, index, target in INDEXES:
            await engine_finder().run_ddl(f"CREATE {index} {name} ON {target}")

    async def drop_indexes():
        for name, _, _ in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
