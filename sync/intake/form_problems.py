"""A refused or warned-about form as Central's JSON problem, with the same list the CLI prints.

Central answers 400.15 with ``details.error`` (the converter's text) and 400.16 with
``details.warnings.xlsFormWarnings``; both keep those keys here, so Central's clients read them, and add
``details.problems``: every ``{sheet, row, column, question, message, kind}`` (docs/forms.md §8).
"""

from __future__ import annotations

from forms.build import CompiledForm, FormBuildError
from sync.errors import FormInvalid, FormWarnings


def invalid(error: FormBuildError) -> FormInvalid:
    """The error with today's sentence as its message and every row involved in ``details.problems``."""
    return FormInvalid(
        str(error),
        error=str(error),
        problems=[problem.as_dict() for problem in error.problems],
    )


def warned(compiled: CompiledForm) -> FormWarnings:
    sentences = [problem.sentence(compiled.source.name) for problem in compiled.problems]
    return FormWarnings(
        None,
        warnings={"xlsFormWarnings": sentences, "workflowWarnings": []},
        problems=[problem.as_dict() for problem in compiled.problems],
    )
