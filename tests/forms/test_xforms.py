"""What the compiled survey forms contain: the checks a reviewer of docs/domain.md would make in the XForm."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import pytest
from lxml import etree

from forms.build import MEDIA_DIR, CompiledForm, build_all
from forms.device_verdicts import DEVICE_VERDICTS
from forms.rules.parameters import read_table

NS = {
    "x": "http://www.w3.org/2002/xforms",
    "h": "http://www.w3.org/1999/xhtml",
    "jr": "http://openrosa.org/javarosa",
    "orx": "http://openrosa.org/xforms",
    "entities": "http://www.opendatakit.org/xforms/entities",
}
JR = "{http://openrosa.org/javarosa}"
ZH, EN = "中文 (zh)", "English (en)"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "forms.md"


@dataclass
class XForm:
    """Read-only view of a compiled XForm, by field name."""

    form: CompiledForm

    @cached_property
    def root(self) -> etree._Element:
        return etree.fromstring(self.form.xml)

    @cached_property
    def binds(self) -> dict[str, etree._Element]:
        binds = {}
        for bind in self.root.iterfind(".//x:model/x:bind", NS):
            nodeset = bind.get("nodeset")
            if "/meta/" not in nodeset:
                binds[nodeset.rsplit("/", 1)[-1]] = bind
        return binds

    def bind(self, name: str) -> etree._Element:
        assert name in self.binds, f"{self.form.form_id} has no field {name!r}"
        return self.binds[name]

    @cached_property
    def texts(self) -> dict[str, dict[str, str]]:
        """itext id -> language -> plain text."""
        texts: dict[str, dict[str, str]] = {}
        for translation in self.root.iterfind(".//x:itext/x:translation", NS):
            lang = translation.get("lang")
            for text in translation.iterfind("x:text", NS):
                value = text.find("x:value", NS)
                texts.setdefault(text.get("id"), {})[lang] = (
                    "".join(value.itertext()) if value is not None else ""
                )
        return texts

    def choices(self, list_name: str) -> dict[str, dict[str, str]]:
        """Choice code -> language -> label, from the list's secondary instance."""
        instance = self.root.find(f".//x:model/x:instance[@id='{list_name}']", NS)
        assert instance is not None, f"{self.form.form_id} has no choice list {list_name!r}"
        return {
            item.findtext("x:name", namespaces=NS): self.texts[item.findtext("x:itextId", namespaces=NS)]
            for item in instance.iterfind("x:root/x:item", NS)
        }

    def list_of(self, name: str) -> str:
        """The choice list (secondary instance id) a select question uses."""
        control = self.control(name)
        itemset = control.find("x:itemset", NS)
        return re.match(r"instance\('([^']+)'\)", itemset.get("nodeset")).group(1)

    def control(self, name: str) -> etree._Element:
        for control in self.root.iterfind(".//h:body//*[@ref]", NS):
            is_control = etree.QName(control).localname in ("input", "select1", "select", "upload", "trigger")
            if is_control and control.get("ref").rsplit("/", 1)[-1] == name:
                return control
        raise AssertionError(f"{self.form.form_id}: no control for {name!r}")

    @cached_property
    def entity(self) -> etree._Element:
        entity = self.root.find(".//x:instance/*/x:meta/x:entity", NS)
        assert entity is not None, f"{self.form.form_id} declares no entity"
        return entity

    def meta_bind(self, path: str) -> etree._Element:
        return next(b for b in self.root.iterfind(".//x:model/x:bind", NS) if b.get("nodeset").endswith(path))

    def saveto(self) -> dict[str, str]:
        """Entity property -> field name."""
        key = f"{{{NS['entities']}}}saveto"
        return {b.get(key): name for name, b in self.binds.items() if b.get(key)}


@pytest.fixture(scope="module")
def forms() -> dict[str, XForm]:
    return {form.form_id: XForm(form) for form in build_all()}


FORM_IDS = ["hh_baseline", "house_appraisal", "water_survey", "income_check"]

