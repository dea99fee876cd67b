from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T09:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one obligation per item, one version number per report period, one watch each"

INDEXES = (
    ("accountability_obligation_once", "accountability_obligation (kind, ref)"),
    ("accountability_report_version_once",
     "accountability_report (district, period_from, period_until, version)"),
    ("accountability_watch_once", "accountability_watch (staff, kind, ref)"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accountability",
                               description=DESCRIPTION)

    async def create_indexes():
        for name, target in INDEXES:
            await engine_finder().run_ddl(f"CREATE UNIQUE INDEX {name} ON {target}")

    async def drop_indexes():
        for name, _ in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
