"""Normalize one submission into the registry: history rows, household state, flags.

Runs as the ``normalize`` job (sync/jobs.py), in its own transaction after the submission committed:
the raw submission is the evidence, so a bug in a rule can never make Collect's upload fail, and the
job is retried and visible when it fails. ``normalize_submission`` is idempotent: it first removes the
submission's previous contribution (an edit replaces its predecessor's, a rejection removes it), then
adds the current version's, and refreshes every household it touched. A rejected submission keeps its
history row (marked rejected, for the record) but no longer counts for its household. ``registry rebuild`` calls the
same function for every submission in order of receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import CompoundSelect, Select, bindparam, delete, literal_column, select, union_all
from sqlalchemy.orm import Session, joinedload

from forms.rules.issues import Issue
from sync.flags import FlagDraft, replace_flags
from sync.instance_xml import EntityAction, answers_from_xml, parse_instance, read_entity, repeat_names
from sync.jobs import WorkContext, handler
from sync.models import (
    BaselineRecord,
    Form,
    FormVersion,
    Household,
    HousingAppraisal,
    IncomeCheck,
    Job,
    Person,
    Submission,
    SubmissionVersion,
    WaterSurvey,
)
from sync.registry import verdicts
from sync.registry.households import (
    HISTORY,
    as_decimal,
    find_household,
    house_context,
    household_context,
    next_code,
    refresh_household,
    water_context,
)

SOURCE = "normalize"
FORMS = ("hh_baseline", "house_appraisal", "water_survey", "income_check")
# The entity property each follow-up form updates (docs/forms.md 3): two updates of it from the same
# base version are a conflict.
UPDATED_PROPERTY = {
    HousingAppraisal: "house_grade",
    WaterSurvey: "water_verdict",
    IncomeCheck: "income_pc",
}


@handler("normalize")
def run_normalize_job(session: Session, _context: WorkContext, job: Job) -> None:
    # With its submission and that submission's versions, its form version and form: two queries, not five.
    version = session.get(
        SubmissionVersion,
        job.submission_version_id,
        options=[
            joinedload(SubmissionVersion.submission).selectinload(Submission.versions),
            joinedload(SubmissionVersion.form_version).joinedload(FormVersion.form),
        ],
    )
    if version is None:
        return
    touched = normalize_submission(session, version.submission)
    if touched.replaced:
        renormalize_later(session, version.submission, touched.households)


@dataclass
class Touched:
    households: set[int]
    replaced: bool  # the submission had counted before (an edit or a review decision)


def renormalize_later(session: Session, submission: Submission, household_ids: set[int]) -> None:
    """Normalize again what the same households received after ``submission``.

    Later verdicts read the household's state (an income check its assurances, an appraisal its status),
    so when an edit or a review decision changes an earlier contribution they are judged again, in order
    of receipt: the registry then equals what ``registry rebuild`` computes from scratch.
    """
    current = _current_version(submission)
    if current is None or not household_ids:
        return
    later: dict[int, int] = {}
    for model in HISTORY:
        rows = session.execute(
            select(model.submission_id, model.submission_version_id).where(
                model.household_id.in_(household_ids),
                model.submission_id != submission.id,
                model.submission_version_id > current.id,
            )
        )
        later.update({submission_id: version_id for submission_id, version_id in rows})
    for submission_id, _version_id in sorted(later.items(), key=lambda item: item[1]):
        normalize_submission(session, session.get(Submission, submission_id))


def normalize_submission(session: Session, submission: Submission, repeats_cache: dict | None = None) -> Touched:
    """Replace ``submission``'s contribution to the registry with that of its current version."""
    touched = remove_contribution(session, submission)
    replaced = bool(touched)
    version = _current_version(submission)
    form = session.get(Form, submission.form_id)
    if version is None or form is None or form.xml_form_id not in FORMS:
        _refresh(session, touched)
        return Touched(touched, replaced)
    repeats = repeats_cache if repeats_cache is not None else {}
    if version.form_version_id not in repeats:
        repeats[version.form_version_id] = _repeat_names(version.form_version.xml)
    root = parse_instance(version.xml)
    answers = answers_from_xml(root, repeats[version.form_version_id])
    entity = read_entity(root)
    step = _Step(session, form.project_id, submission, version, answers, entity)
    if form.xml_form_id == "hh_baseline":
        household = step.baseline()
    else:
        household = step.follow_up(form.xml_form_id)
    replace_flags(session, version, SOURCE, step.flags)
    if household is not None:
        touched.add(household.id)
    _refresh(session, touched)
    return Touched(touched, replaced)


