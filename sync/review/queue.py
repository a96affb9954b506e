"""The review queue: every submission of a project's forms within the reader's area, filtered and paged.

Filters combine (AND) and are all conditions on ``submissions`` itself or an indexed lookup beside it,
because normalization copies the area, household and verdicts onto the submission row
(sync/review/placement.py). Paging is keyset on (received, id), never OFFSET, so the thousandth page
costs what the first does; the cursor is a submission id, whose position the query looks up itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy import ColumnElement, exists, func, literal, select, tuple_
from sqlalchemy.orm import Session

from sync.access.places import LEVELS, check_area
from sync.access.scope import Scope
from sync.db.models import (
    AppUser,
    Flag,
    Form,
    FormVersion,
    PhotoCheck,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from sync.errors import BadRequest
from sync.review.reviews import REVIEW_STATES

PAGE_SIZE = 50
# A count past this shows as "1000+": an exact count reads every matching row (100,000 in a county, 300 ms
# and more), a capped one at most this many per review state, each an index range (docs/performance.md).
COUNT_CAP = 1000
SORTS = ("newest", "oldest")
UNDECIDED = "none"  # the filter value for "no decision yet"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic")


@dataclass(frozen=True)
class QueueFilter:
    """What the reader asked for; ``parse`` checks every value and names the bad one."""

    form: str = ""
    area: str = ""
    start: date | None = None
    end: date | None = None
    state: str = ""
    flag: str = ""  # a flag kind, or "any": submissions with an open flag
    enumerator: int | None = None
    verdicts: tuple[str, ...] = ()
    sort: str = "newest"
    utc_offset_hours: float = 8.0  # dates are the reader's calendar days (China: UTC+8)

    @classmethod
    def parse(cls, args: Mapping[str, Sequence[str]], *, utc_offset_hours: float = 8.0) -> QueueFilter:
        def one(name: str) -> str:
            values = args.get(name) or []
            return (values[-1] if values else "").strip()

        area = ""
        for level in ("village", "township", "county", "area"):
            if one(level):
                area = check_area(one(level))
                break
        state = one("state")
        if state and state not in (*REVIEW_STATES, UNDECIDED):
            raise BadRequest(f"Unknown review state {state!r}.")
        sort = one("sort") or "newest"
        if sort not in SORTS:
            raise BadRequest(f"Unknown sort {sort!r}; use one of {', '.join(SORTS)}.")
        enumerator = one("enumerator")
        if enumerator and not enumerator.isdigit():
            raise BadRequest("enumerator must be an app user's number.")
        verdicts = tuple(sorted({v.strip() for v in args.get("verdict") or [] if v.strip()}))
        return cls(
            form=one("form"),
            area=area,
            start=_day(one("start"), "start"),
            end=_day(one("end"), "end"),
            state=state,
            flag=one("flag"),
            enumerator=int(enumerator) if enumerator else None,
            verdicts=verdicts,
            sort=sort,
            utc_offset_hours=utc_offset_hours,
        )

    def args(self) -> dict[str, list[str]]:
        """The filter as query arguments (for links that keep it: pages, previous/next, bulk review)."""
        out: dict[str, list[str]] = {}
        if self.form:
            out["form"] = [self.form]
        if self.area:
            out[LEVELS[len(self.area)]] = [self.area]
        if self.start:
            out["start"] = [self.start.isoformat()]
        if self.end:
            out["end"] = [self.end.isoformat()]
        for name in ("state", "flag"):
            if getattr(self, name):
                out[name] = [getattr(self, name)]
        if self.enumerator is not None:
            out["enumerator"] = [str(self.enumerator)]
        if self.verdicts:
            out["verdict"] = list(self.verdicts)
        if self.sort != "newest":
            out["sort"] = [self.sort]
        return out

    def without(self, name: str) -> QueueFilter:
        return replace(self, **{name: () if name == "verdicts" else (None if name in ("start", "end",
                                                                                     "enumerator") else "")})


def _day(raw: str, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD.") from None


def conditions(scope: Scope, wanted: QueueFilter, *, from_flags: bool = False) -> list[ColumnElement[bool]]:
    """The SQL conditions of ``wanted`` within ``scope`` (a filter outside the scope is refused).

    A flag filter is a lookup per submission (``EXISTS``), which suits a page: the ordered scan stops at its
    50th match. ``from_flags`` makes it the submissions of the open flags instead (``IN``, a range of
    ix_flags_open), which suits a count over a whole county: flags are few beside submissions."""
    if wanted.area and not scope.covers(wanted.area):
        raise BadRequest("That area is outside your area.")
    forms = select(Form.id).where(Form.project_id == scope.project_id)
    if wanted.form:
        forms = forms.where(Form.xml_form_id == wanted.form)
    found: list[ColumnElement[bool]] = [Submission.form_id.in_(forms)]
    if not wanted.area:
        # A narrower area filter (checked above to lie within the scope) implies the scope's condition; leaving
        # it out lets the database use that area's index alone.
        found.append(scope.submission_condition())
    if wanted.area:
        column = {6: Submission.county, 9: Submission.township, 12: Submission.village}[len(wanted.area)]
        found.append(column == wanted.area)
    zone = timezone(timedelta(hours=wanted.utc_offset_hours))
    if wanted.start:
        found.append(Submission.created_at >= datetime.combine(wanted.start, time(), zone).astimezone(UTC))
    if wanted.end:
        after = datetime.combine(wanted.end + timedelta(days=1), time(), zone).astimezone(UTC)
        found.append(Submission.created_at < after)
    if wanted.state == UNDECIDED:
        found.append(Submission.review_state.is_(None))
    elif wanted.state:
        found.append(Submission.review_state == wanted.state)
    if wanted.flag and from_flags:
        flagged = select(Flag.submission_id).where(Flag.state == "open")
        if wanted.flag != "any":
            flagged = flagged.where(Flag.kind == wanted.flag)
        found.append(Submission.id.in_(flagged))
    elif wanted.flag:
        flagged = select(Flag.id).where(Flag.submission_id == Submission.id, Flag.state == "open")
        if wanted.flag != "any":
            flagged = flagged.where(Flag.kind == wanted.flag)
        found.append(exists(flagged))
    if wanted.enumerator is not None:
        found.append(Submission.submitter_app_user_id == wanted.enumerator)
    if wanted.verdicts:
        found.append(Submission.verdict.in_(wanted.verdicts))
    return found


class Count(int):
    """A number of submissions that may have been counted only up to COUNT_CAP: then it reads "1000+"."""

    capped: bool

    def __new__(cls, number: int, capped: bool = False) -> Count:
        made = super().__new__(cls, number)
        made.capped = capped
        return made

    def __str__(self) -> str:
        return f"{int(self)}+" if self.capped else str(int(self))


@dataclass
class QueueRow:
    submission: Submission
    xml_form_id: str
    form_title: str
    enumerator: str
    open_flags: int = 0
    thumbnail: str | None = None  # sha256 of the first photo that has a thumbnail


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_after: int | None  # cursor of the following page
    previous_before: int | None  # cursor of the page before
    total: Count
    by_state: dict[str, Count] = field(default_factory=dict)


def _ordering(sort: str) -> tuple:
    if sort == "oldest":
        return Submission.created_at.asc(), Submission.id.asc()
    return Submission.created_at.desc(), Submission.id.desc()


def _position(submission_id: int):  # noqa: ANN202 - a row value
    """The cursor row's (received, id), looked up by the query itself."""
    received = select(Submission.created_at).where(Submission.id == submission_id).scalar_subquery()
    return tuple_(received, literal(submission_id))


