"""Placing one submission version in the registry: the household it registers or concerns, its history row
with the server's verdicts, and the flags raised on the way (rule issues, verdict mismatches, unknown or
unregistrable households, identity problems, offline conflicts).

``sync/registry/normalize.py`` decides *when* a version is placed (and removes what it placed before);
this module decides *what* it adds.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from forms.rules.issues import Issue
from sync.db.models import (
    BaselineRecord,
    Household,
    HousingAppraisal,
    IncomeCheck,
    Person,
    Submission,
    SubmissionVersion,
    WaterSurvey,
)
from sync.intake.instance_xml import EntityAction
from sync.numbers import ascii_digits
from sync.oversight.flags import FlagDraft
from sync.registry import verdicts
from sync.registry.households import (
    NOT_COUNTED,
    PENDING,
    UPDATES,
    as_decimal,
    find_household,
    house_context,
    household_context,
    next_code,
    water_context,
)


class Placement:
    """The work of placing one submission version in the registry, collecting its flags as it goes."""

    def __init__(
        self,
        session: Session,
        project_id: int,
        submission: Submission,
        version: SubmissionVersion,
        answers: dict,
        entity: EntityAction | None,
        approval_required: bool = False,
    ) -> None:
        self.session, self.project_id = session, project_id
        self.submission, self.version = submission, version
        self.answers, self.entity = answers, entity
        self.approval_required = approval_required
        self.flags: list[FlagDraft] = []
        self.row: object | None = None  # the history row this submission adds

    # -- hh_baseline -----------------------------------------------------------------------------

    def baseline(self) -> Household | None:
        county = self.answers.get("county") or None
        judgement = verdicts.judge_baseline(self.answers, county)
        household = self._registered_household()
        code = household.code if household else None
        verdict = judgement.verdict
        member_issues = (
            {issue for member in verdict.member_ids.members for issue in member.issues} if verdict else set()
        )
        self._judgement_flags(judgement, code, skip=member_issues)
        record = verdicts.verdict_record(verdict)
        if verdict is not None:
            record["member_checks"] = [
                {
                    "index": member.index,
                    "valid": member.id_check.valid,
                    "normalised": member.id_check.normalised,
                    "birth_date": member.id_check.birth_date.isoformat() if member.id_check.birth_date else None,
                }
                for member in verdict.member_ids.members
            ]
        row = BaselineRecord(**self._common(household, judgement, record), hh_size=record.get("hh_size"))
        self.session.add(row)
        self.row = row
        if household is not None and verdict is not None:
            self._id_flags(verdict, household)
        return household

    def _registered_household(self) -> Household | None:
        """The household this baseline registers (created now) or re-checks (must exist)."""
        entity_id = self.entity.entity_id if self.entity else ""
        ref = self.answers.get("hh_ref") or ""
        household = find_household(self.session, self.project_id, entity_id) or find_household(
            self.session, self.project_id, ref
        )
        if household is not None:
            return household
        creating = self.entity is not None and self.entity.create and not ref
        village = (self.answers.get("village") or "").strip()
        if not creating:
            self._unknown_household(ref or entity_id)
            return None
        if not (ascii_digits(village) and len(village) == 12) or not entity_id:
            self.flags.append(
                FlagDraft(
                    "household_unregistrable",
                    "error",
                    "A new household needs a 12-digit village code and an entity id; it was not registered.",
                    details={"village": village, "entity_id": entity_id},
                )
            )
            return None
        household = Household(
            project_id=self.project_id, code=next_code(self.session, self.project_id, village), entity_id=entity_id
        )
        self.session.add(household)
        self.session.flush()
        return household

    def _id_flags(self, verdict, household: Household) -> None:  # noqa: ANN001 - BaselineVerdict
        """GB 11643 failures (accepted, flagged) and the same person active in another household."""
        for member in verdict.member_ids.members:
            if not member.id_check.valid:
                self.flags.append(
                    FlagDraft(
                        "id_number_invalid",
                        "error",
                        f"The ID number of {member.name or 'a member'} fails the GB 11643 check: "
                        + "; ".join(issue.message for issue in member.issues or member.id_check.issues),
                        household_code=household.code,
                        details={"field": f"members[{member.index}].m_id", "member": member.name,
                                 "id_number": member.id_check.normalised or ""},
                    )
                )
        for id_no in verdict.member_ids.active_ids:
            other = self.session.execute(
                select(Person, Household)
                .join(Household, Household.id == Person.household_id)
                .where(
                    # The project is the household's (a person's project is always its household's): with
                    # Person.project_id here SQLite chose that index and read every person of the project,
                    # for each ID number of each baseline; on the ID number's index it reads a row or two.
                    Household.project_id == self.project_id,
                    Person.id_no == id_no,
                    Person.member_status == "active",
                    Person.household_id != household.id,
                )
                .order_by(Household.code)
            ).first()
            if other is not None:
                person, other_household = other
                self.flags.append(
                    FlagDraft(
                        "person_in_two_households",
                        "error",
                        f"{person.name} ({id_no}) is an active member of households {household.code} "
                        f"and {other_household.code}.",
                        household_code=household.code,
                        other_household_code=other_household.code,
                        other_submission_id=person.source_submission_id,
                        details={"field": id_no, "id_number": id_no, "name": person.name},
                    )
                )

    # -- follow-up forms -------------------------------------------------------------------------

    def follow_up(self, form_id: str) -> Household | None:
        ref = self.answers.get("hh_ref") or (self.entity.entity_id if self.entity else "")
        household = find_household(self.session, self.project_id, ref) or find_household(
            self.session, self.project_id, self.answers.get("hh_code")
        )
        if household is None:
            self._unknown_household(ref or self.answers.get("hh_code") or "")
        county = household.county if household and household.county else (self.answers.get("county") or None)
        code = household.code if household else None
        if form_id == "house_appraisal":
            judgement = verdicts.judge_housing(self.answers, county, house_context(household))
            verdict = judgement.verdict
            row = HousingAppraisal(
                **self._common(household, judgement),
                grade=getattr(verdict, "grade", None),
                device_grade=(self.answers.get("grade_calc") or None),
                housing_ok=getattr(verdict, "housing_ok", None),
            )
        elif form_id == "water_survey":
            judgement = verdicts.judge_water(self.answers, county, water_context(household))
            verdict = judgement.verdict
            row = WaterSurvey(
                **self._common(household, judgement),
                verdict=getattr(verdict, "verdict", None),
                device_verdict_code=self.answers.get("w_verdict") or None,
                water_ok=getattr(verdict, "water_ok", None),
            )
        else:
            judgement = verdicts.judge_income(self.answers, county, household_context(self.session, household))
            verdict = judgement.verdict
            row = IncomeCheck(**self._common(household, judgement), **_income_columns(verdict))
        self._judgement_flags(judgement, code)
        if household is not None:
            self._conflicts(row, household)
        self.session.add(row)
        self.row = row
        return household

    def _conflicts(self, row, household: Household) -> None:  # noqa: ANN001 - a history row
        """Two offline updates of the same property from the same base version: record, don't hide."""
        if row.base_version is None:
            return
        model = type(row)
        earlier = self.session.scalars(
            _same_base_version(model),
            {"household_id": household.id, "base_version": row.base_version, "submission_id": self.submission.id},
        ).all()
        for other in earlier:
            if other.review_state in NOT_COUNTED:
                continue
            prop = UPDATES[model][0]
            self.flags.append(
                FlagDraft(
                    "entity_conflict",
                    "warning",
                    f"Two updates of {prop} for household {household.code} were made from the same version "
                    f"({row.base_version}) on different phones; the later one is applied.",
                    household_code=household.code,
                    other_submission_id=other.submission_id,
                    details={"field": prop, "base_version": row.base_version, "other_instance": other.instance_id},
                )
            )

    # -- shared ----------------------------------------------------------------------------------

    def _common(self, household: Household | None, judgement: verdicts.Judgement, record: dict | None = None) -> dict:
        verdict = judgement.verdict
        return {
            "project_id": self.project_id,
            "household_id": household.id if household else None,
            "household_ref": (self.answers.get("hh_ref") or (self.entity.entity_id if self.entity else ""))[:64],
            "submission_id": self.submission.id,
            "submission_version_id": self.version.id,
            "instance_id": self.version.instance_id,
            "form_version": self.version.form_version.version,
            "survey_date": verdicts.survey_day(self.answers),
            "received_at": _received(self.version),
            "base_version": self.entity.base_version if self.entity else None,
            "answers": self.answers,
            "server_verdict": record if record is not None else verdicts.verdict_record(verdict),
            "device_verdict": {m.field: m.device for m in judgement.mismatches},
            "status": judgement.status,
            "profile": getattr(verdict, "profile", None),
            "parameter_version": getattr(verdict, "parameter_version", None),
            "review_state": counted_state(self.submission.review_state, self.approval_required),
        }

    def _judgement_flags(
        self, judgement: verdicts.Judgement, household_code: str | None, skip: set[Issue] | frozenset = frozenset()
    ) -> None:
        for mismatch in judgement.mismatches:
            self.flags.append(
                FlagDraft(
                    "verdict_mismatch",
                    "warning",
                    f"The phone computed {mismatch.field} = {mismatch.device}, the server {mismatch.server}; "
                    "the registry uses the server's value.",
                    household_code=household_code,
                    details={"field": mismatch.field, "device": mismatch.device, "server": mismatch.server},
                )
            )
        if judgement.parameter_problem:
            self.flags.append(
                FlagDraft(
                    "no_rule_parameters",
                    "error",
                    f"No verdict: {judgement.parameter_problem}.",
                    household_code=household_code,
                )
            )
        for issue in judgement.issues:
            if issue.severity == "info" or issue in skip:
                continue
            self.flags.append(_issue_flag(issue, household_code))

    def _unknown_household(self, ref: str) -> None:
        self.flags.append(
            FlagDraft(
                "unknown_household",
                "error",
                f"The household {ref or '(none given)'} is not in the registry; the record is kept but "
                "counts for no household.",
                details={"field": "hh_ref", "reference": ref},
            )
        )