_REPEATS: dict[bytes, frozenset[str]] = {}


def _repeat_names(xform: bytes) -> frozenset[str]:
    """``repeat_names`` of a published XForm, parsed once per process: a form version is never changed, and
    parsing the whole form took longer than the rest of a live normalize job. Keyed by the XML itself."""
    names = _REPEATS.get(xform)
    if names is None:
        if len(_REPEATS) >= 64:
            _REPEATS.clear()
        names = _REPEATS[xform] = repeat_names(xform)
    return names


def remove_contribution(session: Session, submission: Submission) -> set[int]:
    """Delete the history rows of ``submission``; returns the households they belonged to."""
    touched: set[int] = set()
    holding = set(session.scalars(_tables_holding(), {"submission_id": submission.id}))
    for index, model in enumerate(HISTORY):
        if index not in holding:
            continue
        rows = session.scalars(select(model).where(model.submission_id == submission.id)).all()
        for row in rows:
            if row.household_id is not None:
                touched.add(row.household_id)
            session.delete(row)
    session.flush()
    return touched


@cache
def _tables_holding() -> CompoundSelect:
    """Which history tables (their index in HISTORY) hold rows of a submission, in one query built once: usually
    none (a new submission, or any during a rebuild), and then nothing is read or deleted table by table."""
    return union_all(
        *(
            select(literal_column(str(index))).where(model.submission_id == bindparam("submission_id"))
            for index, model in enumerate(HISTORY)
        )
    )


def _refresh(session: Session, household_ids: set[int]) -> None:
    for household_id in sorted(household_ids):
        household = session.get(Household, household_id)
        if household is not None:
            refresh_household(session, household)


def _current_version(submission: Submission) -> SubmissionVersion | None:
    current = [version for version in submission.versions if version.current]
    return current[-1] if current else None


class _Step:
    """The work of normalizing one submission version, collecting its flags as it goes."""

    def __init__(
        self,
        session: Session,
        project_id: int,
        submission: Submission,
        version: SubmissionVersion,
        answers: dict,
        entity: EntityAction | None,
    ) -> None:
        self.session, self.project_id = session, project_id
        self.submission, self.version = submission, version
        self.answers, self.entity = answers, entity
        self.flags: list[FlagDraft] = []

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
        if not (village.isdigit() and len(village) == 12) or not entity_id:
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
            if other.review_state == "rejected":
                continue
            prop = UPDATED_PROPERTY[model]
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
            "review_state": self.submission.review_state,
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


def _income_columns(verdict) -> dict:  # noqa: ANN001 - IncomeVerdict or None
    if verdict is None:
        return {}
    computed = verdict.status == "computed"
    pc = verdict.income_pc

    def below(line) -> bool | None:  # noqa: ANN001
        return None if pc is None or line is None or not computed else pc < line

    return {
        "income_year": verdict.year,
        "income_pc": as_decimal(verdict.income_pc_rounded) if computed else None,
        "net_total": as_decimal(verdict.net_total),
        "below_exit_line": None if pc is None or verdict.exit_line is None or not computed else pc <= verdict.exit_line,
        "below_monitor_line": below(verdict.monitoring_line),
        "below_dibao_line": below(verdict.dibao_line),
        "monitor_category": verdict.monitor_category,
    }


def _received(version: SubmissionVersion) -> datetime:
    return version.created_at


def delete_registry(session: Session, project_id: int | None = None) -> None:
    """Remove every member and history row for a rebuild (flags are replaced per submission).

    Household rows stay: a household's code is given once at registration and never changes (domain.md
    1.3), so a rebuild must not hand out codes again in its own order. Their current columns are
    recomputed from the rebuilt history (``rebuild_registry`` refreshes each at the end).
    """
    for model in (*HISTORY, Person):
        query = delete(model)
        if project_id is not None:
            query = query.where(model.project_id == project_id)
        session.execute(query)
