"""The step log: the derivation as it happened, each step naming its rule and, where the
rule is a catalog identity, its id. Printable as text and as LaTeX."""

from __future__ import annotations

from dataclasses import dataclass, field

from matderiv.lang import expr as E
from matderiv.lang.latex import Printer


@dataclass(frozen=True)
class Step:
    rule: str  # the rule's name
    catalog_id: str | None
    text: str  # what was done, catalog syntax
    lhs: object = None  # trees for LaTeX (optional)
    rhs: object = None
    formula: str = ""

    def as_dict(self) -> dict:
        return {"rule": self.rule, "id": self.catalog_id, "text": self.text}


@dataclass
class StepLog:
    steps: list = field(default_factory=list)
    _seen: set = field(default_factory=set)

    def rule(self, rule, node, result) -> None:
        key = (rule.name, node)
        if key in self._seen:
            return
        self._seen.add(key)
        rhs = E.to_text(result) if result is not None else "0"
        self.steps.append(Step(rule.name, rule.catalog_id,
                               f"d({E.to_text(node)}) = {rhs}", node, result,
                               rule.formula))

    def note(self, rule: str, text: str, catalog_id: str | None = None, lhs=None,
             rhs=None) -> None:
        self.steps.append(Step(rule, catalog_id, text, lhs, rhs))

    def text(self) -> str:
        lines = []
        for i, s in enumerate(self.steps, 1):
            tag = f" [{s.catalog_id}]" if s.catalog_id else ""
            lines.append(f"{i}. {s.rule}{tag}: {s.text}")
        return "\n".join(lines)

    def latex(self, decls: dict) -> str:
        tex = Printer(decls)
        rows = []
        for s in self.steps:
            tag = rf"\texttt{{{_escape(s.catalog_id)}}}" if s.catalog_id else ""
            name = rf"\text{{{_escape(s.rule)}}}"
            if s.lhs is not None and s.rhs is not None:
                body = _tex(tex, s.lhs, s.rhs, s.rule)
            else:
                body = rf"\text{{{_escape(s.text)}}}"
            rows.append(rf"{name}\ {tag} &\quad {body}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _tex(tex: Printer, lhs, rhs, rule: str) -> str:
    try:
        left = tex(lhs)
        right = tex(rhs)
    except Exception:  # noqa: BLE001 - a step that cannot be typeset is shown as text
        return rf"\text{{{_escape(E.to_text(rhs))}}}"
    if rule.startswith(("layout", "identify", "simplify", "linearise")):
        return rf"{left} = {right}"
    return rf"\mathrm{{d}}\left({left}\right) = {right}"


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}",
                "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "~": r"\~{}"}


def _escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(c, c) for c in text)
