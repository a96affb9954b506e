"""A small county in the review workspace: two townships, households registered, appraised with photos.

Everything goes the way it does in the field: baselines and appraisals posted as Collect posts them (the
photos as multipart parts), then the queue run to empty (normalization places each submission in its
village, the photos job makes the thumbnails). Accounts cover every role and every level of area.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from server.services import Services
from sync.access.accounts import create_user
from sync.db.engine import transaction
from sync.jobs.queue import run_pending_jobs
from tests.collect import submission_body
from tests.media.photos import jpeg_bytes, scene
from tests.sync.survey import COUNTY, SurveyForms, appraisal, baseline, id_number, member

TOWNSHIP_A = "150121100"  # 察素齐镇
TOWNSHIP_B = "150121102"  # 毕克齐镇
VILLAGE_A = "150121100203"  # 北只图村
VILLAGE_A2 = "150121100210"  # 把什村
VILLAGE_B = "150121102205"  # 毕克齐村
PASSWORD = "correct horse battery"
ROLES = ("admin", "manager", "supervisor", "viewer", "enumerator")
AREAS = {"project": "", "county": COUNTY, "township_a": TOWNSHIP_A, "township_b": TOWNSHIP_B, "village_a": VILLAGE_A}
DAY = "2021-05-20"


@dataclass
class Workspace:
    """What was sent: households by village, the appraisal instance ids by grade and township."""

    households: dict[str, list[str]] = field(default_factory=dict)  # village -> entity ids
    appraisals: dict[str, str] = field(default_factory=dict)  # instance id -> grade
    township_of: dict[str, str] = field(default_factory=dict)  # instance id -> township
    photo: dict[str, str] = field(default_factory=dict)  # instance id -> photo file name

    def instances(self, township: str, grades: str = "ABCD") -> list[str]:
        return [i for i, g in self.appraisals.items() if self.township_of[i] == township and g in grades]


def email(role: str, area_key: str) -> str:
    return f"{role}.{area_key}@county.example"


def basic(role: str, area_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{email(role, area_key)}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def create_accounts(services: Services, project_id: int) -> None:
    """One account for every role at every level of area (the authorization matrix's rows)."""
    with transaction(services.sessions) as session:
        for role in ROLES:
            for key, area in AREAS.items():
                create_user(session, email(role, key), PASSWORD, role, area=area, project_id=project_id)


def settle(services: Services) -> None:
    run_pending_jobs(services.sessions, services.work)


def post(collect, xml: bytes, files: dict[str, bytes] | None = None) -> None:  # noqa: ANN001
    response = collect.post(submission_body(xml, files))
    assert response.status_code == 201, response.data


def build(collect, forms: SurveyForms, services: Services, *, per_village: dict[str, int]) -> Workspace:  # noqa: ANN001
    """Register ``per_village`` households, and appraise each once: grades A, B, C, D in turn; the
    second and third appraisals of each village carry a front photo, taken on the day at the house."""
    workspace = Workspace()
    index = 0
    for village, count in per_village.items():
        workspace.households[village] = []
        for n in range(count):
            entity = str(uuid.UUID(int=index + 1))
            head = member(f"户主{index:03d}", id_number("19700101", index), "01")
            answers = baseline(village, f"{n % 3 + 1}组", [head], day=DAY, township=village[:9])
            post(collect, forms.xml("hh_baseline", answers, entity_id=entity, create=True))
            workspace.households[village].append(entity)
            index += 1
    settle(services)
    photo_number = 0
    for village, entities in workspace.households.items():
        for n, entity in enumerate(entities):
            wall = "abcd"[n % 4]
            instance = f"uuid:appraisal-{village}-{n}"
            files = None
            extra = {}
            if n in (1, 2):  # grades B and C
                name = f"front-{photo_number}.jpg"
                files = {name: jpeg_bytes(scene(seed=photo_number), taken=datetime(2021, 5, 20, 10, 15),
                                          gps=(40.7, 111.2))}
                extra = {"ph_front": name}
                workspace.photo[instance] = name
                photo_number += 1
            answers = appraisal(entity, day=DAY, wall=wall, **extra)
            post(collect, forms.xml("house_appraisal", answers, entity_id=entity, base_version=1,
                                    instance_id=instance), files)
            workspace.appraisals[instance] = wall.upper()
            workspace.township_of[instance] = village[:9]
    settle(services)
    return workspace
