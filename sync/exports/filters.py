"""OData ``$filter`` for exports: Central's system fields in SQL, and answer values (beyond Central).

Central filters on ``__system/submissionDate``, ``updatedAt``, ``submitterId``, ``reviewState`` and
``deviceId`` with comparisons, ``and``/``or``/``not`` and the date functions ``year()``, ``month()``,
``day()``, ``hour()``, ``minute()``, ``second()``, ``date()`` and ``now()``. Qingling also filters on
the answers themselves (``house_grade eq 'D'``, ``location/township eq '150121102'``), typed by the form's
binds. The expression is parsed with the ``odata-query`` grammar; each top-level ``and`` term that names
only system fields becomes SQL (so counting and paging stay in the database); whatever remains is
evaluated per row after the XML is read (docs/exports.md 3).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser
from sqlalchemy import ColumnElement, and_, extract, func, not_, or_

from sync.errors import BadRequest
from sync.exports.plan import Field, FormSchema

SYSTEM = ("submissionDate", "updatedAt", "submitterId", "reviewState", "deviceId", "submitterName")
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_PARTS = ("year", "month", "day", "hour", "minute", "second")


class FilterError(BadRequest):
    """Central answers an unparseable or unsupported ``$filter`` with 400.18 (it names the problem)."""

    code = "400.18"


@dataclass
class CompiledFilter:
    """What a ``$filter`` asks: SQL terms (on the system columns) and a per-row predicate for the rest."""

    sql: list[ColumnElement[bool]] = field(default_factory=list)
    residual: ast._Node | None = None
    schema: FormSchema | None = None

    @property
    def needs_answers(self) -> bool:
        return self.residual is not None

    def matches(self, system: Mapping[str, Any], answers: Callable[[Field], Any]) -> bool:
        if self.residual is None:
            return True
        return bool(_Evaluator(self.schema, system, answers).value(self.residual))


def parse_filter(
    text: str | None,
    schema: FormSchema | None,
    columns: Mapping[str, ColumnElement],
    *,
    system: tuple[str, ...] = SYSTEM,
    fields: Mapping[str, ColumnElement] | None = None,
) -> CompiledFilter:
    """``columns`` maps each system field to its SQL column; unknown fields and bad syntax are a 400.

    ``system`` names the ``__system/...`` fields a caller may name; ``fields`` maps plain field names
    to SQL columns (the entity feed's properties): with no ``schema``, every term must then become SQL."""
    if not text or not text.strip():
        return CompiledFilter(schema=schema)
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except (ODataException, Exception) as exc:  # the grammar raises its own and plain errors
        raise FilterError(f"The $filter could not be parsed: {exc}.") from None
    compiled = CompiledFilter(schema=schema)
    residual: list[ast._Node] = []
    sql = _Sql({**columns, **{f"/{name}": column for name, column in (fields or {}).items()}})
    for term in _conjuncts(tree):
        _check_names(term, schema, system, fields or {})
        try:
            compiled.sql.append(sql.bool(term))
        except _NotSql:
            if schema is None:
                raise FilterError("The $filter compares something this feed cannot filter on.") from None
            residual.append(term)
    for term in residual:
        compiled.residual = term if compiled.residual is None else ast.BoolOp(ast.And(), compiled.residual, term)
    return compiled


def _conjuncts(node: ast._Node) -> list[ast._Node]:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _path(node: ast._Node) -> tuple[str, ...] | None:
    if isinstance(node, ast.Identifier):
        return (*node.namespace, node.name)
    if isinstance(node, ast.Attribute):
        owner = _path(node.owner)
        return None if owner is None else (*owner, node.attr)
    return None


def resolve_field(schema: FormSchema, path: tuple[str, ...]) -> Field | None:
    """An answer by its OData path (``group/field``) or, when unique, its bare field name."""
    found = schema.find(path)
    if found is None and len(path) == 1:
        found = schema.leaf_by_name(path[0])
    return found if found is not None and found.is_leaf else None


def _check_names(
    node: ast._Node, schema: FormSchema | None, system: tuple[str, ...], fields: Mapping[str, ColumnElement]
) -> None:
    if isinstance(node, ast.Call):
        for arg in node.args:
            _check_names(arg, schema, system, fields)
        return
    path = _path(node)
    if path is not None:
        if path[0] == "__system":
            if len(path) != 2 or path[1] not in system:
                raise FilterError(f"The $filter names an unknown system field: {'/'.join(path)}.")
        elif path == ("__id",) or (len(path) == 1 and path[0] in fields):
            return
        elif schema is None or resolve_field(schema, path) is None:
            raise FilterError(f"The $filter names a field the form does not have: {'/'.join(path)}.")
        return
    for value in vars(node).values():
        if isinstance(value, ast._Node):
            _check_names(value, schema, system, fields)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast._Node):
                    _check_names(item, schema, system, fields)


class _NotSql(Exception):
    pass


