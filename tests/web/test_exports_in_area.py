"""Exports follow the caller's membership area (server/scope.py: caller_area): a township account's CSV and
OData hold its township's submissions and nothing of the next township's, whatever ``?area=`` it asks for."""

from __future__ import annotations

import csv
import io

from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, Workspace, basic

FORM = "/v1/projects/{p}/forms/house_appraisal"


def csv_keys(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 200, response.data
    return sorted(row["KEY"] for row in csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def odata_ids(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 200, response.data
    return sorted(row["__id"] for row in response.get_json()["value"])


def test_a_township_accounts_csv_and_odata_hold_only_its_township(client, small_county: Workspace,
                                                                  project) -> None:  # noqa: ANN001
    base = FORM.format(p=project.id)
    township_a = sorted(small_county.instances(TOWNSHIP_A))
    township_b = sorted(small_county.instances(TOWNSHIP_B))
    assert township_a and township_b
    supervisor_a = basic("supervisor", "township_a")
    assert csv_keys(client.get(base + "/submissions.csv", headers=supervisor_a)) == township_a
    assert odata_ids(client.get(base + ".svc/Submissions", headers=supervisor_a)) == township_a
    # The county sees both townships: the filter above is the account's area, not the data.
    county = basic("viewer", "county")
    assert csv_keys(client.get(base + "/submissions.csv", headers=county)) == sorted(township_a + township_b)
    assert odata_ids(client.get(base + ".svc/Submissions", headers=county)) == sorted(township_a + township_b)
    # ?area= may narrow the caller's area, never widen it.
    village = sorted(i for i in township_a if i.startswith(f"uuid:appraisal-{VILLAGE_A}-"))
    narrowed = client.get(base + f"/submissions.csv?area={VILLAGE_A}", headers=supervisor_a)
    assert csv_keys(narrowed) == village
    widened = client.get(base + f"/submissions.csv?area={TOWNSHIP_B}", headers=supervisor_a)
    assert widened.status_code == 403
    assert client.get(base + f".svc/Submissions?area={TOWNSHIP_B}", headers=supervisor_a).status_code == 403
