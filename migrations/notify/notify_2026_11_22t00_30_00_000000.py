from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one follow per resident and subject"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notify", description=DESCRIPTION)

    async def unique_follow():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX notify_follow_resident_subject ON notify_follow (resident, subject)"
        )

    async def drop_unique_follow():
        await engine_finder().run_ddl("DROP INDEX notify_follow_resident_subject")

    manager.add_raw(unique_follow)
    manager.add_raw_backwards(drop_unique_follow)
    return manager
