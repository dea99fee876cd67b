from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "uniqueness of routes, supporters and fix feedback; the map's point index"

INDEXES = (
    ("reports_department_district_name", "reports_department (district, name_uz)", True),
    ("reports_routing_district_category", "reports_routing (district, category)", True),
    ("reports_support_report_resident", "reports_support (report, resident)", True),
    ("reports_fix_feedback_once", "reports_fix_feedback (report, resident, fix_round)", True),
    ("reports_report_point", "reports_report (lat, lon)", False),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def create_indexes():
        for name, target, unique in INDEXES:
            kind = "UNIQUE INDEX" if unique else "INDEX"
            await engine_finder().run_ddl(f"CREATE {kind} {name} ON {target}")

    async def drop_indexes():
        for name, _, _ in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