def _after(sort: str, submission_id: int, *, backwards: bool = False) -> ColumnElement[bool]:
    """Rows after (or before) the cursor's row in the order of ``sort``."""
    key = tuple_(Submission.created_at, Submission.id)
    later = (sort == "oldest") != backwards
    return key > _position(submission_id) if later else key < _position(submission_id)


def page(
    session: Session,
    scope: Scope,
    wanted: QueueFilter,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
    with_counts: bool = True,
) -> QueuePage:
    where = conditions(scope, wanted)
    query = select(Submission).where(*where)
    backwards = before is not None
    if after is not None:
        query = query.where(_after(wanted.sort, after))
    elif before is not None:
        query = query.where(_after(wanted.sort, before, backwards=True))
    order = _ordering("oldest" if wanted.sort == "newest" else "newest") if backwards else _ordering(wanted.sort)
    found = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    if backwards:
        found.reverse()
    rows = describe(session, found)
    has_previous = (after is not None) or (backwards and more)
    has_next = (not backwards and more) or backwards
    result = QueuePage(
        rows=rows,
        next_after=rows[-1].submission.id if rows and has_next else None,
        previous_before=rows[0].submission.id if rows and has_previous else None,
        total=Count(0),
    )
    if with_counts:
        result.total, result.by_state = counts(session, scope, wanted)
    return result


