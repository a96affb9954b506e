"""Fill compiled XForms with ODK's own form engine and read back what a phone would compute and send.

`@getodk/xforms-engine` (the engine of ODK Web Forms) runs headless under Node in `fill.mjs` beside this
file: it loads the form, takes answers in order, recomputes every calculation, relevance and constraint,
and serialises the submission exactly as its `prepareInstancePayload()` does. Tests use it to check that
what a form computes on the device agrees with the server's rules, and to produce realistic submission
XML (docs/testing-forms.md).

One Node process per Python process serves every fill (JSON lines over a pipe), so a test session pays
Node's and the engine's start-up once; a loaded form is cached in Node, so filling the same form again
costs only the answers.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import json
import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from tests.engine.node import REPO_ROOT, ensure_node_modules, node_tools

FILL_SCRIPT = Path(__file__).with_name("fill.mjs")
REQUEST_TIMEOUT_S = 120.0
STDERR_TAIL = 4000


class EngineError(RuntimeError):
    """The engine refused a request (bad answer, form that does not load) or Node failed.

    `stderr` holds the end of Node's standard error when the process itself failed.
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(f"{message}\n--- node stderr ---\n{stderr}" if stderr else message)
        self.stderr = stderr


@dataclass(frozen=True)
class FileAnswer:
    """A file given to an image/audio/file question, as the camera or file picker would."""

    name: str
    data: bytes
    media_type: str = "image/jpeg"


@dataclass(frozen=True)
class RepeatCount:
    """An answer step that sets how many instances a repeat has (the user adding or removing them)."""

    path: str
    count: int


AnswerValue = str | int | float | Decimal | bool | dt.date | Sequence[str] | FileAnswer | None
AnswerStep = tuple[str, AnswerValue] | RepeatCount
Answers = Mapping[str, AnswerValue] | Iterable[AnswerStep]


@dataclass(frozen=True)
class Violation:
    """A constraint or required rule the current answers break."""

    path: str
    condition: str  # "constraint" or "required"
    message: str | None


@dataclass(frozen=True)
class NodeState:
    """One node of the filled instance as the engine sees it."""

    path: str
    name: str
    type: str  # engine node type: input, select, model-value, group, repeat-instance, ...
    value_type: str | None  # XForms bind type: string, int, decimal, date...
    value: str | None  # text stored in the instance; None for groups and repeats
    relevant: bool
    required: bool
    readonly: bool
    violation: Violation | None


@dataclass(frozen=True)
class FilledForm:
    """What the engine computed after all answers, and the submission it prepared."""

    values: dict[str, str]  # leaf path ("/data/member[2]/age") -> instance text
    nodes: dict[str, NodeState]
    errors: list[Violation]
    submission_xml: bytes
    instance_id: str
    submission_files: dict[str, bytes] = field(default_factory=dict)
    payload_status: str = "ready"

    @property
    def valid(self) -> bool:
        """True when no constraint or required rule is broken (the phone would let the user finish)."""
        return not self.errors

    def node(self, ref: str) -> NodeState:
        """The node at a full path, or the only node with that field name."""
        if ref in self.nodes:
            return self.nodes[ref]
        matches = [state for state in self.nodes.values() if state.name == ref]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise KeyError(f"the filled form has no node {ref!r}")
        raise KeyError(f"{ref!r} names several nodes: {', '.join(m.path for m in matches)}")

    def value(self, ref: str) -> str:
        """Instance text of a field by path or unique name ('' when blank)."""
        state = self.node(ref)
        if state.value is None:
            raise KeyError(f"{state.path} is a {state.type}, which has no value")
        return state.value

    def is_relevant(self, ref: str) -> bool:
        """Whether the form shows (and submits) this node."""
        return self.node(ref).relevant

    def violation(self, ref: str) -> Violation | None:
        """The constraint or required rule this field breaks, if any."""
        return self.node(ref).violation


@dataclass(frozen=True)
class FillRequest:
    """One fill: the compiled form, its media, and the answers in the order a user gives them."""

    xform: Any  # bytes/str XForm XML, or an object with an `xml` attribute (forms.build.CompiledForm)
    answers: Answers = ()
    repeats: Mapping[str, int] | None = None
    attachments: Mapping[str, bytes | str | Path] | None = None
    allow_irrelevant: bool = False
    preload: Mapping[str, str] | None = None


def _xform_text(xform: Any) -> str:
    xml = getattr(xform, "xml", xform)
    if isinstance(xml, bytes):
        return xml.decode("utf-8")
    if isinstance(xml, str):
        return xml
    raise TypeError(f"xform must be XML bytes/str or have an .xml attribute, not {type(xform).__name__}")


def _value_json(value: AnswerValue) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Sequence):
        return [str(item) for item in value]
    raise TypeError(f"cannot answer with a {type(value).__name__}")


def _step_json(step: AnswerStep) -> dict[str, Any]:
    if isinstance(step, RepeatCount):
        return {"repeat": step.path, "count": step.count}
    path, value = step
    if isinstance(value, FileAnswer):
        data = base64.b64encode(value.data).decode("ascii")
        return {"path": path, "file": {"name": value.name, "base64": data, "type": value.media_type}}
    return {"path": path, "value": _value_json(value)}


def _attachment_json(data: bytes | str | Path) -> dict[str, str]:
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        return {"text": data}
    return {"base64": base64.b64encode(data).decode("ascii")}


def request_json(request: FillRequest) -> dict[str, Any]:
    """The JSON request fill.mjs reads for one fill."""
    answers = request.answers
    steps = answers.items() if isinstance(answers, Mapping) else answers
    return {
        "xform": _xform_text(request.xform),
        "answers": [_step_json(step) for step in steps],
        "repeats": dict(request.repeats or {}),
        "attachments": {name: _attachment_json(data) for name, data in (request.attachments or {}).items()},
        "allow_irrelevant": request.allow_irrelevant,
        "preload": dict(request.preload or {}),
    }


