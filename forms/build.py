"""Compile XLSForm sources into the XForms the server publishes, and check them with ODK Validate.

The workbook in ``forms/sources`` is the source of truth; the XML bytes produced here are exactly what
phones download, so everything the server needs to know about a form (id, version, title, media, entity
list) is read back from those bytes rather than from the workbook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from forms.diagnostics import (
    FormBuildError,
    Location,
    duplicate_name,
    first_use,
    name_first_used,
    pyxform_location,
    survey_sheet,
    warning_problem,
)
from forms.locations import MEDIA_DIR, SOURCES_DIR
from forms.media_files import media_file, referenced_media
from forms.odk_validate import validate_xform
from forms.problems import FormProblem

__all__ = [
    "MEDIA_DIR",
    "SOURCES_DIR",
    "SOURCE_SUFFIXES",
    "CompiledForm",
    "FormBuildError",
    "FormProblem",
    "Location",
    "build_all",
    "compile_xlsform",
    "declared_entity_lists",
    "find_sources",
    "media_file",
    "validate_xform",
]

SOURCE_SUFFIXES = (".xlsx", ".xls", ".md", ".xml")
MAX_VERSION_LENGTH = 100  # form_versions.version
# Letters, digits, dot, dash, underscore: what Collect shows and a designer can type again. A space
# usually means Excel turned the cell into a date ("2026-12-01 00:00:00").
_VERSION = re.compile(r"^[\w.\-]+$")
XFORMS = "http://www.w3.org/2002/xforms"
HTML = "http://www.w3.org/1999/xhtml"
ENTITIES = "http://www.opendatakit.org/xforms/entities"


@dataclass(frozen=True)
class CompiledForm:
    """One compiled form, ready to publish."""

    source: Path
    form_id: str
    version: str
    title: str
    xml: bytes  # the exact XForm bytes the server serves (UTF-8)
    media: tuple[str, ...]  # attachments the form names, entity lists excluded
    entity_lists: tuple[str, ...]  # entity lists read as attachments: ("households",) -> households.csv
    entity_dataset: str | None  # the entity list this form creates or updates
    warnings: tuple[str, ...]  # pyxform and ODK Validate warnings, in words
    problems: tuple[FormProblem, ...] = ()  # the same warnings, each on its row where one is known


def compile_xlsform(path: Path, *, validate: bool = True) -> CompiledForm:
    """Compile one source (.xlsx, .xls, pyxform Markdown .md, or an XForm .xml) and, by default, run ODK Validate.

    Raises FormBuildError naming file, sheet and row. A form without a ``version`` in its settings sheet
    is refused: phones only fetch a changed form when the version changes (docs/protocol.md §4.2).
    """
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    path = Path(path)
    if path.suffix.lower() not in SOURCE_SUFFIXES:
        raise FormBuildError(path, f"not a form source; use one of {', '.join(SOURCE_SUFFIXES)}.")
    if not path.is_file():
        raise FormBuildError(path, "the file does not exist.")
    if path.suffix.lower() == ".xml":
        return compile_xform(path.read_bytes(), path, validate=validate)
    warnings: list[str] = []
    try:
        result = convert(xlsform=str(path), warnings=warnings, validate=False, pretty_print=False)
    except PyXFormError as exc:
        location, text = pyxform_location(str(exc), getattr(exc, "context", None))
        raise _pyxform_error(path, location, text) from exc
    except Exception as exc:  # noqa: BLE001 - pyxform raises plain errors on some malformed sheets
        raise FormBuildError(path, f"pyxform could not read the form: {exc}") from exc
    return _compiled(path, result.xform.encode("utf-8"), warnings, validate=validate)


def compile_xform(xml: bytes, path: Path, *, validate: bool = True) -> CompiledForm:
    """Read an XForm written elsewhere (another tool, another server) as if it had been compiled here.

    The bytes are kept as they are: they are what phones download, and their md5 is the form's hash.
    """
    if b"<!DOCTYPE" in xml[:4096].upper() or b"<!ENTITY" in xml.upper():
        raise FormBuildError(path, "the XForm contains a DOCTYPE or entity declarations, which are not accepted.")
    try:
        root = etree.fromstring(xml, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise FormBuildError(path, f"the file is not well-formed XML: {exc}") from exc
    if etree.QName(root).localname != "html" or root.find(f".//{{{XFORMS}}}model") is None:
        raise FormBuildError(path, "the file is XML but not an XForm (no <h:html> with an XForms <model>).")
    return _compiled(path, xml, [], validate=validate)


def _pyxform_error(path: Path, location: Location | None, text: str) -> FormBuildError:
    """pyxform's error with every row it involves: both rows of a duplicate name, the question of the row."""
    if location is None:
        # Some pyxform errors name the question but not the row ("The survey element named 'x' ...").
        named = warning_problem(text, _survey_rows(path))
        if named.row is not None:
            location = Location("survey", named.row, None, named.question)
    row = location.row if location else None
    first = first_use(path, text, row)
    text = name_first_used(path, text, row)
    if location is None or row is None or location.sheet != "survey":
        return FormBuildError(path, text, location)
    cells = dict(survey_sheet(path)).get(row, {})
    question = (cells.get("name") or "").strip() or None
    column = location.column
    if column is None and "List name not in choices sheet" in text:
        column = "type"
    also: tuple[FormProblem, ...] = ()
    name = duplicate_name(text)
    if name is not None:
        column = "name"
        if first is not None:
            again = f"The name '{name}' is used again in row {row}."
            also = (FormProblem(again, "error", "survey", first, "name", name),)
    error = FormBuildError(path, text, location, also=also)
    # The sentence stays pyxform's; the structured problem also names the question and column.
    error.problems = (FormProblem(error.message, "error", "survey", row, column, question), *also)
    return error


