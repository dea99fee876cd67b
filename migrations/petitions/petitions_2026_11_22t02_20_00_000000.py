from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T02:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one sponsorship, signature and count shard per person or shard"

INDEXES = (
    ("petitions_sponsor_once", "petitions_sponsor (petition, resident)"),
    ("petitions_signature_once", "petitions_signature (petition, resident)"),
    ("petitions_count_shard", "petitions_count (petition, shard)"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="petitions", description=DESCRIPTION)

    async def create_indexes():
        for name, target in INDEXES:
            await engine_finder().run_ddl(f"CREATE UNIQUE INDEX {name} ON {target}")

    async def drop_indexes():
        for name, _ in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