@cache
def _same_base_version(model: type) -> Select:
    """Other submissions' rows of ``model`` for a household made from the same base version (built once)."""
    return select(model).where(
        model.household_id == bindparam("household_id"),
        model.base_version == bindparam("base_version"),
        model.submission_id != bindparam("submission_id"),
    )


def _issue_flag(issue: Issue, household_code: str | None) -> FlagDraft:
    return FlagDraft(
        f"rule_{issue.severity}",
        "error" if issue.severity == "error" else "warning",
        issue.message,
        household_code=household_code,
        details={"field": f"{issue.code}:{issue.field or ''}", "code": issue.code, "answer": issue.field},
    )


def under_line(line_kind: str, pc: Decimal | None, line: Decimal | None) -> bool | None:
    """Whether an income per person counts as under a line: exit needs income strictly above the line, so at
    the exit line is under it (docs/rules.md 5, D2); under the monitoring and dibao lines is a strict ``<``."""
    if pc is None or line is None:
        return None
    return pc <= line if line_kind == "exit" else pc < line


def _income_columns(verdict) -> dict:  # noqa: ANN001 - IncomeVerdict or None
    if verdict is None:
        return {}
    computed = verdict.status == "computed"
    pc = verdict.income_pc

    def below(line) -> bool | None:  # noqa: ANN001
        return None if not computed else under_line("monitor", pc, line)

    return {
        "income_year": verdict.year,
        "income_pc": as_decimal(verdict.income_pc_rounded) if computed else None,
        "net_total": as_decimal(verdict.net_total),
        "below_exit_line": None if not computed else under_line("exit", pc, verdict.exit_line),
        "below_monitor_line": below(verdict.monitoring_line),
        "below_dibao_line": below(verdict.dibao_line),
        "monitor_category": verdict.monitor_category,
    }


def _received(version: SubmissionVersion) -> datetime:
    return version.created_at


def counted_state(review_state: str | None, approval_required: bool) -> str | None:
    """The review state a history row keeps: under a form's approval gate, anything not yet decided is
    ``pending`` and does not count for the household until it is approved (docs/review.md, Approval gate)."""
    if approval_required and review_state not in ("approved", "rejected"):
        return PENDING
    return review_state
