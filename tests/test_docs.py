"""The repository stands on its own: every doc it cites is in `docs/`, and no path leads outside it.

Comments, docstrings, docs and data files cite the reference docs by path and section
(`docs/protocol.md §7.6`, `docs/domain.md §3.4`). A citation of a doc that is not in `docs/`, a doc
named without its folder, or a path that only exists on one machine leaves a reader of the repository
with nothing to open. The scan covers every file git tracks, plus new files not yet added.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Built from pieces so that this file does not match its own patterns.
FORBIDDEN = {
    "a sibling checkout (../" + "shared)": re.compile(re.escape("../" + "shared")),
    # An absolute path, not a package folder such as `sync/jobs/`.
    "a folder of one machine (/" + "work/)": re.compile(r"(?<![\w.-])" + re.escape("/" + "work/")),
}
# `docs/<name>.md` as a path of its own (not `tests/data/docs/<name>.md`).
DOC_PATH = re.compile(r"(?<![\w./-])docs/([\w.-]+\.md)\b")
# `ROOT / "docs" / "<name>.md"` in Python.
DOC_JOIN = re.compile(r"""["']docs["']\s*/\s*["']([\w.-]+\.md)["']""")
# A Markdown link target, resolved against the linking file's folder.
MD_LINK = re.compile(r"\]\(\s*([^)\s#]+\.md)(?:#[^)\s]*)?\s*\)")
# A doc named without any folder in prose, as in "see <name>.md §3"; quoted names and link targets are
# paths, not citations.
BARE_NAME = re.compile(r"(?<![\w./\\'\"`-])(?<!\]\()([\w-]+\.md)\b")


@cache
def repository_files() -> tuple[str, ...]:
    """Tracked files and untracked files git does not ignore, relative to the repository root."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    names = sorted({name for name in out.decode("utf-8", "surrogateescape").split("\0") if name})
    return tuple(name for name in names if (ROOT / name).is_file())


@cache
def text_of(name: str) -> str | None:
    """A file's text, or None for a binary file (NUL bytes in it)."""
    data = (ROOT / name).read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", "replace")


def lines_matching(pattern: re.Pattern[str]) -> list[tuple[str, int, re.Match[str]]]:
    """Every match of `pattern` in the repository's text files, as (file, line number, match)."""
    found = []
    for name in repository_files():
        text = text_of(name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            found.extend((name, number, match) for match in pattern.finditer(line))
    return found


def test_cited_docs_exist() -> None:
    missing = [
        f"{name}:{number}: cites docs/{match.group(1)}, which is not in docs/"
        for pattern in (DOC_PATH, DOC_JOIN)
        for name, number, match in lines_matching(pattern)
        if not (DOCS / match.group(1)).is_file()
    ]
    assert not missing, "\n".join(missing)


def test_markdown_links_to_docs_resolve() -> None:
    broken = []
    for name, number, match in lines_matching(MD_LINK):
        target = match.group(1)
        if not name.endswith(".md") or "://" in target:
            continue
        if not ((ROOT / name).parent / target).is_file():
            broken.append(f"{name}:{number}: links to {target}, which does not exist")
    assert not broken, "\n".join(broken)


def test_docs_are_named_with_their_folder() -> None:
    doc_names = {path.name for path in DOCS.glob("*.md")}
    root_files = {name for name in repository_files() if "/" not in name}
    known = {Path(name).name for name in repository_files()}
    bad = []
    for name, number, match in lines_matching(BARE_NAME):
        cited = match.group(1)
        if cited in doc_names and cited not in root_files:
            bad.append(f"{name}:{number}: write docs/{cited}, so a reader can find it")
        elif cited not in known:
            bad.append(f"{name}:{number}: cites {cited}, which is not in the repository")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_path_leads_outside_the_repository(what: str) -> None:
    found = [f"{name}:{number}: names {what}" for name, number, _ in lines_matching(FORBIDDEN[what])]
    assert not found, "\n".join(found)