def literal(node: ast._Node) -> Any:
    if isinstance(node, ast.Null):
        return None
    if isinstance(node, ast.Integer):
        return int(node.val)
    if isinstance(node, ast.Float):
        return float(node.val)
    if isinstance(node, ast.Boolean):
        return node.val.lower() == "true"
    if isinstance(node, ast.String):
        return node.val
    if isinstance(node, ast.DateTime):
        value = datetime.fromisoformat(node.val.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(node, ast.Date):
        return date.fromisoformat(node.val)
    raise FilterError(f"The $filter uses a value Qingling cannot compare: {node}.")


class _Sql:
    """System-field terms as SQL; anything else raises `_NotSql` and is evaluated per row instead."""

    def __init__(self, columns: Mapping[str, ColumnElement]) -> None:
        self.columns = columns

    def bool(self, node: ast._Node) -> ColumnElement[bool]:
        if isinstance(node, ast.BoolOp):
            combine = and_ if isinstance(node.op, ast.And) else or_
            return combine(self.bool(node.left), self.bool(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not_(self.bool(node.operand))
        if isinstance(node, ast.Compare) and type(node.comparator) in _COMPARE:
            left, right = self.value(node.left), self.value(node.right)
            compare = _COMPARE[type(node.comparator)]
            if right is None:
                return left.is_(None) if compare is operator.eq else left.is_not(None)
            return compare(left, right)
        raise _NotSql()

    def value(self, node: ast._Node) -> Any:
        path = _path(node)
        if path is not None:
            if path[0] == "__system" and len(path) == 2 and path[1] in self.columns:
                return self.columns[path[1]]
            if path == ("__id",) and "__id" in self.columns:
                return self.columns["__id"]
            if len(path) == 1 and f"/{path[0]}" in self.columns:
                return self.columns[f"/{path[0]}"]  # a field that is a column (`parse_filter`'s ``fields``)
            raise _NotSql()
        if isinstance(node, ast.Call):
            name = node.func.name.lower()
            if name in _PARTS and len(node.args) == 1:
                return extract(name, self.value(node.args[0]))
            if name == "date" and len(node.args) == 1:
                return func.date(self.value(node.args[0]))
            if name == "now" and not node.args:
                return datetime.now(UTC)
            raise _NotSql()
        value = literal(node)
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return value


class _Evaluator:
    """Evaluates a filter term on one row: system values and typed answers (None when empty)."""

    def __init__(self, schema: FormSchema | None, system: Mapping[str, Any], answers: Callable[[Field], Any]) -> None:
        self.schema = schema
        self.system = system
        self.answers = answers

    def value(self, node: ast._Node) -> Any:
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return bool(self.value(node.left)) and bool(self.value(node.right))
            return bool(self.value(node.left)) or bool(self.value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self.value(node.operand)
        if isinstance(node, ast.Compare):
            if isinstance(node.comparator, ast.In):
                left = self.value(node.left)
                options = node.right.val if isinstance(node.right, ast.List) else [node.right]
                return any(_equal(left, self.value(option)) for option in options)
            compare = _COMPARE.get(type(node.comparator))
            if compare is None:
                raise FilterError("The $filter uses an operator Qingling does not support.")
            left, right = self.value(node.left), self.value(node.right)
            if compare is operator.eq:
                return _equal(left, right)
            if compare is operator.ne:
                return not _equal(left, right)
            if left is None or right is None:
                return False
            left, right = _comparable(left, right)
            try:
                return compare(left, right)
            except TypeError:
                raise FilterError(f"The $filter compares values of different kinds ({left!r}, {right!r}).") from None
        path = _path(node)
        if path is not None:
            if path[0] == "__system":
                return self.system.get(path[1])
            if path == ("__id",):
                return self.system.get("__id")
            assert self.schema is not None
            found = resolve_field(self.schema, path)
            return None if found is None else self.answers(found)
        if isinstance(node, ast.Call):
            return self._call(node.func.name.lower(), [self.value(arg) for arg in node.args])
        if isinstance(node, ast.List):
            return [self.value(item) for item in node.val]
        return literal(node)

    def _call(self, name: str, args: list[Any]) -> Any:
        if name in _PARTS and len(args) == 1:
            return None if args[0] is None else getattr(args[0], name, None)
        if name == "date" and len(args) == 1:
            return args[0].date() if isinstance(args[0], datetime) else args[0]
        if name == "now" and not args:
            return datetime.now(UTC)
        if name in ("contains", "startswith", "endswith") and len(args) == 2:
            if args[0] is None or args[1] is None:
                return False
            text, part = str(args[0]), str(args[1])
            return {"contains": part in text, "startswith": text.startswith(part), "endswith": text.endswith(part)}[
                name
            ]
        if name in ("tolower", "toupper") and len(args) == 1:
            return None if args[0] is None else (str(args[0]).lower() if name == "tolower" else str(args[0]).upper())
        raise FilterError(f"The $filter uses a function Qingling does not support: {name}().")


def _equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    left, right = _comparable(left, right)
    return left == right


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers, a number against text as text (an answer typed as text, a code)."""
    if isinstance(left, datetime) and isinstance(right, datetime):
        return _aware(left), _aware(right)
    if isinstance(left, str) and isinstance(right, int | float) and not isinstance(right, bool):
        return left, _number_text(right)
    if isinstance(right, str) and isinstance(left, int | float) and not isinstance(left, bool):
        return _number_text(left), right
    return left, right


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
