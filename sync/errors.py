"""Typed problems with stable codes; only the HTTP layer decides how they are rendered.

Where we copy ODK Central's behaviour we reuse its problem numbers (docs/protocol.md §7.6), so a log line or a
client that knows Central's codes reads ours the same way.
"""

from __future__ import annotations


class Problem(Exception):
    """Base class: ``code`` is Central's problem code as text ("404.1", "400.10" stays itself); ``status`` is
    the HTTP status, the part before the dot."""

    code: str = "500.1"
    default_message = "Internal error."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details

    @property
    def status(self) -> int:
        return int(self.code.partition(".")[0])


class BadRequest(Problem):
    code = "400.1"
    default_message = "The request could not be understood."


class MissingHeader(Problem):
    code = "400.6"
    default_message = "An expected header field (X-OpenRosa-Version) did not match the expected format."


class MissingSubmissionFile(Problem):
    code = "400.7"
    default_message = "Required multipart POST field xml_submission_file missing."


class NotMultipart(Problem):
    code = "400.39"
    default_message = "Multipart form content failed to parse: a submission must be sent as multipart/form-data."


class InvalidXml(Problem):
    code = "400.2"
    default_message = "The submission is not well-formed XML."


class HostileXml(Problem):
    code = "400.2"
    default_message = "The submission XML contains a DOCTYPE or entity declarations, which are not accepted."


class MissingFormId(Problem):
    code = "400.2"
    default_message = "Required parameter form ID xml attribute missing."


class BadAttachmentName(Problem):
    code = "400.8"
    default_message = "An attachment's file name must be a plain file name, without folders or special characters."


class InvalidParameter(Problem):
    """Central's "invalid input data type" (e.g. ``$top=abc``)."""

    code = "400.11"
    default_message = "A parameter does not have the expected type."


class ValueTooLong(Problem):
    """Central's answer when a value is longer than its column (e.g. an instanceID)."""

    code = "400.13"
    default_message = "Length of value too long for a field."


class AuthenticationFailed(Problem):
    code = "401.2"
    default_message = "Could not authenticate with the provided credentials."


class HttpsOnly(Problem):
    code = "401.3"
    default_message = "This authentication method is only available over HTTPS."


class Forbidden(Problem):
    code = "403.1"
    default_message = "The authenticated actor does not have rights to perform that action."


class NotFound(Problem):
    code = "404.1"
    default_message = "Could not find the resource you were looking for."


class DeprecatedNotFound(Problem):
    code = "404.5"
    default_message = "You tried to update an existing submission, but we can't find that submission to update."


class FormVersionNotFound(Problem):
    code = "404.6"
    default_message = "The form version specified in this submission does not exist."


class SubmissionConflict(Problem):
    code = "409.1"
    default_message = (
        "A submission already exists with this ID, but with different XML. Resubmissions to attach additional "
        "multimedia must resubmit an identical xml_submission_file."
    )


class FormClosed(Problem):
    code = "409.2"
    default_message = (
        "This form is not currently accepting submissions. Please talk to your program staff if this is unexpected."
    )


class EditOutOfDate(Problem):
    code = "409.9"
    default_message = "You tried to update a submission, but the copy you were editing is now out of date."


class FormVersionConflict(Problem):
    code = "409.6"
    default_message = "A form version with this version string but different content is already published."


class TooManyAttempts(Problem):
    code = "429.1"
    default_message = "Too many refused sign-ins; wait a quarter of an hour and try again."


class TooLarge(Problem):
    code = "413.1"
    default_message = "The submission is too large."


class StorageUnavailable(Problem):
    code = "503.1"
    default_message = "Photo storage is unavailable right now; nothing was saved. Please send again later."


class StateConflict(Problem):
    """A ledger action that the item's state does not allow (assigning a closed item, approving one's own
    close request); not one of Central's codes."""

    code = "409.20"
    default_message = "The item is not in a state that allows this."


class FormInvalid(Problem):
    """Central's "XLSForm not valid"; ``details.problems`` lists each error on its row (forms/problems.py)."""

    code = "400.15"
    default_message = "The given XLSForm file was not valid. Please see the error details for more information."


class FormWarnings(Problem):
    """Central's "valid, but with warnings": resubmit with ``?ignoreWarnings=true`` to accept them."""

    code = "400.16"
    default_message = (
        "The Form is valid, but with warnings. Please check the warnings and if they are acceptable resubmit "
        "with ?ignoreWarnings=true"
    )
