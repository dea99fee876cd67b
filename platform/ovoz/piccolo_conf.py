"""Piccolo's configuration: the engine from the settings and the registry of Ovoz's apps.
ovoz.db.use_database() swaps DB at run time (the tests do, to run on both engines)."""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from ovoz.db import APPS, create_engine
from ovoz.settings import get_settings

DB: Engine = create_engine(get_settings().database_url)

APP_REGISTRY = AppRegistry(apps=list(APPS))