def _compiled(path: Path, xml: bytes, warnings: list[str], *, validate: bool) -> CompiledForm:
    root = etree.fromstring(xml, parser=_PARSER)
    form_id, version, title = _identity(root)
    _check_version(path, version)
    dataset = _entity_dataset(root)
    names = referenced_media(xml)
    lists = _entity_lists_read(names, dataset, path.parent)
    entity_lists = tuple(name[: -len(".csv")] for name in names if name[: -len(".csv")] in lists)
    media = tuple(name for name in names if name[: -len(".csv")] not in lists)
    if validate:
        warnings.extend(validate_xform(xml, source=path))
    texts = tuple(" ".join(w.split()) for w in warnings if w.strip())
    rows = _survey_rows(path) if texts else {}
    return CompiledForm(
        source=path,
        form_id=form_id,
        version=version,
        title=title,
        xml=xml,
        media=media,
        entity_lists=entity_lists,
        entity_dataset=dataset,
        warnings=texts,
        problems=tuple(warning_problem(text, rows) for text in texts),
    )


def _check_version(path: Path, version: str) -> None:
    """Refuse a version phones cannot tell apart or a designer cannot type again (docs/forms.md §1)."""
    where = Location(sheet="settings", row=2, column="version") if path.suffix.lower() != ".xml" else None
    if not version:
        raise FormBuildError(
            path,
            "the form has no version. Add a 'version' column to the settings sheet (e.g. 2026112201) "
            "and raise it each time the form changes.",
            Location(sheet="settings") if where else None,
        )
    if len(version) > MAX_VERSION_LENGTH:
        too_long = f"the version is {len(version)} characters long; at most {MAX_VERSION_LENGTH}."
        raise FormBuildError(path, too_long, where)
    if not _VERSION.match(version):
        hint = " Excel may have turned the cell into a date: format it as text." if " " in version else ""
        raise FormBuildError(
            path,
            f"the version {version!r} may only contain letters, digits, '.', '-' and '_' (e.g. 2026112201).{hint}",
            where,
        )


def _survey_rows(path: Path) -> dict[str, int]:
    from forms.diagnostics import survey_rows

    return survey_rows(path) if path.suffix.lower() != ".xml" else {}


def find_sources(directory: Path = SOURCES_DIR) -> list[Path]:
    """Return the form sources in ``directory`` (not its media folder), sorted by name.

    Excel's lock files (``~$form.xlsx``) and hidden files are skipped: they appear while a designer has
    the workbook open and are not forms.
    """
    directory = Path(directory)
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file()
        and path.suffix.lower() in SOURCE_SUFFIXES
        and not path.name.startswith(("~$", ".", "#"))
        and path.name.lower() != "readme.md"
    )


def build_all(directory: Path = SOURCES_DIR, *, validate: bool = True) -> list[CompiledForm]:
    """Compile every source in ``directory``; raise FormBuildError listing every refused form.

    All forms are tried before raising, so a designer sees every problem in one run.
    """
    compiled, errors = [], []
    for source in find_sources(directory):
        try:
            compiled.append(compile_xlsform(source, validate=validate))
        except FormBuildError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise FormBuildError(None, "\n".join(str(e) for e in errors))
    ids = [form.form_id for form in compiled]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise FormBuildError(
            None, f"several sources use the same form_id: {', '.join(duplicates)}; each form needs its own."
        )
    return compiled


def declared_entity_lists(directory: Path) -> tuple[str, ...]:
    """Entity lists that the workbooks in ``directory`` create or update (their entities sheets).

    A form that reads ``households.csv`` reads the server-generated entity list when some form in the
    same folder declares the list ``households``; such a file is not a media file to upload.
    """
    from pyxform.xls2json_backends import get_xlsform

    lists: list[str] = []
    for source in find_sources(directory):
        try:
            definition = get_xlsform(xlsform=str(source))
        except Exception:  # noqa: BLE001, S112 - a broken sibling is reported when it is compiled itself
            continue
        for row in definition.entities or []:
            name = (row.get("list_name") or row.get("dataset") or "").strip()
            if name and name not in lists:
                lists.append(name)
    return tuple(lists)


def _entity_lists_read(names: tuple[str, ...], dataset: str | None, directory: Path) -> set[str]:
    """Which of the form's CSV attachments are entity lists rather than files from the media folder.

    The form's own dataset is one; a CSV with no file in the media folder is one when another form in
    the folder declares that list (a form may read a list it does not update). The folder is only
    scanned in that second case, so compiling stays cheap.
    """
    stems = {name[: -len(".csv")] for name in names if name.endswith(".csv")}
    lists = {dataset} & stems if dataset else set()
    unknown = {stem for stem in stems - lists if media_file(f"{stem}.csv", directory) is None}
    if unknown:
        lists |= unknown & set(declared_entity_lists(directory))
    return lists


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _identity(root: etree._Element) -> tuple[str, str, str]:
    """Form id, version and title as phones read them from the XForm."""
    title = root.findtext(f"{{{HTML}}}head/{{{HTML}}}title") or ""
    instance = root.find(f".//{{{XFORMS}}}model/{{{XFORMS}}}instance")
    data = instance[0] if instance is not None and len(instance) else None
    form_id = data.get("id", "") if data is not None else ""
    version = data.get("version", "") if data is not None else ""
    return form_id, version, title


def _entity_dataset(root: etree._Element) -> str | None:
    """The ``dataset`` of the entity declaration in the form's meta block, if any."""
    for element in root.iter(f"{{{XFORMS}}}entity", "entity"):
        dataset = element.get("dataset")
        if dataset:
            return dataset
    return None
