"""Target expressions typed by users, parsed with a whitelist over ``ast``; never ``eval``."""

from __future__ import annotations

import ast
import keyword
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence

import sympy
import torch

from ..errors import NalmError
from .ranges import Range

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
}
MAX_LENGTH = 1000  # characters
MAX_NODES = 200
MAX_EXPONENT = 10.0
MAX_INPUTS = 10_000
_VARIABLE = re.compile(r"x(0|[1-9][0-9]*)")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}

Intervals = list[tuple[float, float]]


def _input_names(names: Sequence[str]) -> dict[str, int]:
    """Each input name's column; a name must be one the parser can read in a formula (an
    identifier, not a keyword, no look-alike characters) and be given once."""
    columns: dict[str, int] = {}
    if isinstance(names, (str, bytes)):
        raise NalmError(f"names must be a list of input names, not the string {names!r}")
    for i, name in enumerate(str(n) for n in names):
        plain = name.isidentifier() and unicodedata.normalize("NFKC", name) == name
        if not plain or keyword.iskeyword(name):
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise NalmError(
                f"input name {shown!r} cannot be used in a formula: name inputs with letters, "
                "digits and '_', not starting with a digit (e.g. 'V')"
            )
        if name in columns:
            raise NalmError(f"input name {name!r} is given twice; each input needs its own name")
        columns[name] = i
    return columns