def counts(
    session: Session, scope: Scope, wanted: QueueFilter, cap: int = COUNT_CAP
) -> tuple[Count, dict[str, Count]]:
    """Matching submissions, and how many of them (with every filter but the state) are in each state.

    A filter that narrows by date, result, enumerator or flag matches few rows of an area, read from the
    counts indexes (or, for a flag, from the open flags of ix_flags_open): those are counted exactly, in one
    grouped query. Without one, a county's count would read all its 100,000 rows: each state is counted up
    to ``cap`` instead, one query per state, each a range of an index that starts with the area and the
    state (``ix_submissions_*_states``: area, form, state), so a county costs what a village does.
    """
    # Flags first only over a county or the whole project; a township's rows are fewer than the flags.
    where = conditions(scope, wanted.without("state"), from_flags=len(wanted.area or scope.area) < 9)
    narrowed = wanted.flag or wanted.start or wanted.end or wanted.verdicts or wanted.enumerator is not None
    by_state: dict[str, Count] = {}
    if narrowed:
        grouped = select(Submission.review_state, func.count()).where(*where).group_by(Submission.review_state)
        by_state = {state or UNDECIDED: Count(number) for state, number in session.execute(grouped)}
    else:
        for state in (UNDECIDED, *REVIEW_STATES):
            in_state = Submission.review_state.is_(None) if state == UNDECIDED else Submission.review_state == state
            first = select(literal(1)).where(*where, in_state).limit(cap + 1).subquery()
            number = session.scalar(select(func.count()).select_from(first)) or 0
            if number:
                by_state[state] = Count(min(number, cap), capped=number > cap)
    if wanted.state:
        return by_state.get(wanted.state, Count(0)), by_state
    return Count(sum(by_state.values()), capped=any(c.capped for c in by_state.values())), by_state


def matching_ids(session: Session, scope: Scope, wanted: QueueFilter, batch: int = 500):  # noqa: ANN201
    """Every matching submission id, in batches (for "everything matching this filter")."""
    last = 0
    while True:
        ids = list(session.scalars(
            select(Submission.id).where(*conditions(scope, wanted), Submission.id > last)
            .order_by(Submission.id).limit(batch)
        ))
        if not ids:
            return
        yield ids
        last = ids[-1]


def neighbours(session: Session, scope: Scope, wanted: QueueFilter, submission_id: int) -> tuple:
    """The submissions before and after ``submission_id`` in the filtered queue (None at either end)."""
    where = conditions(scope, wanted)
    found = []
    for backwards in (True, False):
        order = _ordering("oldest" if wanted.sort == "newest" else "newest") if backwards else _ordering(wanted.sort)
        found.append(session.scalar(
            select(Submission).where(*where, _after(wanted.sort, submission_id, backwards=backwards))
            .order_by(*order).limit(1)
        ))
    return found[0], found[1]


def describe(session: Session, submissions: list[Submission]) -> list[QueueRow]:
    """The columns of the queue for a page of submissions: a fixed number of queries, whatever the page."""
    if not submissions:
        return []
    ids = [s.id for s in submissions]
    forms = {
        form_id: (xml_form_id, title)
        for form_id, xml_form_id, title in session.execute(
            select(Form.id, Form.xml_form_id, FormVersion.title)
            .outerjoin(FormVersion, FormVersion.id == Form.current_version_id)
            .where(Form.id.in_({s.form_id for s in submissions}))
        )
    }
    app_users = {
        user_id: name
        for user_id, name in session.execute(
            select(AppUser.id, AppUser.display_name).where(
                AppUser.id.in_({s.submitter_app_user_id for s in submissions if s.submitter_app_user_id})
            )
        )
    }
    flags = dict(session.execute(
        select(Flag.submission_id, func.count()).where(Flag.submission_id.in_(ids), Flag.state == "open")
        .group_by(Flag.submission_id)
    ).all())
    thumbnails = first_photos(session, ids)
    return [
        QueueRow(
            submission=s,
            xml_form_id=forms.get(s.form_id, ("", ""))[0],
            form_title=forms.get(s.form_id, ("", ""))[1] or forms.get(s.form_id, ("", ""))[0],
            enumerator=app_users.get(s.submitter_app_user_id or 0, ""),
            open_flags=flags.get(s.id, 0),
            thumbnail=thumbnails.get(s.id),
        )
        for s in submissions
    ]


def first_photos(session: Session, submission_ids: list[int]) -> dict[int, str]:
    """submission id -> sha256 of the first photo of its current version that has a thumbnail."""
    rows = session.execute(
        select(SubmissionVersion.submission_id, SubmissionAttachment.id, SubmissionAttachment.sha256)
        .join(SubmissionAttachment, SubmissionAttachment.submission_version_id == SubmissionVersion.id)
        .join(PhotoCheck, PhotoCheck.sha256 == SubmissionAttachment.sha256)
        .where(
            SubmissionVersion.submission_id.in_(submission_ids),
            SubmissionVersion.current.is_(True),
            SubmissionAttachment.present.is_(True),
            PhotoCheck.readable.is_(True),
        )
        .order_by(SubmissionVersion.submission_id, SubmissionAttachment.id)
    )
    found: dict[int, str] = {}
    for submission_id, _attachment_id, sha256 in rows:
        found.setdefault(submission_id, sha256)
    return found
