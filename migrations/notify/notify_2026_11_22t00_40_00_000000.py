from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T00:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one run per job and moment"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notify", description=DESCRIPTION)

    async def unique_run():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX notify_scheduled_run_job_moment "
            "ON notify_scheduled_run (job, moment)"
        )

    async def drop_unique_run():
        await engine_finder().run_ddl("DROP INDEX notify_scheduled_run_job_moment")

    manager.add_raw(unique_run)
    manager.add_raw_backwards(drop_unique_run)
    return manager