def _violation(raw: Mapping[str, Any] | None, path: str) -> Violation | None:
    if raw is None:
        return None
    return Violation(path=path, condition=raw["condition"], message=raw["message"])


def filled_form(response: Mapping[str, Any]) -> FilledForm:
    """Turn fill.mjs's JSON response into a FilledForm (raises EngineError for a refused request)."""
    if not response.get("ok"):
        stack = response.get("stack")
        raise EngineError(f"form engine: {response.get('error')}" + (f"\n{stack}" if stack else ""))
    nodes = {}
    for raw in response["nodes"]:
        path = raw["path"]
        nodes[path] = NodeState(
            path=path,
            name=raw["name"],
            type=raw["type"],
            value_type=raw["value_type"],
            value=raw["value"],
            relevant=raw["relevant"],
            required=raw["required"],
            readonly=raw["readonly"],
            violation=_violation(raw["violation"], path),
        )
    return FilledForm(
        values={path: state.value for path, state in nodes.items() if state.value is not None},
        nodes=nodes,
        errors=[Violation(v["path"], v["condition"], v["message"]) for v in response["violations"]],
        submission_xml=response["submission_xml"].encode("utf-8"),
        instance_id=response["instance_id"] or "",
        submission_files={
            name: base64.b64decode(data) for name, data in response["submission_files"].items()
        },
        payload_status=response["payload_status"],
    )


class EngineProcess:
    """A Node process running `fill.mjs --lines`: one JSON request per line in, one response per line out.

    A reader thread drains stdout into a queue, so neither side can block the other on a full pipe, and a
    request that takes too long kills the process instead of hanging the test run. Node's stderr goes to a
    temporary file so error reports can quote it.
    """

    def __init__(self, timeout: float = REQUEST_TIMEOUT_S, script: Path = FILL_SCRIPT) -> None:
        ensure_node_modules()
        self.timeout = timeout
        # Closed in close(): it lives as long as the process it records.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [*node_tools().node, str(script), "--lines"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._lock = threading.Lock()
        self._closed = False

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")  # end of output: Node exited

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _stderr_tail(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-STDERR_TAIL:]

    def _fail(self, message: str) -> EngineError:
        """Stop Node at once and build the error to raise, quoting what Node wrote to stderr."""
        if self.alive:
            self._proc.kill()
        code = self._proc.wait()
        error = EngineError(f"{message} (node exit code {code})", self._stderr_tail())
        self.close()
        return error

    def run(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Send requests and return their responses in order (engine refusals are responses, not errors)."""
        with self._lock:
            if self._closed:
                raise EngineError("this engine process was closed")
            assert self._proc.stdin is not None
            try:
                for request in requests:
                    self._proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
                self._proc.stdin.flush()
            except OSError as error:
                raise self._fail(f"node stopped taking requests: {error}") from error
            responses = []
            for _ in requests:
                try:
                    line = self._lines.get(timeout=self.timeout)
                except queue.Empty:
                    raise self._fail(f"form engine gave no answer within {self.timeout:.0f} s") from None
                if not line:
                    raise self._fail("node exited while filling a form")
                responses.append(json.loads(line))
            return responses

    def close(self) -> None:
        """Stop Node: close its input and wait, killing it if it does not exit."""
        if self._closed:
            return
        self._closed = True
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        # The reader stops at end of output once Node has exited; only then is stdout safe to close.
        self._reader.join(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()


_process: EngineProcess | None = None
_process_lock = threading.Lock()


def engine_process() -> EngineProcess:
    """The shared Node process, started on first use and restarted if it died."""
    global _process
    with _process_lock:
        if _process is None or not _process.alive:
            _process = EngineProcess()
        return _process


@atexit.register
def _close_engine() -> None:
    if _process is not None:
        _process.close()


def fill_many(requests: Iterable[FillRequest]) -> list[FilledForm]:
    """Fill several forms in one round trip; raises EngineError for the first request the engine refused."""
    payloads = [request_json(request) for request in requests]
    if not payloads:
        return []
    responses = engine_process().run(payloads)
    results = []
    for index, response in enumerate(responses):
        try:
            results.append(filled_form(response))
        except EngineError as error:
            raise EngineError(f"request {index}: {error}") from None
    return results


def fill_form(
    xform: Any,
    answers: Answers = (),
    *,
    repeats: Mapping[str, int] | None = None,
    attachments: Mapping[str, bytes | str | Path] | None = None,
    allow_irrelevant: bool = False,
    preload: Mapping[str, str] | None = None,
) -> FilledForm:
    """Fill one form as a user would and return what the engine computed and would submit.

    `answers` is a mapping or a sequence of `(ref, value)` pairs and `RepeatCount` steps, applied in order.
    A ref is a full path (`/data/member[2]/age`), a path below the root (`member[2]/age`) or a field name
    that occurs once. Values are text as typed (numbers are converted with `str`), a list of choice names
    for select_multiple, a `FileAnswer` for image questions, or None to clear. Answering a question the form
    hides at that point is an error unless `allow_irrelevant`; so is a choice the question does not offer.
    `repeats` sets instance counts before any answer (a path past the last instance also adds instances).
    `attachments` maps media file names (`households.csv`) to their content, as the form's manifest would.
    """
    request = FillRequest(
        xform=xform,
        answers=answers,
        repeats=repeats,
        attachments=attachments,
        allow_irrelevant=allow_irrelevant,
        preload=preload,
    )
    return fill_many([request])[0]
