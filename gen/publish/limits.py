"""Every limit matderiv puts on its input and on the work one identity may cost, read from
the constants the code enforces, with the error code that reports it. The site's Limits
page is generated from here (gen/render/site.py), so it cannot drift from the code."""

from __future__ import annotations

from dataclasses import dataclass

from matderiv.catalog import load, schema
from matderiv.check import budget
from matderiv.errors import MAX_ECHO, MAX_MESSAGE, TRUNCATED
from matderiv.lang import expr, shapes

# forms.py checks symbol names against this length inline (not a named constant there)
SYMBOL_NAME_MAX = 24


@dataclass(frozen=True)
class Limit:
    what: str
    value: str
    code: str  # the error code reporting it ("" when nothing is refused)
    where: str  # the constant in the code


def _n(value: int) -> str:
    return f"{value:,}"


def limits() -> list[tuple[str, list[Limit]]]:
    """The limits by group, each with its value as the code has it now."""
    b = budget.Budget()
    return [
        ("Files", [
            Limit("size of one file", f"{_n(load.MAX_FILE_BYTES)} bytes (checked with stat "
                  "before reading; at most one byte more is ever read)", "E114",
                  "load.MAX_FILE_BYTES"),
            Limit("kind of file", "regular files only: a FIFO, a device, a folder named "
                  "`*.yaml` or a symbolic link (never followed) is refused", "E114",
                  "load.read_bounded"),
            Limit("encoding", "UTF-8", "E114", "load.read_yaml"),
            Limit("YAML values in one file (scalars, lists, mappings)",
                  _n(load.MAX_YAML_NODES), "E115", "load.MAX_YAML_NODES"),
            Limit("nesting of YAML lists and mappings", f"{load.MAX_YAML_DEPTH} levels",
                  "E115", "load.MAX_YAML_DEPTH"),
            Limit("a YAML integer", f"{_n(load.MAX_NUMBER_CHARS)} characters", "E116",
                  "load.MAX_NUMBER_CHARS"),
            Limit("text", "characters only: a lone surrogate (`\"\\ud800\"`) is refused",
                  "E117", "load._SURROGATE"),
            Limit("anchors, aliases, tags", "none allowed", "E113", "load._Loader"),
        ]),
        ("Identities", [
            Limit("length of an id", f"{schema.ID_MAX} characters", "E106", "schema.ID_MAX"),
            Limit("length of a symbol name", f"{SYMBOL_NAME_MAX} characters", "E121",
                  "forms._declarations"),
            Limit("a numeric size in a declaration (`vector 3`)",
                  f"1 to {shapes.MAX_INT_SIZE}", "E120", "shapes.MAX_INT_SIZE"),
            Limit("`sources.ref`", "a key of the catalog's bibliography or of a "
                  "`references.yaml` beside the file", "E118", "load.references_of"),
        ]),
        ("Expressions", [
            Limit("length", f"{_n(expr.MAX_LENGTH)} characters", "E205", "expr.MAX_LENGTH"),
            Limit("nesting of parentheses", f"{expr.MAX_PARENTHESES} levels", "E205",
                  "expr.MAX_PARENTHESES"),
            Limit("nodes of the parse tree", _n(expr.MAX_NODES), "E205", "expr.MAX_NODES"),
            Limit("depth of the parse tree", _n(expr.MAX_DEPTH), "E205", "expr.MAX_DEPTH"),
            Limit("a number literal", f"at most {_n(expr.MAX_LITERAL)} in size", "E206",
                  "expr.MAX_LITERAL"),
            Limit("an exponent", f"an integer or number within ±{expr.MAX_EXPONENT}; no power "
                  "inside an exponent, no power of a power of a power", "E206",
                  "expr.MAX_EXPONENT"),
        ]),
        ("Work per identity", [
            Limit("size names in one identity", str(budget.MAX_SIZE_NAMES), "E210",
                  "budget.MAX_SIZE_NAMES"),
            Limit("polynomial degree of an expression", _n(budget.MAX_POLYNOMIAL_DEGREE),
                  "E210", "budget.MAX_POLYNOMIAL_DEGREE"),
            Limit("entries of one intermediate array in the exact check",
                  _n(budget.MAX_DUAL_ENTRIES), "E210", "budget.MAX_DUAL_ENTRIES"),
            Limit("estimated operations of the exact check", _n(budget.MAX_DUAL_OPERATIONS),
                  "E210", "budget.MAX_DUAL_OPERATIONS"),
            Limit("CPU time", f"{b.cpu_seconds} s (`--cpu-seconds`)", "E211",
                  "budget.Budget.cpu_seconds"),
            Limit("memory", f"{_n(b.memory_mb)} MB (`--memory-mb`)", "E211",
                  "budget.Budget.memory_mb"),
            Limit("wall-clock time", f"{b.wall_seconds} s (`--wall-seconds`)", "E211",
                  "budget.Budget.wall_seconds"),
        ]),
        ("Messages", [
            Limit("user text quoted in a message",
                  f"{MAX_ECHO} characters, then `{TRUNCATED}`", "", "errors.MAX_ECHO"),
            Limit("one message", f"{_n(MAX_MESSAGE)} characters", "", "errors.MAX_MESSAGE"),
        ]),
    ]


def limits_markdown() -> str:
    """The Limits page (Markdown)."""
    out = [
        "# Limits",
        "",
        "A file given to `matderiv verify` is untrusted, so everything it can make the tool "
        "read, parse, compute or print is bounded. Exceeding a limit makes that identity "
        "(or, for a limit on the whole file, that file) **invalid** with the code below, "
        "reported as `FILE:LINE: CODE message` (line 1 for a problem of the whole file); "
        "every other identity of the run gets its normal verdict. The values are read from "
        "the code that enforces them when the site is built.",
        "",
    ]
    for group, items in limits():
        out += [f"## {group}", "", "| limit | value | code |", "|---|---|---|"]
        for item in items:
            code = f"[`{item.code}`](format-reference.md#error-codes)" if item.code else "—"
            out.append(f"| {item.what} | {item.value} | {code} |")
        out.append("")
    out += [
        "Control characters and ANSI escapes in anything a file makes matderiv print are "
        "written as escapes (`\\x1b`, `\\u2028`), in the text report and in `--json` alike.",
        "",
        "Budgets: before an identity is checked, a static estimate from its parse trees and "
        "the sizes the check will use refuses one that would cost too much (E210); while "
        "it is checked, a worker process of its own runs under the CPU, memory and "
        "wall-clock limits, and one that exceeds them or dies is E211. The flags of "
        "`matderiv verify` set the three budgets.",
        "",
    ]
    return "\n".join(out)
