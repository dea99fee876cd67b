"""Build hook: compile the gettext catalogs (.po -> .mo) when Ovoz is installed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogsHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        platform_dir = Path(self.root) / "platform"
        sys.path.insert(0, str(platform_dir))
        try:
            from ovoz.i18n.catalogs import compile_all
        finally:
            sys.path.remove(str(platform_dir))
        for mo_path in compile_all():
            build_data["force_include"][str(mo_path)] = str(mo_path.relative_to(platform_dir))
