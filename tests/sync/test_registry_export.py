"""The county's cleaned dataset: the registry as XLSX and CSV ZIP with a codebook, counted rows only."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from contextlib import closing

import pyarrow.parquet as pq
from openpyxl import load_workbook
from sqlalchemy import select

from sync.db.models import Audit
from tests.sync.survey import VILLAGES, SurveyForms, appraisal, baseline, id_number, member
from tests.sync.test_registry import post, settle

URL = "/v1/projects/1/registry"


def campaign(collect, forms: SurveyForms, services, api) -> list[str]:  # noqa: ANN001
    """Three households (two in the first village), each appraised once; the third appraisal is rejected."""
    entities = []
    for index in range(3):
        entity = str(uuid.UUID(int=index + 1))
        entities.append(entity)
        members = [member(f"户主{index}", id_number("19700101", index), "01")]
        village = VILLAGES[0] if index < 2 else VILLAGES[1]
        post(collect, forms.xml("hh_baseline", baseline(village, "1组", members), entity_id=entity, create=True))
        settle(services)
    for index, entity in enumerate(entities):
        post(
            collect,
            forms.xml(
                "house_appraisal",
                appraisal(entity, day="2021-04-15", wall="abcd"[index]),
                entity_id=entity,
                base_version=1,
                instance_id=f"uuid:house-{index}",
            ),
        )
        settle(services)
    response = api.patch(
        "/v1/projects/1/forms/house_appraisal/submissions/uuid:house-2", {"reviewState": "rejected"}
    )
    assert response.status_code == 200, response.data
    settle(services)
    return entities


def test_registry_xlsx_and_zip_with_codebook(client, collect, survey_forms, services, api, supervisor) -> None:  # noqa: ANN001
    campaign(collect, survey_forms, services, api)
    response = client.get(f"{URL}/export.xlsx", headers=supervisor)
    assert response.status_code == 200, response.data
    assert response.headers["X-Export-Rows"] == "3"
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames == ["households", "members", "baselines", "appraisals", "water_surveys",
                               "income_checks", "codebook"]
    names, zh, en, *households = list(book["households"].iter_rows(values_only=True))
    assert len(households) == 3 and zh[names.index("house_grade")] == "房屋等级"
    grades = sorted((row[names.index("village")], row[names.index("house_grade")] or "") for row in households)
    assert grades == sorted([(VILLAGES[0], "A"), (VILLAGES[0], "B"), (VILLAGES[1], "")])
    names, _zh, _en, *appraisals = list(book["appraisals"].iter_rows(values_only=True))
    assert len(appraisals) == 2  # the rejected one does not count
    assert all(row[names.index("parameter_version")] for row in appraisals)
    codebook = list(book["codebook"].iter_rows(values_only=True))
    grade = next(row for row in codebook if row[:2] == ("households", "house_grade"))
    assert "A=" in grade[6] and "D=" in grade[6]
    relation = next(row for row in codebook if row[:2] == ("members", "relation"))
    assert "01=户主" in relation[6]

    zipped = client.get(f"{URL}/export.zip?area={VILLAGES[1]}", headers=supervisor)
    assert zipped.status_code == 200, zipped.data
    archive = zipfile.ZipFile(io.BytesIO(zipped.data))
    assert "codebook.csv" in archive.namelist()
    rows = list(csv.DictReader(io.StringIO(archive.read("households.csv").decode("utf-8-sig"))))
    assert [row["village"] for row in rows] == [VILLAGES[1]]
    assert list(csv.DictReader(io.StringIO(archive.read("appraisals.csv").decode("utf-8-sig")))) == []

    approved = client.get(f"{URL}/export.zip?approved=true", headers=supervisor)
    archive = zipfile.ZipFile(io.BytesIO(approved.data))
    assert list(csv.DictReader(io.StringIO(archive.read("appraisals.csv").decode("utf-8-sig")))) == []

    typed = client.get(f"{URL}/export.parquet.zip", headers=supervisor)
    archive = zipfile.ZipFile(io.BytesIO(typed.data))
    households = pq.read_table(io.BytesIO(archive.read("households.parquet")))
    assert households.num_rows == 3 and str(households.schema.field("registered_on").type) == "date32[day]"
    assert str(households.schema.field("housing_ok").type) == "bool"
    assert pq.read_table(io.BytesIO(archive.read("appraisals.parquet"))).num_rows == 2

    with services.sessions() as session:
        actions = session.scalars(select(Audit.action).where(Audit.action.like("export.registry%"))).all()
    assert sorted(actions) == [
        "export.registry.csv-zip", "export.registry.csv-zip", "export.registry.parquet", "export.registry.xlsx"
    ]
    assert client.get(f"{URL}/export.xlsx?approved=maybe", headers=supervisor).status_code == 400
    assert client.get(f"{URL}/export.xlsx?area=15x", headers=supervisor).status_code == 400


def test_cli_exports_the_registry(collect, survey_forms, services, api, settings, tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from server.cli import main

    campaign(collect, survey_forms, services, api)
    env = {"QINGLING_DATA_DIR": str(settings.data_dir), "QINGLING_DATABASE_URL": settings.database_url}
    out = tmp_path / "registry.xlsx"
    args = ["export", "registry", "--format", "xlsx", "--area", VILLAGES[0], "--out", str(out)]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    with closing(load_workbook(out, read_only=True)) as book:  # read-only keeps the file open until closed
        rows = list(book["households"].iter_rows(values_only=True))
    assert len(rows) - 3 == 2  # the two households of the first village