class Expression:
    """A formula over inputs ``x0, x1, …``: numbers, ``+ - * / **``, ``sqrt abs exp log``.

    The text is parsed with :mod:`ast` and every node is checked against a whitelist, so nothing
    in it is ever executed. Exponents must be constant numbers with ``|p| ≤ 10``.

    Args:
        text: the formula, e.g. ``"x0 * x1"`` or ``"x0/4 + x1/2 + x2**2"``.
        names: the inputs' names in column order, when they are not ``x0, x1, …`` (e.g.
            ``["V", "R"]`` for ``"V / R"``): distinct identifiers.

    Raises:
        NalmError: syntax errors, unknown names or functions, unsupported syntax, overlong input,
            a name given twice or one that is not an identifier.

    Examples:
        >>> f = Expression("x0/4 + x1/2 + x2**2")
        >>> f.n_inputs
        3
        >>> f(torch.tensor([[4.0, 2.0, 3.0]]))
        tensor([11.])
    """

    def __init__(self, text: str, names: Sequence[str] | None = None) -> None:
        self._names = None if names is None else _input_names(names)
        if not isinstance(text, str):
            raise NalmError(
                f"the target expression must be text such as 'x0 + x1'; got {type(text).__name__}"
            )
        if not text.strip():
            raise NalmError("the target expression is empty; write one such as 'x0 + x1'")
        if len(text) > MAX_LENGTH:
            raise NalmError(f"the target expression is longer than {MAX_LENGTH} characters")
        for char in text:
            # Python folds look-alikes (fullwidth 'ｘ', ligatures, superscripts) into plain letters
            # and digits inside names; refuse them, as '×' is refused, instead of guessing.
            plain = unicodedata.normalize("NFKC", char)
            if plain != char:
                raise NalmError(
                    f"target {text!r} contains {char!r} (U+{ord(char):04X}), a look-alike of "
                    f"{plain!r}; type {plain!r} instead"
                )
        try:
            with warnings.catch_warnings():  # e.g. "invalid decimal literal" for '1x0'
                warnings.simplefilter("ignore", SyntaxWarning)
                tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            where = f" at column {e.offset}" if e.offset else ""
            raise NalmError(f"target {text!r} is not a valid expression ({e.msg}{where})") from None
        self.text = text.strip()
        self._tree = tree.body
        nodes = list(ast.walk(self._tree))
        if len(nodes) > MAX_NODES:
            raise NalmError(f"target {text!r} has more than {MAX_NODES} terms")
        self._variables: set[int] = set()
        self._check(self._tree)
        if not self._variables:
            raise NalmError(f"target {text!r} uses no input; name inputs x0, x1, ...")

    # -- validation --------------------------------------------------------------------------
    def _fail(self, why: str) -> None:
        raise NalmError(f"target {self.text!r}: {why}")

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left)
            if isinstance(node.op, ast.Pow):
                p = self._constant(node.right)
                if p is None:
                    self._fail(f"the exponent {ast.unparse(node.right)!r} must be a number")
                if not abs(p) <= MAX_EXPONENT:
                    self._fail(
                        f"the exponent {p:g} is outside [-{MAX_EXPONENT:g}, {MAX_EXPONENT:g}]"
                    )
            else:
                self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self._check(node.operand)
        elif isinstance(node, ast.Constant):
            if _number(node.value) is None:
                shown = repr(node.value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                self._fail(f"{shown} is not a finite real number")
        elif isinstance(node, ast.Name):
            if self._names is not None:
                if node.id not in self._names:
                    self._fail(f"unknown name {node.id!r}; inputs are {', '.join(self._names)}")
                self._variables.add(self._names[node.id])
                return
            match = _VARIABLE.fullmatch(node.id)
            if match is None:
                self._fail(f"unknown name {node.id!r}; inputs are named x0, x1, x2, ...")
            index = int(match.group(1))
            if index >= MAX_INPUTS:
                self._fail(f"input {node.id} is beyond the limit of {MAX_INPUTS} inputs")
            self._variables.add(index)
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            if name not in FUNCTIONS:
                self._fail(f"unknown function {name!r}; allowed: {', '.join(FUNCTIONS)}")
            if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
                self._fail(f"{name}() takes exactly one argument")
            self._check(node.args[0])
        else:
            what = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            self._fail(
                f"{what!r} is not allowed; use numbers, x0, x1, ..., + - * / **, "
                f"and {', '.join(FUNCTIONS)}"
            )

    def _constant(self, node: ast.AST) -> float | None:
        """The value of a variable-free numeric subtree (e.g. ``-1`` or ``1/2``), else ``None``."""
        if isinstance(node, ast.Constant):
            return _number(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self._constant(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            a, b = self._constant(node.left), self._constant(node.right)
            if a is None or b is None:
                return None
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b if b != 0 else None
        return None

    def _index(self, name: str) -> int:
        return int(name[1:]) if self._names is None else self._names[name]

    # -- public ------------------------------------------------------------------------------
    @property
    def variables(self) -> list[int]:
        """Indices of the inputs the formula uses, sorted."""
        return sorted(self._variables)

    @property
    def n_inputs(self) -> int:
        """``1 +`` the largest input index used (``x2`` alone needs 3 inputs)."""
        return max(self._variables) + 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate on ``x`` of shape ``(*, n)`` with ``n ≥ n_inputs``; returns shape ``(*)``."""
        if x.shape[-1] < self.n_inputs:
            raise NalmError(f"target {self.text!r} needs {self.n_inputs} inputs; got {x.shape[-1]}")
        return self._eval(self._tree, x)

    def _eval(self, node: ast.AST, x: torch.Tensor) -> torch.Tensor | float:
        return self._fold(
            node,
            number=float,
            name=lambda n: x[..., self._index(n)],
            call=lambda f, v: FUNCTIONS[f](torch.as_tensor(v, dtype=x.dtype)),
        )

    def to_sympy(self, symbols: Mapping[str, sympy.Expr] | None = None) -> sympy.Expr:
        """The formula as a sympy expression, built node by node (never through ``sympify``).

        ``symbols`` maps input names to sympy symbols (default: plain symbols of those names).

        Examples:
            >>> Expression("x0/4 + sqrt(x1)**2").to_sympy()
            x0/4 + x1
        """
        table = dict(symbols or {})
        functions = {"sqrt": sympy.sqrt, "abs": sympy.Abs, "exp": sympy.exp, "log": sympy.log}
        return self._fold(
            self._tree,
            number=lambda v: sympy.Rational(repr(v)),  # exact: 0.5 → 1/2
            name=lambda n: table.setdefault(n, sympy.Symbol(n)),
            call=lambda f, v: functions[f](v),
        )

    def _fold(
        self,
        node: ast.AST,
        number: Callable[[float], object],
        name: Callable[[str], object],
        call: Callable[[str, object], object],
    ) -> object:
        """Evaluate the checked tree with the given leaves; ``+ − × ÷ **`` are Python's own."""

        def walk(node: ast.AST) -> object:
            if isinstance(node, ast.Constant):
                return number(node.value)
            if isinstance(node, ast.Name):
                return name(node.id)
            if isinstance(node, ast.UnaryOp):
                v = walk(node.operand)
                return -v if isinstance(node.op, ast.USub) else v
            if isinstance(node, ast.Call):
                return call(node.func.id, walk(node.args[0]))
            a = walk(node.left)
            if isinstance(node.op, ast.Pow):
                return a ** number(self._constant(node.right))
            b = walk(node.right)
            op = type(node.op)
            if op is ast.Add:
                return a + b
            if op is ast.Sub:
                return a - b
            if op is ast.Mult:
                return a * b
            return a / b

        return walk(node)

    def check_domain(self, ranges: Range | Iterable[Range], what: str = "input") -> Intervals:
        """Raise if the formula is undefined somewhere on the given input range(s).

        Every input takes values in ``ranges`` (one range for all inputs, or one per input).
        Interval arithmetic over the union finds a divisor that can be 0, a ``sqrt`` or a
        fractional power of something that can be negative, and a ``log`` of something that can be
        ≤ 0. The analysis is conservative: it treats repeated inputs as independent.

        Returns:
            The intervals that contain every value of the formula on those ranges (an end is
            ``±inf`` or NaN where float64 overflows).
        """
        if isinstance(ranges, Range):
            per_input = {i: ranges for i in self._variables}
        else:
            listed = list(ranges)
            if len(listed) < self.n_inputs:
                raise NalmError(
                    f"target {self.text!r} needs {self.n_inputs} input ranges; got {len(listed)}"
                )
            per_input = dict(enumerate(listed))
        return self._interval(self._tree, per_input, what)

    def _interval(self, node: ast.AST, ranges: dict[int, Range], what: str) -> Intervals:
        if isinstance(node, ast.Constant):
            return [(float(node.value), float(node.value))]
        if isinstance(node, ast.Name):
            return list(ranges[self._index(node.id)].intervals)
        text = ast.unparse(node) if isinstance(node, ast.expr) else ""

        def undefined(problem: str) -> None:
            r = sorted({str(r) for r in ranges.values()})
            raise NalmError(
                f"target {self.text!r} is undefined on the {what} range {' / '.join(r)}: {problem}"
            )

        if isinstance(node, ast.UnaryOp):
            v = self._interval(node.operand, ranges, what)
            return v if isinstance(node.op, ast.UAdd) else [(-hi, -lo) for lo, hi in v]
        if isinstance(node, ast.Call):
            v = self._interval(node.args[0], ranges, what)
            name = node.func.id
            if name == "sqrt" and min(lo for lo, _ in v) < 0:
                undefined(f"{ast.unparse(node.args[0])!r} inside {text!r} can be negative")
            if name == "log" and min(lo for lo, _ in v) <= 0:
                undefined(f"{ast.unparse(node.args[0])!r} inside {text!r} can be 0 or negative")
            return _merge([_monotone(name, lo, hi) for lo, hi in v])
        left = self._interval(node.left, ranges, what)
        if isinstance(node.op, ast.Pow):
            p = self._constant(node.right)
            if p < 0 and any(lo <= 0 <= hi for lo, hi in left):
                undefined(f"the base of {text!r} can be 0, and a negative power divides by it")
            if p != int(p) and min(lo for lo, _ in left) < 0:
                undefined(f"the base of {text!r} can be negative under a fractional power")
            return _merge([_power(lo, hi, p) for lo, hi in left])
        right = self._interval(node.right, ranges, what)
        if isinstance(node.op, ast.Div):
            if any(lo <= 0 <= hi for lo, hi in right):
                undefined(f"the divisor {ast.unparse(node.right)!r} can be 0")
            right = [(1 / hi, 1 / lo) for lo, hi in right]
        out = []
        for a_lo, a_hi in left:
            for b_lo, b_hi in right:
                if isinstance(node.op, ast.Add):
                    out.append((a_lo + b_lo, a_hi + b_hi))
                elif isinstance(node.op, ast.Sub):
                    out.append((a_lo - b_hi, a_hi - b_lo))
                else:
                    products = [_mul(a, b) for a in (a_lo, a_hi) for b in (b_lo, b_hi)]
                    out.append((min(products), max(products)))
        return _merge(out)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __str__(self) -> str:
        return self.text


def _number(value: object) -> float | None:
    """A finite float from a literal, or ``None`` (bools, strings, huge integers, inf, nan)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _mul(a: float, b: float) -> float:
    return 0.0 if a == 0 or b == 0 else a * b  # avoids inf * 0 = nan


def _monotone(name: str, lo: float, hi: float) -> tuple[float, float]:
    if name == "abs":
        low = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
        return (low, max(abs(lo), abs(hi)))
    f = {"sqrt": math.sqrt, "log": math.log, "exp": _exp}[name]
    return (f(lo), f(hi))


def _exp(v: float) -> float:
    return math.inf if v > 700 else math.exp(v)


def _power(lo: float, hi: float, p: float) -> tuple[float, float]:
    def pw(v: float) -> float:
        try:
            return float(v**p)
        except OverflowError:
            return math.inf if v > 0 or p % 2 == 0 else -math.inf

    values = [pw(lo), pw(hi)]
    if lo < 0 < hi and p > 0:
        values.append(0.0)
    return (min(values), max(values))


def _merge(intervals: Intervals, limit: int = 64) -> Intervals:
    """Sort and merge overlapping intervals; collapse to their hull past ``limit`` pieces."""
    merged: Intervals = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    if len(merged) > limit:
        merged = [(merged[0][0], max(hi for _, hi in merged))]
    return merged
