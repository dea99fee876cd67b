from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-21T23:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one counter per key and window"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="store", description=DESCRIPTION)

    async def unique_counter_per_window():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX store_rate_counter_key_window "
            "ON store_rate_counter (key, window_start)"
        )

    async def drop_unique_counter_per_window():
        await engine_finder().run_ddl("DROP INDEX store_rate_counter_key_window")

    manager.add_raw(unique_counter_per_window)
    manager.add_raw_backwards(drop_unique_counter_per_window)
    return manager
