"""Normalize one submission into the registry: history rows, household state, flags.

Runs as the ``normalize`` job (sync/jobs/queue.py), in its own transaction after the submission committed:
the raw submission is the evidence, so a bug in a rule can never make Collect's upload fail, and the
job is retried and visible when it fails. ``normalize_submission`` is idempotent: it first removes the
submission's previous contribution (an edit replaces its predecessor's, a rejection removes it), then
adds the current version's, and refreshes every household it touched. A rejected submission keeps its
history row (marked rejected, for the record) but no longer counts for its household. ``registry rebuild`` calls the
same function for every submission in order of receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from sqlalchemy import CompoundSelect, bindparam, delete, literal_column, select, union_all
from sqlalchemy.orm import Session, joinedload

from sync.db.models import (
    Form,
    FormVersion,
    Household,
    Job,
    Person,
    Submission,
    SubmissionVersion,
)
from sync.intake.instance_xml import answers_from_xml, parse_instance, read_entity, repeat_names
from sync.oversight.flags import replace_flags
from sync.registry.areas import outside_area_flag
from sync.registry.households import (
    HISTORY,
    refresh_household,
)
from sync.registry.overlay import follow_applied_table
from sync.registry.placement import Placement
from sync.registry.verdicts import parameter_overlay
from sync.review.summary import summarize

SOURCE = "normalize"
FORMS = ("hh_baseline", "house_appraisal", "water_survey", "income_check")


def run_normalize_job(session: Session, job: Job) -> set[int]:
    """Normalize the job's submission; returns the households whose registry state it touched (the ledger
    derives their items next, in the same transaction: sync/job_kinds.py)."""
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
        return set()
    follow_applied_table(session, parameter_overlay())
    touched = normalize_submission(session, version.submission)
    households = set(touched.households)
    if touched.replaced:
        households |= renormalize_later(session, version.submission, touched.households)
    return households


@dataclass
class Touched:
    households: set[int]
    replaced: bool  # the submission had counted before (an edit or a review decision)


def renormalize_later(session: Session, submission: Submission, household_ids: set[int]) -> set[int]:
    """Normalize again what the same households received after ``submission``.

    Later verdicts read the household's state (an income check its assurances, an appraisal its status),
    so when an edit or a review decision changes an earlier contribution they are judged again, in order
    of receipt: the registry then equals what ``registry rebuild`` computes from scratch.
    """
    current = _current_version(submission)
    if current is None or not household_ids:
        return set()
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
    touched: set[int] = set()
    for submission_id, _version_id in sorted(later.items(), key=lambda item: item[1]):
        touched |= normalize_submission(session, session.get(Submission, submission_id)).households
    return touched


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
    step = Placement(session, form.project_id, submission, version, answers, entity, form.approval_required)
    if form.xml_form_id == "hh_baseline":
        household = step.baseline()
    else:
        household = step.follow_up(form.xml_form_id)
    elsewhere = outside_area_flag(session, version, household)
    replace_flags(session, version, SOURCE, [*step.flags, elsewhere] if elsewhere else step.flags)
    if household is not None:
        touched.add(household.id)
    _refresh(session, touched)
    summarize(submission, household, answers, step.row)
    return Touched(touched, replaced)


@lru_cache(maxsize=64)
def _repeat_names(xform: bytes) -> frozenset[str]:
    """``repeat_names`` of a published XForm, parsed once per process: a form version is never changed, and
    parsing the whole form took longer than the rest of a live normalize job. Keyed by the XML itself."""
    return repeat_names(xform)


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


def delete_registry(session: Session, project_id: int | None = None) -> None:
    """Remove every member and history row for a rebuild (flags are replaced per submission).

    Household rows stay: a household's code is given once at registration and never changes (docs/domain.md
    §1.3), so a rebuild must not hand out codes again in its own order. Their current columns are
    recomputed from the rebuilt history (``rebuild_registry`` refreshes each at the end).
    """
    for model in (*HISTORY, Person):
        query = delete(model)
        if project_id is not None:
            query = query.where(model.project_id == project_id)
        session.execute(query)