RISK_CODES = "01 0201 0202 0203 0204 0205 0206 0299 03 04 05 06 07 09 10 11 12 13 14 99"
# Choice codes exactly as listed in docs/domain.md (§1.5, §2.1-2.2, §3.2, §4.3, §5.3).
DOMAIN_LISTS = {
    "hh_baseline": {
        "main_cause": "1 2 3 4 5 6 7 8 9 10 11 99",
        "other_causes": "1 2 3 4 5 6 7 8 9 10 11 99",
        "poverty_attr": "general dibao tekun",
        "id_standard": "national provincial municipal",
        "m_sex": "1 2",
        "m_relation": "01 10 20 21 30 31 40 50 51 60 70 99",
        "m_edu": "1 2 3 4 5 9",
        "m_student": "0 pre p1 p2 p3 p4 p5 p6 m1 m2 m3 h1 h2 h3 v1 v2 v3 c u dropout",
        "m_health": "healthy chronic serious disabled",
        "m_disab_grade": "1 2 3 4",
        "m_labour": "normal skilled lost none",
        "m_migrant": "none in_county in_prov out_prov",
        "m_status": "active deceased moved_out married_out other_out",
        "m_med_ins": "1 0",
        "food_ok": "1 0",
        "edu_exempt_reason": "health_home_teaching severe_disability other",
        "housing_basis": "own_AB own_renovated relocated with_relatives rented_safe institution none",
    },
    "house_appraisal": {
        "struct_type": (
            "brick_concrete brick_timber brick_earth earth_timber stone_timber stone timber cave "
            "rc_frame steel other"
        ),
        "roof_system": (
            "flat single_slope double_slope beam_purlin timber_truss chuandou hard_gable rc_slab "
            "precast_slab stone_slab arch"
        ),
        "seismic_intensity": "6 7 8 9",
        "site_grade": "safe unfavourable dangerous",
        "site_hazard": "landslide rockfall debris_flow fissure subsidence flood steep_slope other",
        "g_found": "a b c d na",
        "g_secondary": "a b c d na",
        "tilt": "none slight obvious",
        "prevention": "full partial none",
        "grade_final": "A B C D",
    },
    "water_survey": {
        "supply_type": "central_home central_point dispersed trucked",
        "scheme_scale": "large small unknown",
        "source": (
            "municipal deep_well shallow_well big_well spring cellar tank small_elec_well river pond "
            "bottled other"
        ),
        "treatment": "none disinfect filter household_purifier boil",
        "q_method": "meter container declared",
        "lab_report": "pass_full pass_relaxed fail none",
        "known_exceed": "fluoride arsenic salinity iron_mn nitrate micro none",
        "sens_taste": "1 0",
    },
    "income_check": {
        "ref_period": "calendar_year rolling_12m",
        "risks": RISK_CODES,
        "income_drop_cause": RISK_CODES,
        "self_coping": "strong weak none",
        "declaration": "1 0",
    },
}
# Chinese labels that identify each code in docs/domain.md, spot-checked per list.
DOMAIN_LABELS = {
    ("hh_baseline", "main_cause"): {"1": "因病", "8": "缺劳力", "11": "自身发展动力不足", "99": "其他"},
    ("hh_baseline", "m_relation"): {"01": "户主", "10": "配偶", "51": "岳父母、公婆"},
    ("hh_baseline", "m_ethnic"): {"01": "汉族", "02": "蒙古族", "03": "回族", "10": "朝鲜族", "11": "满族"},
    ("house_appraisal", "g_found"): {"a": "a级 无危险点", "d": "d级 整体危险", "na": "无此构件"},
    ("water_survey", "supply_type"): {"central_home": "集中供水·入户（含院内）", "dispersed": "分散供水"},
    ("income_check", "risks"): {"07": "因务工就业不稳", "0203": "因自然灾害：旱灾", "12": "饮水安全问题"},
}
REQUIRED = {
    "hh_baseline": (
        "survey_date county township village group_name reg_type gps_house ph_house_front "
        "m_name m_id m_sex m_relation m_ethnic m_health m_labour m_med_ins m_crit_ins "
        "roster_ok food_ok clothing_ok med_access_ok housing_basis main_cause "
        "poverty_attr"
    ),
    "house_appraisal": (
        "hh_ref appraiser_1 appraiser_2 occupant_present gps_house struct_type "
        "roof_system wall_material storeys site_grade g_found g_wall g_timber_member "
        "g_truss g_rc_member g_slab g_arch g_secondary tilt prevention grade_final "
        "override_reason ph_front ph_side ph_team"
    ),
    "water_survey": (
        "hh_ref n_users supply_type source q_method short_days lab_report sens_impurity "
        "sens_colour_odour sens_taste sens_ill_effect known_exceed ph_source ph_sample"
    ),
    "income_check": ("hh_ref ref_period ref_year ref_end_month hh_size_ref self_coping"),
}
CONSTRAINTS = {
    "hh_baseline": {
        "phone": "regex(., '^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$')",
        "other_causes": "count-selected(.) <= 2 and not(selected(.,  /data/household/main_cause ))",
        "m_id": "regex(., '^[0-9]{17}[0-9Xx]([0-9]{2})?$')",
        "m_sex": " ../m_sex_from_id  = '' or . =  ../m_sex_from_id ",
        "m_migrant_months": ". >= 0 and . <= 12",
    },
    "house_appraisal": {
        "storeys": ". >= 1 and . <= 2",
        "bays": ". >= 1 and . <= 20",
        "area_m2": ". > 5 and . < 1000",
        "crack_max_mm": ". >= 0 and . <= 200",
        "g_found": ". != 'na'",
    },
    "water_survey": {
        "n_users": ". >= 1 and . <= 30",
        "meter_days": ". >= 7 and . <= 400",
        "cont_litres": ". > 0 and . <= 500",
        "trips_per_day": ". >= 0 and . <= 20",
        "fetch_minutes": ". >= 0 and . <= 600",
        "short_days": ". >= 0 and . <= 365",
    },
    "income_check": {
        "w_migrant_cost": ". >= 0 and . <=  /data/wage_income/w_migrant_gross ",
        "risks": "count-selected(.) <= 5",
        "hh_size_ref": ". >= 1 and . <= 30",
        "t_dibao": ". >= 0",
        "b_cost": ". >= 0",
    },
}
RELEVANT = {
    "hh_baseline": {
        "id_standard": " /data/household/is_new  = 1",
        "m_disab_grade": " ../m_health  = 'disabled'",
        "cause_other_txt": (
            " /data/household/main_cause  = '99' or selected( /data/household/other_causes , '99')"
        ),
        "ph_kitchen": " /data/assurances/food_ok  = '0'",
        "edu_dropout_any": " /data/n_school_age  > 0",
    },
    "house_appraisal": {
        "site_hazard": " /data/site/site_grade  != 'safe'",
        "g_truss": " /data/house/roof_system  = 'timber_truss'",
        "g_arch": " /data/house/struct_type  = 'cave'",
        "g_wall": " /data/house/struct_type  != 'timber'",
    },
    "water_survey": {
        "well_in_yard": " /data/supply/supply_type  = 'dispersed'",
        "drought_ok": " /data/supply/supply_type  = 'dispersed'",
        "meter_m3": " /data/quantity/q_method  = 'meter'",
        "ph_meter": " /data/quantity/q_method  = 'meter'",
    },
    "income_check": {
        "ref_year": " /data/period/ref_period  = 'calendar_year'",
        "b_self_consumed": " /data/period/count_unsold  = 1",
        "ph_evidence": " /data/risk/rx_total  > 0",
    },
}


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_identity_version_and_languages(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    data = xform.root.find(".//x:model/x:instance/*", NS)
    assert data.get("id") == form_id
    assert re.fullmatch(r"20\d{8}", data.get("version"))
    translations = {
        t.get("lang"): t.get("default") for t in xform.root.iterfind(".//x:itext/x:translation", NS)
    }
    assert translations == {ZH: "true()", EN: None}
    for text_id, languages in xform.texts.items():
        assert languages.get(ZH, "").strip() and languages.get(EN, "").strip(), (
            f"{form_id}: {text_id} untranslated"
        )


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_metadata_and_survey_date(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    preloads = {name: (b.get(f"{JR}preload"), b.get(f"{JR}preloadParams")) for name, b in xform.binds.items()}
    assert preloads["start"] == ("timestamp", "start")
    assert preloads["end"] == ("timestamp", "end")
    assert preloads["today"] == ("date", "today")
    assert preloads["deviceid"] == ("property", "deviceid")
    assert preloads["username"] == ("property", "username")
    assert xform.meta_bind("/meta/instanceID").get(f"{JR}preload") == "uid"
    assert xform.bind("survey_date").get("type") == "date"
    first_load = xform.root.find(".//x:model/x:setvalue[@ref='/data/survey_date']", NS)
    assert first_load.get("event") == "odk-instance-first-load" and first_load.get("value") == "today()"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_image_is_limited_to_1600_pixels(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    uploads = [c.get("ref").rsplit("/", 1)[-1] for c in xform.root.iterfind(".//h:body//x:upload", NS)]
    assert len(uploads) >= 2
    for name in uploads:
        assert xform.control(name).get("mediatype") == "image/*"
        assert xform.bind(name).get(f"{{{NS['orx']}}}max-pixels") == "1600", name


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_geopoints_and_every_constraint_explain_themselves_in_both_languages(
    forms: dict[str, XForm], form_id: str
) -> None:
    xform = forms[form_id]
    geopoints = [name for name, bind in xform.binds.items() if bind.get("type") == "geopoint"]
    assert geopoints == ([] if form_id in ("water_survey", "income_check") else ["gps_house"])
    for name in geopoints:
        assert xform.bind(name).get("constraint") == "selected-at(., 3) <= 50"
    for name, bind in xform.binds.items():
        if bind.get("constraint"):
            message = re.fullmatch(r"jr:itext\('([^']+)'\)", bind.get(f"{JR}constraintMsg") or "")
            assert message, f"{form_id}.{name} has a constraint without a message"
            assert xform.texts[message.group(1)][ZH] and xform.texts[message.group(1)][EN]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_required_fields(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    for name in REQUIRED[form_id].split():
        assert xform.bind(name).get("required") == "true()", f"{form_id}.{name} should be required"


def test_conditionally_required_fields(forms: dict[str, XForm]) -> None:
    """Some answers are required only in a situation: danger points once a component is b or worse, the
    distances when no fetching time was measured."""
    assert (
        forms["house_appraisal"].bind("danger_points").get("required") == " /data/components/any_danger  = 1"
    )
    for name in ("fetch_h_m", "fetch_v_m"):
        assert forms["water_survey"].bind(name).get("required") == " /data/convenience/fetch_minutes  = ''"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_constraints_and_relevance_from_domain(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    for name, expression in CONSTRAINTS[form_id].items():
        assert xform.bind(name).get("constraint") == expression, name
    for name, expression in RELEVANT[form_id].items():
        assert xform.bind(name).get("relevant") == expression, name


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_choice_codes_equal_domain_lists(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    for question, codes in DOMAIN_LISTS[form_id].items():
        assert list(xform.choices(xform.list_of(question))) == codes.split(), question
    for (owner, question), labels in DOMAIN_LABELS.items():
        if owner == form_id:
            choices = xform.choices(xform.list_of(question))
            assert {code: choices[code][ZH] for code in labels} == labels


def test_ethnicity_follows_gb_3304(forms: dict[str, XForm]) -> None:
    xform = forms["hh_baseline"]
    codes = list(xform.choices(xform.list_of("m_ethnic")))
    assert codes == [f"{i:02d}" for i in range(1, 57)] + ["97", "98"]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_field_names_are_unique_within_each_form(forms: dict[str, XForm], form_id: str) -> None:
    """Answers are read by leaf name (group names are not part of it), so no name may repeat."""
    nodesets = [b.get("nodeset") for b in forms[form_id].root.iterfind(".//x:model/x:bind", NS)]
    leaves = [nodeset.rsplit("/", 1)[-1] for nodeset in nodesets if "/meta/" not in nodeset]
    assert len(leaves) > 40
    assert sorted(name for name in set(leaves) if leaves.count(name) > 1) == []


def test_admin_cascade_filters_by_parent(forms: dict[str, XForm]) -> None:
    for xform in forms.values():
        nodesets = {
            name: xform.control(name).find("x:itemset", NS).get("nodeset")
            for name in ("county", "township", "village")
        }
        assert nodesets["county"] == "instance('admin')/root/item[level='county']"
        assert nodesets["township"] == "instance('admin')/root/item[parent= /data/location/county ]"
        assert nodesets["village"] == "instance('admin')/root/item[parent= /data/location/township ]"


def test_admin_codes_are_6_9_and_12_digits_and_form_a_tree() -> None:
    with (MEDIA_DIR / "admin.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_code = {row["name"]: row for row in rows}
    lengths = {"county": 6, "township": 9, "village": 12}
    for row in rows:
        assert re.fullmatch(rf"\d{{{lengths[row['level']]}}}", row["name"]), row
        assert row["label"] and row["label_en"]
        if row["level"] == "county":
            assert row["parent"] in ("15", "21") and row["intensity"] in ("6", "7", "8", "9")
        else:
            parent = by_code[row["parent"]]
            assert row["name"].startswith(parent["name"])
            assert parent["level"] == {"township": "county", "village": "township"}[row["level"]]


def test_hh_baseline_creates_or_updates_the_household_entity(forms: dict[str, XForm]) -> None:
    xform = forms["hh_baseline"]
    assert xform.entity.get("dataset") == "households"
    assert xform.meta_bind("/meta/entity/@create").get("calculate") == " /data/household/is_new  = 1"
    assert xform.meta_bind("/meta/entity/@update").get("calculate") == " /data/household/is_new  = 0"
    assert xform.meta_bind("/meta/entity/@id").get("calculate") == " /data/household/hh_key "
    assert xform.bind("hh_key").get("calculate") == (
        "if( /data/household/is_new  = 1,  /data/household/hh_new_key ,  /data/household/hh_ref )"
    )
    assert xform.bind("hh_new_key").get("calculate") == "once(uuid())"
    assert "head_name" in xform.meta_bind("/meta/entity/label").get("calculate")
    assert xform.saveto() == {
        "county": "county",
        "township": "township",
        "village": "village",
        "group_name": "group_name",
        "geometry": "gps_house",
        "hh_size": "hh_size",
        "head_name": "head_name",
    }
    root = xform.root.find(".//x:model", NS)
    assert root.get(f"{{{NS['entities']}}}entities-version") == "2024.1.0"


@pytest.mark.parametrize(
    ("form_id", "properties"),
    [
        ("house_appraisal", {"house_grade": "grade_final"}),
        ("water_survey", {"water_verdict": "w_verdict"}),
        ("income_check", {"income_pc": "income_pc", "net_total": "net_total", "income_year": "param_year"}),
    ],
)
def test_follow_up_forms_update_the_chosen_household(
    forms: dict[str, XForm], form_id: str, properties: dict[str, str]
) -> None:
    xform = forms[form_id]
    assert xform.entity.get("dataset") == "households"
    assert xform.entity.get("update") == "1" and xform.entity.get("create") is None
    assert xform.meta_bind("/meta/entity/@id").get("calculate") == " /data/household/hh_ref "
    assert xform.saveto() == properties
    hh_ref = xform.control("hh_ref")
    assert hh_ref.tag == f"{{{NS['x']}}}select1" and hh_ref.get("appearance") == "autocomplete"
    assert hh_ref.find("x:itemset", NS).get("nodeset") == (
        "instance('households')/root/item[village= /data/location/village ]"
    )
    assert xform.bind("hh_ref").get("required") == "true()"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_device_verdicts_exist_and_are_documented(forms: dict[str, XForm], form_id: str) -> None:
    xform = forms[form_id]
    docs = DOCS.read_text(encoding="utf-8")
    for verdict in DEVICE_VERDICTS[form_id]:
        assert xform.bind(verdict.field).get("calculate"), f"{form_id}.{verdict.field} is not calculated"
        nodeset = xform.bind(verdict.field).get("nodeset")
        assert (f"/{verdict.in_repeat}/" in nodeset) == (verdict.in_repeat is not None)
        assert f"`{verdict.field}`" in docs, f"docs/forms.md does not list {verdict.field}"


def test_house_grade_formula_covers_site_tilt_and_every_component(forms: dict[str, XForm]) -> None:
    formula = forms["house_appraisal"].bind("grade_calc").get("calculate")
    for name in (
        "site_grade",
        "g_found",
        "g_wall",
        "g_timber_member",
        "g_truss",
        "g_rc_member",
        "g_slab",
        "g_arch",
        "g_secondary",
        "tilt",
    ):
        assert f"/{name} " in formula, name
    assert formula.index("'D'") < formula.index("'C'") < formula.index("'B'") < formula.index("'A'")


def test_id_check_weights_are_gb_11643(forms: dict[str, XForm]) -> None:
    formula = forms["hh_baseline"].bind("m_id_r").get("calculate")
    weights = [int(w) for w in re.findall(r"(\d+)\*number\(substr\(", formula)]
    assert weights == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    assert "mod 11" in formula
    assert "'10X98765432'" in forms["hh_baseline"].bind("m_id_ok").get("calculate")


def test_device_parameter_files_match_the_rule_parameter_table() -> None:
    """water_limits.csv and income_lines.csv are the phone's copy of forms/rules/parameters: they must agree,
    or the device hints and the server verdicts drift apart."""
    table = read_table()
    with (MEDIA_DIR / "water_limits.csv").open(encoding="utf-8") as handle:
        water = {row["name"]: row for row in csv.DictReader(handle)}
    with (MEDIA_DIR / "income_lines.csv").open(encoding="utf-8") as handle:
        lines = {row["name"]: row for row in csv.DictReader(handle)}
    with (MEDIA_DIR / "admin.csv").open(encoding="utf-8") as handle:
        counties = [row["name"] for row in csv.DictReader(handle) if row["level"] == "county"]
    assert sorted(water) == sorted(counties)

    def same(text: str, value: Decimal | None) -> bool:
        return (text == "" and value is None) or (value is not None and text != "" and Decimal(text) == value)

    for county in counties:
        params = table.resolve(county[:2], county, 2021, "TCHES2018")
        row = water[county]
        wet = params.water_region_class == "wet"
        assert row["region_class"] == params.water_region_class
        assert same(row["q_full"], params.water_quantity_full_wet if wet else params.water_quantity_full_dry)
        assert same(
            row["q_basic"], params.water_quantity_basic_wet if wet else params.water_quantity_basic_dry
        )
        assert same(row["fetch_full_min"], params.water_fetch_full_minutes)
        assert same(row["fetch_basic_min"], params.water_fetch_basic_minutes)
        assert same(row["fetch_h_m"], params.water_fetch_basic_horizontal_m)
        assert same(row["fetch_v_m"], params.water_fetch_basic_vertical_m)
        assert same(row["rel_full"], params.water_reliability_full)
        assert same(row["rel_basic"], params.water_reliability_basic)
        assert int(row["lab_max_months"]) == params.water_lab_max_age_months
        for year in range(2014, 2036):  # every year income_check accepts as ref_year
            params = table.resolve(county[:2], county, year, "TCHES2018")
            row = lines[f"{county}-{year}"]
            assert same(row["exit_line"], params.exit_line), (county, year)
            assert same(row["monitor_line"], params.monitoring_line), (county, year)
            assert same(row["dibao_line"], params.dibao_line), (county, year)
            assert same(row["drop_ratio"], params.drop_ratio)
            assert row["count_unsold"] == ("1" if params.count_unsold_produce else "0")
