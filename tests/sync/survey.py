"""Submissions of the four real survey forms, built on the compiled forms' own instance templates.

A submission is the form's primary instance with answers filled in by field name (groups as the form
nests them, one copy of a repeat per entry, ``meta/instanceID`` and the ``<entity>`` block as Collect
writes them), so the registry reads exactly the shape phones send.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from forms.build import CompiledForm
from forms.rules.idnumber import check_character

XF = "http://www.w3.org/2002/xforms"
JR = "http://openrosa.org/javarosa"

COUNTY = "150121"
TOWNSHIP = "150121100"
VILLAGES = ("150121100201", "150121100202")


@dataclass
class SurveyForms:
    compiled: dict[str, CompiledForm]

    def xml(
        self,
        form_id: str,
        answers: Mapping[str, Any],
        *,
        instance_id: str | None = None,
        deprecated_id: str | None = None,
        entity_id: str | None = None,
        base_version: int | None = None,
        create: bool = False,
    ) -> bytes:
        form = etree.fromstring(self.compiled[form_id].xml)
        instance = form.find(f".//{{{XF}}}model/{{{XF}}}instance")
        root = copy.deepcopy(next(iter(instance)))
        for element in root.iter():
            element.attrib.pop(f"{{{JR}}}template", None)
        _fill(root, answers)
        meta = root.find(f"{{{XF}}}meta")
        meta.find(f"{{{XF}}}instanceID").text = instance_id or f"uuid:{uuid.uuid4()}"
        if deprecated_id:
            deprecated = etree.SubElement(meta, f"{{{XF}}}deprecatedID")
            deprecated.text = deprecated_id
        entity = meta.find(f"{{{XF}}}entity")
        if entity is not None:
            entity.set("id", entity_id or "")
            entity.set("baseVersion", "" if base_version is None else str(base_version))
            if "create" in entity.attrib:
                entity.set("create", "1" if create else "0")
            if "update" in entity.attrib:
                entity.set("update", "0" if create else "1")
        return etree.tostring(root, xml_declaration=False, encoding="utf-8")


def _fill(root: etree._Element, answers: Mapping[str, Any]) -> None:
    for name, value in answers.items():
        node = _find(root, name)
        assert node is not None, f"the form has no field {name}"
        if isinstance(value, list):
            template = node
            parent = template.getparent()
            position = parent.index(template)
            for sibling in parent.findall(template.tag):  # the jr:template copy and the first instance
                parent.remove(sibling)
            for offset, row in enumerate(value):
                copy_ = copy.deepcopy(template)
                _fill(copy_, row)
                parent.insert(position + offset, copy_)
        else:
            node.text = str(value)


def _find(root: etree._Element, name: str) -> etree._Element | None:
    for element in root.iter(f"{{{XF}}}{name}"):
        return element
    return None


def id_number(birth: str, sequence: int, *, female: bool = False, county: str = COUNTY) -> str:
    """A GB 11643 number that passes its checksum: county, YYYYMMDD, 3-digit sequence (odd = male)."""
    seq = sequence * 2 + (0 if female else 1)
    first17 = f"{county}{birth}{seq % 1000:03d}"
    return first17 + check_character(first17)


def member(name: str, id_no: str, relation: str, *, sex: str = "1", labour: str = "normal", **extra: str) -> dict:
    return {
        "m_name": name,
        "m_id": id_no,
        "m_sex": sex,
        "m_relation": relation,
        "m_ethnic": "01",
        "m_health": "healthy",
        "m_labour": labour,
        "m_med_ins": "1",
        "m_crit_ins": "1",
        "m_status": "active",
        **extra,
    }


def baseline(village: str, group: str, members: list[dict], *, day: str = "2021-03-10", **extra: str) -> dict:
    return {
        "survey_date": day,
        "today": day,
        "start": f"{day}T09:00:00.000+08:00",
        "end": f"{day}T09:40:00.000+08:00",
        "county": COUNTY,
        "township": TOWNSHIP,
        "village": village,
        "group_name": group,
        "reg_type": "new",
        "registered": "1",
        "poverty_attr": "general",
        "main_cause": "1",
        "food_ok": "1",
        "clothing_ok": "1",
        "med_access_ok": "1",
        "housing_basis": "own_AB",
        "gps_house": "40.70000 111.20000 1000 5",
        "members": members,
        **extra,
    }


def appraisal(hh_ref: str, *, day: str, wall: str = "a", grade: str | None = None, **extra: str) -> dict:
    """A one-storey brick-timber house on a safe site; ``wall`` decides the grade (a->A, b->B, c->C, d->D)."""
    grades = {"a": "A", "b": "B", "c": "C", "d": "D"}
    return {
        "survey_date": day,
        "start": f"{day}T10:00:00.000+08:00",
        "end": f"{day}T10:30:00.000+08:00",
        "hh_ref": hh_ref,
        "struct_type": "brick_timber",
        "roof_system": "timber_truss",
        "storeys": "1",
        "site_grade": "safe",
        "g_found": "a",
        "g_wall": wall,
        "g_timber_member": "a",
        "g_truss": "a",
        "g_secondary": "a",
        "tilt": "none",
        "prevention": "full",
        "seismic_intensity": "7",
        "grade_final": grade or grades[wall],
        **extra,
    }


def water(hh_ref: str, *, day: str, fetch_minutes: str = "15", **extra: str) -> dict:
    """Dispersed supply, 25 L a person a day, 30 short days: basically meets, unless the fetch is long."""
    return {
        "survey_date": day,
        "start": f"{day}T11:00:00.000+08:00",
        "end": f"{day}T11:20:00.000+08:00",
        "hh_ref": hh_ref,
        "supply_type": "dispersed",
        "source": "shallow_well",
        "well_in_yard": "0",
        "lab_report": "none",
        "sens_impurity": "0",
        "sens_colour_odour": "0",
        "sens_taste": "0",
        "sens_ill_effect": "0",
        "known_exceed": "none",
        "q_method": "container",
        "cont_litres": "50",
        "trips_per_day": "2",
        "n_users": "4",
        "fetch_minutes": fetch_minutes,
        "short_days": "30",
        **extra,
    }


def income(hh_ref: str, *, day: str, persons: int, wages: int, year: int = 2020, **extra: str) -> dict:
    return {
        "survey_date": day,
        "start": f"{day}T14:00:00.000+08:00",
        "end": f"{day}T14:30:00.000+08:00",
        "hh_ref": hh_ref,
        "ref_period": "calendar_year",
        "ref_year": str(year),
        "hh_size_ref": str(persons),
        "w_local": str(wages),
        **extra,
    }
