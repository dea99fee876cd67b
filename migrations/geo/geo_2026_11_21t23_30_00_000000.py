from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-21T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one mahalla name per district"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="geo", description=DESCRIPTION)

    async def unique_mahalla_name_per_district():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX geo_mahalla_district_name_uz ON geo_mahalla (district, name_uz)"
        )

    async def drop_unique_mahalla_name_per_district():
        await engine_finder().run_ddl("DROP INDEX geo_mahalla_district_name_uz")

    manager.add_raw(unique_mahalla_name_per_district)
    manager.add_raw_backwards(drop_unique_mahalla_name_per_district)
    return manager
