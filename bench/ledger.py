"""Benchmark of the clearance ledger at province size: the dashboard counts, a township's list, the preview.

Builds a registry of ``--households`` households (default 300,000: 10 counties x 10 townships x 30 villages
x 100) with 4 records each (a baseline, a housing appraisal, a water survey, an income check) by bulk
inserts, not HTTP: the history rows point at one stored submission per form, and the ledger items are
inserted as ``sync.ledger.derive`` would make them from those records (about 10 % C/D houses, 8 % water
that fails, 15 % income under the line, 5 % proposed for monitoring, 1 % identity problems; 60 % of the
items closed). Then, through the ledger's own functions (``sync.ledger.queries``, ``sync.ledger.parameters``):

- the dashboard of one county (its townships) and of the province (its counties): ``area_counts``, and
  with the progress chart's query (``sync.ledger.dashboard.progress``), all the dashboard page asks SQL;
- the item list of one township (the first page of its open items): ``list_items``;
- the parameter preview over every household, for a county table that raises the 2020 monitoring line;
- ``derive_household`` for 2,000 households (the cost the normalize job adds per household).

Each query is timed as the best and the median of ``--repeat`` runs after one warm run.

    .venv/bin/python -m bench.ledger                                  # SQLite, 300,000 households
    .venv/bin/python -m bench.ledger --households 30000 --database postgresql
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select

COUNTIES = [f"1501{n:02d}" for n in range(21, 31)]
TOWNSHIPS, VILLAGES = 10, 30
CHUNK = 5000


def village_codes(households: int) -> list[str]:
    codes = [
        f"{county}{100 + t:03d}{200 + v:03d}" for county in COUNTIES for t in range(TOWNSHIPS) for v in range(VILLAGES)
    ]
    per_village = max(1, households // len(codes))
    return [code for code in codes for _ in range(per_village)][:households]


def build(services, households: int, seed: int = 7) -> dict:  # noqa: ANN001 - server.services.Services
    """Bulk-insert households, 4 history rows each and their ledger items; returns the counts."""
    from sync.db.models import (
        BaselineRecord,
        Form,
        FormVersion,
        Household,
        HousingAppraisal,
        IncomeCheck,
        LedgerItem,
        Submission,
        SubmissionVersion,
        WaterSurvey,
    )

    rng = random.Random(seed)
    now = datetime(2021, 7, 1, tzinfo=UTC)
    with services.sessions() as session, session.begin():
        sources = {}
        for form in session.scalars(select(Form)):
            version = session.scalar(select(FormVersion).where(FormVersion.form_id == form.id))
            submission = Submission(form_id=form.id, instance_id=f"uuid:bench-{form.xml_form_id}")
            session.add(submission)
            session.flush()
            stored = SubmissionVersion(
                submission_id=submission.id, form_id=form.id, form_version_id=version.id,
                instance_id=submission.instance_id, xml=b"<data/>", xml_sha256="0" * 64,
            )  # fmt: skip
            session.add(stored)
            session.flush()
            sources[form.xml_form_id] = (submission.id, stored.id)
    villages = village_codes(households)
    counts = {"households": 0, "history": 0, "items": 0}
    first_id = 1
    for start in range(0, len(villages), CHUNK):
        chunk = villages[start : start + CHUNK]
        with services.engine.begin() as connection:
            rows = []
            for offset, village in enumerate(chunk):
                number = start + offset
                rows.append({
                    "id": first_id + number, "project_id": 1, "code": f"{village}{number % 10000:04d}",
                    "entity_id": f"bench-{number}", "registered_on": date(2021, 3, 10), "label": f"户主{number}",
                    "county": village[:6], "township": village[:9], "village": village, "status": "poor",
                    "other_causes": [], "monitor_risks": [], "entity_version": 4, "updated_at": now,
                })  # fmt: skip
            history = {model: [] for model in (BaselineRecord, HousingAppraisal, WaterSurvey, IncomeCheck)}
            items = []
            for row in rows:
                facts = _facts(rng)
                row.update(house_grade=facts["grade"], water_verdict=facts["water"], income_year=2020,
                           income_pc=facts["income_pc"], monitor_flag=facts["monitor"])  # fmt: skip
                for model, form in ((BaselineRecord, "hh_baseline"), (HousingAppraisal, "house_appraisal"),
                                    (WaterSurvey, "water_survey"), (IncomeCheck, "income_check")):  # fmt: skip
                    submission_id, version_id = sources[form]
                    record = {
                        "project_id": 1, "household_id": row["id"], "household_ref": row["entity_id"],
                        "submission_id": submission_id, "submission_version_id": version_id,
                        "instance_id": f"uuid:bench-{form}", "form_version": "1", "survey_date": date(2021, 4, 15),
                        "received_at": now, "answers": {}, "server_verdict": {}, "device_verdict": {},
                        "status": "computed" if model is IncomeCheck else "rated",
                    }  # fmt: skip
                    if model is HousingAppraisal:
                        record.update(grade=facts["grade"], housing_ok=facts["grade"] in "AB")
                    elif model is WaterSurvey:
                        record.update(verdict=facts["water"], water_ok=facts["water"] != "budabiao")
                    elif model is IncomeCheck:
                        record.update(income_year=2020, income_pc=facts["income_pc"], net_total=facts["income_pc"] * 3,
                                      below_exit_line=facts["income_pc"] <= 4000,
                                      below_monitor_line=facts["income_pc"] < 6000,
                                      below_dibao_line=facts["income_pc"] < 4400,
                                      server_verdict={"monitor_flag": facts["monitor"]})  # fmt: skip
                    history[model].append(record)
                for kind, form in facts["problems"]:
                    closed = rng.random() < 0.6
                    submission_id, _version = sources[form]
                    items.append({
                        "project_id": 1, "household_id": row["id"], "kind": kind,
                        "state": "closed" if closed else rng.choice(("open", "open", "assigned", "done")),
                        "village": row["village"], "opened_on": date(2021, rng.randint(1, 6), rng.randint(1, 28)),
                        "found_submission_id": submission_id, "found_instance_id": f"uuid:bench-{form}",
                        "found_form": form, "details": {}, "created_at": now,
                        "closed_on": date(2021, rng.randint(6, 7), rng.randint(1, 28)) if closed else None,
                        "deadline": date(2021, rng.randint(5, 9), 1),
                    })  # fmt: skip
            connection.execute(insert(Household), rows)
            for model, records in history.items():
                connection.execute(insert(model), records)
            if items:
                connection.execute(insert(LedgerItem), items)
        counts["households"] += len(rows)
        counts["history"] += sum(len(records) for records in history.values())
        counts["items"] += len(items)
    return counts


def _facts(rng: random.Random) -> dict:
    grade = rng.choices("ABCD", weights=(60, 30, 6, 4))[0]
    water = rng.choices(("dabiao", "jiben", "budabiao"), weights=(60, 32, 8))[0]
    income_pc = Decimal(rng.choice((3500, 5000, 6200, 6800, 7000, 9000, 12000, 15000, 20000, 25000)))
    income_pc = income_pc if rng.random() < 0.5 else Decimal(rng.randint(3000, 30000))
    monitor = rng.random() < 0.05
    problems = []
    if grade in "CD":
        problems.append(("housing", "house_appraisal"))
    if water == "budabiao":
        problems.append(("water", "water_survey"))
    if income_pc < 6000:
        problems.append(("income", "income_check"))
    if monitor:
        problems.append(("monitoring", "income_check"))
    if rng.random() < 0.01:
        problems.append(("identity", "hh_baseline"))
    return {"grade": grade, "water": water, "income_pc": income_pc, "monitor": monitor, "problems": problems}


def timed(function, repeat: int) -> dict:  # noqa: ANN001
    function()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        runs.append(time.perf_counter() - started)
    return {"best_ms": round(min(runs) * 1000, 1), "median_ms": round(statistics.median(runs) * 1000, 1)}


def measure(services, repeat: int) -> dict:  # noqa: ANN001
    from sync.db.models import Household, ParameterVersion
    from sync.ledger.dashboard import progress
    from sync.ledger.derive import derive_household
    from sync.ledger.parameters import preview
    from sync.ledger.queries import area_counts, list_items

    today = date(2021, 7, 15)
    county, township = COUNTIES[0], f"{COUNTIES[0]}100"
    figures: dict = {}
    with services.sessions() as session:
        figures["province_dashboard"] = timed(lambda: area_counts(session, 1, "", today=today), repeat)
        figures["county_dashboard"] = timed(lambda: area_counts(session, 1, county, today=today), repeat)
        # The dashboard page's queries: the counts and the progress chart (12 month-end sums per kind).
        figures["province_page_queries"] = timed(
            lambda: (area_counts(session, 1, "", today=today), progress(session, 1, "", today=today)), repeat
        )
        figures["county_page_queries"] = timed(
            lambda: (area_counts(session, 1, county, today=today), progress(session, 1, county, today=today)), repeat
        )
        figures["township_list"] = timed(lambda: list_items(session, 1, township, today=today, state="active"), repeat)
        figures["township_list"]["rows"] = len(list_items(session, 1, township, today=today, state="active"))
        table = "province,county,year,profile,name,value,version,tag,note\n"
        table += f"15,{county},2020,,monitor_line_local,7100,bench,G,bench\n"
        version = ParameterVersion(file_name="county.csv", content=table)
        session.add(version)
        session.flush()
        started = time.perf_counter()
        found = preview(session, 1, version)
        figures["preview"] = {"seconds": round(time.perf_counter() - started, 2), "households": found.households,
                              "summary": found.summary()}  # fmt: skip
        session.rollback()
    with services.sessions() as session, session.begin():
        households = session.scalars(select(Household).order_by(Household.id).limit(2000)).all()
        started = time.perf_counter()
        for household in households:
            derive_household(session, household)
        figures["derive_per_household_ms"] = round((time.perf_counter() - started) * 1000 / len(households), 2)
        session.rollback()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=300_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from bench.registry import open_services

    with tempfile.TemporaryDirectory() as folder:
        postgres = None
        if args.database == "postgresql":
            from tests.databases import PostgresDatabases

            postgres = PostgresDatabases()
            url = postgres.create()
        else:
            url = f"sqlite:///{Path(folder) / 'qingling.db'}"
        services = open_services(Path(folder), url)
        started = time.perf_counter()
        counts = build(services, args.households)
        built = round(time.perf_counter() - started, 1)
        with services.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")  # the planner's statistics, as a day of use would give
        result = {"database": args.database, **counts, "build_seconds": built, **measure(services, args.repeat)}
        services.engine.dispose()
        if postgres is not None:
            postgres.drop(url)
            postgres.close()
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
