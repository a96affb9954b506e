"""ID numbers (GB 11643-1999): docs/domain.md §7.4 R1-R8 and the member checks of §6.1."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.rules.idnumber import (
    PROVINCE_CODES,
    check_character,
    check_id_number,
    check_member_ids,
    upgrade_legacy_id,
)


@pytest.mark.parametrize(
    ("case", "text", "valid", "birth", "sex", "codes"),
    [
        ("R1", "11010519491231002X", True, date(1949, 12, 31), "2", []),
        ("R2", "440524188001010014", True, date(1880, 1, 1), "1", []),
        ("R3", "110105194912310021", False, date(1949, 12, 31), "2", ["bad_check_character"]),
        ("R4", "11010519491231002x", True, date(1949, 12, 31), "2", []),
        ("R5", "110105194902310026", False, None, "2", ["bad_birth_date"]),
        ("R6", "150102198003150010", True, date(1980, 3, 15), "1", []),
        ("R7", "210102199001010023", True, date(1990, 1, 1), "2", []),
    ],
)
def test_section_7_4(
    case: str, text: str, valid: bool, birth: date | None, sex: str, codes: list[str]
) -> None:
    result = check_id_number(text)
    assert result.valid is valid, case
    assert result.birth_date == birth
    assert result.sex == sex
    assert [issue.code for issue in result.issues] == codes
    assert all(issue.severity == "error" for issue in result.issues)


def test_r3_names_the_expected_check_character() -> None:
    (issue,) = check_id_number("110105194912310021").issues
    assert "'X'" in issue.message


def test_r4_lower_case_x_is_normalised() -> None:
    assert check_id_number("11010519491231002x").normalised == "11010519491231002X"
    assert check_id_number(" 1101051949 1231002x ").normalised == "11010519491231002X"


def test_r8_sex_must_match_the_id() -> None:
    report = check_member_ids([{"m_name": "张三", "m_id": "150102198003150010", "m_sex": "2"}])
    assert not report.ok
    assert [issue.code for issue in report.issues] == ["sex_mismatch"]
    assert report.issues[0].severity == "error"
    assert check_member_ids([{"m_id": "150102198003150010", "m_sex": "1"}]).ok


def test_disability_certificate_number_checks_the_id_part() -> None:
    result = check_id_number("1501021980031500101" + "3")
    assert (result.valid, result.kind, result.disability_suffix) == (True, "disability_certificate", "13")
    assert result.normalised == "150102198003150010"
    assert not check_id_number("15010219800315001113").valid  # ID part has a wrong check digit


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ("150102800315001", "legacy_15_digit"),
        ("15010219800315001", "bad_format"),
        ("1501021980031500101", "bad_format"),
        ("15010219800315001Y", "bad_format"),
        ("１５０１０２１９８００３１５００１０", "bad_format"),  # full-width digits are not ASCII
        ("990102198003150018", "unknown_province"),
    ],
)
def test_malformed_numbers_are_rejected_with_a_reason(text: str, code: str) -> None:
    result = check_id_number(text)
    assert not result.valid
    assert code in [issue.code for issue in result.issues]


def test_legacy_number_is_upgraded_on_import() -> None:
    assert upgrade_legacy_id("150102800315001") == "150102198003150010"
    assert upgrade_legacy_id("15010280031500") is None


def test_registry_plausibility_limits_for_members() -> None:
    report = check_member_ids(
        [{"m_id": "440524188001010014", "m_sex": "1"}, {"m_id": "210102199001010023"}],
        survey_date=date(1989, 12, 31),
    )
    codes = [issue.code for issue in report.issues]
    assert codes == ["birth_too_early", "birth_after_survey"]


def test_duplicate_ids_among_active_members_are_an_error() -> None:
    member = {"m_id": "150102198003150010", "m_sex": "1"}
    report = check_member_ids([member, dict(member)])
    assert [issue.code for issue in report.issues] == ["duplicate_id"]
    moved = check_member_ids([member, {**member, "m_status": "moved_out", "m_status_date": "2020-01-01"}])
    assert moved.ok
    assert moved.active_ids == ("150102198003150010",)


def test_birth_date_answer_must_equal_the_id() -> None:
    report = check_member_ids([{"m_id": "150102198003150010", "m_birth": "1980-03-16"}])
    assert [issue.code for issue in report.issues] == ["birth_mismatch"]


def test_county_mismatch_is_only_reported_for_data_quality() -> None:
    report = check_member_ids([{"m_id": "150102198003150010"}], household_county="150121")
    assert report.ok
    assert [(issue.code, issue.severity) for issue in report.issues] == [("address_county_mismatch", "info")]


# Valid IDs: a province code, a real birth date, a sequence, and the computed check character.
valid_ids = st.builds(
    lambda province, rest, birth, seq: (
        (first17 := f"{province}{rest:04d}{birth:%Y%m%d}{seq:03d}") + check_character(first17)
    ),
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.integers(0, 9999),
    st.dates(date(1900, 1, 1), date(2024, 12, 31)),
    st.integers(0, 999),
)


@given(valid_ids)
def test_generated_ids_are_valid(number: str) -> None:
    assert check_id_number(number).valid


@given(valid_ids, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_changing_any_single_character_makes_a_valid_id_invalid(number: str, position: int, new: str) -> None:
    if new == number[position]:
        return
    changed = number[:position] + new + number[position + 1 :]
    assert not check_id_number(changed).valid


@given(valid_ids)
def test_sex_follows_the_parity_of_the_17th_digit(number: str) -> None:
    assert check_id_number(number).sex == ("1" if int(number[16]) % 2 else "2")


@given(st.text(max_size=30))
def test_any_text_gives_a_result_not_an_exception(text: str) -> None:
    result = check_id_number(text)
    assert result.valid is (not result.issues)


members = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["m_id", "m_sex", "m_name", "m_status", "m_birth", "m_status_date"]),
            st.one_of(
                st.text(max_size=22), st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2)
            ),
        ),
        st.text(max_size=5),
        st.none(),
    ),
    max_size=4,
)


@given(st.one_of(members, st.text(max_size=5), st.none()))
def test_member_checks_never_raise(rows: object) -> None:
    report = check_member_ids(rows, survey_date=date(2020, 1, 1), household_county="150121")  # type: ignore[arg-type]
    assert isinstance(report.ok, bool)
