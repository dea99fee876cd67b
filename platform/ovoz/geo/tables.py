from piccolo.columns import Boolean, Float, ForeignKey, Integer, OnDelete, Varchar
from piccolo.table import Table


class Region(Table, tablename="geo_region"):
    """A viloyat, the Republic of Karakalpakstan or Tashkent city; ids are those of the shipped
    place list, so they stay stable across installations."""

    name_uz = Varchar(length=120)
    name_uz_cyrl = Varchar(length=120)
    name_ru = Varchar(length=120)
    name_en = Varchar(length=120)


class District(Table, tablename="geo_district"):
    """A tuman or a city of district rank."""

    region = ForeignKey(
        references=Region, index=True, on_delete=OnDelete.restrict, null=False
    )
    name_uz = Varchar(length=120)
    name_uz_cyrl = Varchar(length=120)
    name_ru = Varchar(length=120)
    name_en = Varchar(length=120)
    centre_lat = Float(null=True, default=None)
    centre_lon = Float(null=True, default=None)


class Mahalla(Table, tablename="geo_mahalla"):
    """A citizens' assembly; imported per district from CSV. (district, name_uz) is unique."""

    district = ForeignKey(
        references=District, index=True, on_delete=OnDelete.restrict, null=False
    )
    name_uz = Varchar(length=160)
    name_uz_cyrl = Varchar(length=160)
    name_ru = Varchar(length=160, default="")
    name_en = Varchar(length=160, default="")
    centre_lat = Float(null=True, default=None)
    centre_lon = Float(null=True, default=None)
    population = Integer(null=True, default=None)
    is_demo = Boolean(default=False)
