"""Ovoz: participatory planning, e-petitions and problem reports for the districts of Uzbekistan."""

import os

# Piccolo finds its engine and apps through this module; it must be set before any table import.
os.environ.setdefault("PICCOLO_CONF", "ovoz.piccolo_conf")
