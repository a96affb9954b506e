"""XLSX and Parquet exports as an analyst opens them: sheets, labels, typed cells, row counts."""

from __future__ import annotations

import io
from datetime import date, datetime

import pyarrow.parquet as pq
from openpyxl import load_workbook

from tests.exports.conftest import FORM

BASE = f"/v1/projects/1/forms/{FORM}"


def test_xlsx_has_a_labelled_typed_sheet_per_table(client, shapes, supervisor) -> None:  # noqa: ANN001
    response = client.get(f"{BASE}/submissions.xlsx?labels=both&codes=true", headers=supervisor)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{FORM}.xlsx"')
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames == [FORM, f"{FORM}-members", f"{FORM}-jobs"]
    rows = list(book[FORM].iter_rows(values_only=True))
    names, zh, en, *data = rows
    assert len(data) == 3  # three submissions
    assert names[0] == "SubmissionDate" and "house_grade" in names and "house_grade:code" in names
    grade = names.index("house_grade")
    assert zh[grade] == "房屋等级" and en[grade] == "House grade"
    newest = dict(zip(names, data[0], strict=True))  # uuid:third, newest first
    assert newest["KEY"] == "uuid:third"
    assert newest["house_grade"] == "D级" and newest["house_grade:code"] == "D"
    assert newest["assets"] == "汽车" and newest["assets:code"] == "car"
    assert newest["rooms"] == 1 and isinstance(newest["rooms"], int)
    assert newest["visited"].date() == date(2026, 1, 7)
    assert isinstance(newest["SubmissionDate"], datetime)
    assert newest["place-spot-Latitude"] == 40.2
    first = dict(zip(names, data[2], strict=True))
    assert first["assets"] == "电视; 牛"
    members = list(book[f"{FORM}-members"].iter_rows(values_only=True))
    assert len(members) - 3 == 3  # three members in all
    jobs = list(book[f"{FORM}-jobs"].iter_rows(values_only=True))
    assert [row[0] for row in jobs[3:]] == ["retired", "farmer", "driver, part-time"]


def test_xlsx_english_labels_only(client, shapes, supervisor) -> None:  # noqa: ANN001
    response = client.get(f"{BASE}/submissions.xlsx?labels=en", headers=supervisor)
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    names, en, *data = list(book[FORM].iter_rows(values_only=True))
    grade = names.index("house_grade")
    assert en[grade] == "House grade" and data[0][grade] == "Grade D"
    assert "house_grade:code" not in names



def test_a_table_longer_than_an_excel_sheet_goes_on_in_a_second_sheet(client, shapes, supervisor, monkeypatch) -> None:  # noqa: ANN001
    # Excel opens 1,048,576 rows a sheet; here a sheet holds its two header rows and two data rows.
    monkeypatch.setattr("sync.exports.xlsx.EXCEL_ROWS", 4)
    response = client.get(f"{BASE}/submissions.xlsx?labels=en", headers=supervisor)
    assert response.status_code == 200, response.data
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames[:2] == [FORM, f"{FORM}~2"]
    first, second = (list(book[name].iter_rows(values_only=True)) for name in (FORM, f"{FORM}~2"))
    assert first[:2] == second[:2]  # the same header rows on each
    keys = [row[first[0].index("KEY")] for row in first[2:] + second[2:]]
    assert keys == ["uuid:third", "uuid:second", "uuid:first"]

def test_parquet_types_and_repeat_table(client, shapes, supervisor) -> None:  # noqa: ANN001
    response = client.get(f"{BASE}/submissions.parquet", headers=supervisor)
    assert response.status_code == 200, response.data
    table = pq.read_table(io.BytesIO(response.data))
    assert table.num_rows == 3
    assert str(table.schema.field("rooms").type) == "int64"
    assert str(table.schema.field("visited").type) == "date32[day]"
    assert str(table.schema.field("SubmissionDate").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("assets").type.value_type) == "string"
    assert table.schema.field("assets").type.num_fields == 1  # a list
    rows = table.to_pylist()
    assert rows[0]["KEY"] == "uuid:third" and rows[0]["rooms"] == 1
    assert rows[2]["assets"] == ["tv", "cow"] and rows[1]["assets"] is None
    assert rows[2]["place-spot-Latitude"] == 40.1
    response = client.get(f"{BASE}/submissions.parquet?table=members", headers=supervisor)
    members = pq.read_table(io.BytesIO(response.data))
    assert members.num_rows == 3
    assert str(members.schema.field("m_info-m_age").type) == "int64"
    assert sorted(members.column("m_info-m_age").to_pylist()) == [12, 44, 70]


def test_xlsx_text_that_looks_like_a_formula_or_a_link_stays_text() -> None:
    from sync.exports.xlsx import Book

    book = Book()
    sheet = book.table("answers", [["note", "site", "when", "day"]])
    sheet.append(["=HYPERLINK(\"http://example.com\")", "http://example.com", datetime(2026, 1, 7, 9, 30),
                  date(2026, 1, 7)])
    opened = load_workbook(io.BytesIO(b"".join(book.chunks())))
    cells = list(opened["answers"].iter_rows(min_row=2))[0]
    assert [c.data_type for c in cells[:2]] == ["s", "s"]
    assert cells[0].value == '=HYPERLINK("http://example.com")' and cells[1].hyperlink is None
    assert cells[2].value == datetime(2026, 1, 7, 9, 30) and cells[2].number_format == "yyyy-mm-dd hh:mm:ss"
    assert cells[3].value == datetime(2026, 1, 7) and cells[3].number_format == "yyyy-mm-dd"


def test_a_long_parquet_file_is_written_in_row_groups_and_reads_back_whole() -> None:
    import pyarrow as pa

    from sync.exports.parquet import write_rows

    schema = pa.schema([pa.field("n", pa.int64()), pa.field("text", pa.string())])
    chunks = list(write_rows(schema, ([n, f"{n:06d}" * 40] for n in range(30_000))))  # ~7 MB of text
    assert len(chunks) > 2  # sent group by group, not at the end
    file = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert file.metadata.num_row_groups > 2
    table = file.read()
    assert table.column("n").to_pylist() == list(range(30_000))
    assert table.column("text")[29_999].as_py() == "029999" * 40


def test_bad_file_options_are_json_400(client, shapes, supervisor) -> None:  # noqa: ANN001
    for url in (f"{BASE}/submissions.xlsx?labels=fr", f"{BASE}/submissions.parquet?table=nope"):
        response = client.get(url, headers=supervisor)
        assert response.status_code == 400
        assert response.is_json and response.json["message"]


def test_cli_writes_complete_files_or_none(shapes, settings, tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from server.cli import main

    env = {"QINGLING_DATA_DIR": str(settings.data_dir), "QINGLING_DATABASE_URL": settings.database_url}
    out = tmp_path / "shapes.parquet"
    args = ["export", "submissions", FORM, "--format", "parquet", "--filter", "house_grade eq 'D'", "--out", str(out)]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("KEY").to_pylist() == ["uuid:third", "uuid:first"]
    bad = tmp_path / "bad.xlsx"
    result = CliRunner().invoke(main, [*args[:4], "xlsx", "--labels", "fr", "--out", str(bad)], env=env)
    assert result.exit_code != 0 and "labels" in result.output
    assert not bad.exists() and not (tmp_path / "bad.xlsx.partial").exists()
