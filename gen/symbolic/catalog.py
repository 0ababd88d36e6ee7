"""The machine derivation of each catalog identity, for the catalog document (JSON) and
the site: the derived forms per layout, the steps, and whether the catalog's given forms
agree with them.

Each identity is derived once per build, and the result is cached by what the engine
reads (symbols, of, wrt) and the engine's own source, as gen/verify.py caches verdicts:
an unchanged identity is not derived again.

Agreement: a derived form is returned only once the verifier has verified it, and the
catalog's given forms have their own verdict. So a given form agrees with the derivation
when both are verified: both then equal the derivative the exact check computes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from matderiv.check.verify import read_cache_entry
from matderiv.lang.latex import Printer
from matderiv.symbolic.api import LAYOUT_ORDER, derive
from matderiv.symbolic.core import Refused

GIVEN_TO_DERIVED = {"numerator": "numerator", "denominator": "denominator", "vec": "vec",
                    "vec_denominator": "vec", "differential": "differential"}


def engine_fingerprint() -> str:
    """The verifier's fingerprint and the engine's source: a changed engine re-derives."""
    from matderiv.check.verify import fingerprint

    digest = hashlib.sha256(fingerprint().encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def derive_one(request: tuple) -> dict:
    """(id, title, symbols, of, wrt) -> the derivation, without `agrees` (it needs the
    catalog's verdict). Refused becomes a record that says why."""
    id_, title, symbols, of, wrt, *conditions = request  # conditions: format 1.2
    try:
        result = derive(of, wrt, symbols, id=id_, title=title,
                        conditions=conditions[0] if conditions else ())
    except Refused as exc:
        return {"status": "refused", "forms": {}, "steps": [], "guarantee": None,
                "reason": f"{exc.construct}: {exc.reason}"}
    tex = Printer(result.decls)
    forms = {name: {"text": result.forms[name], "latex": tex(result.trees[name])}
             for name in LAYOUT_ORDER if name in result.forms}
    return {"status": "derived", "forms": forms,
            "steps": [step.as_dict() for step in result.steps.steps],
            "guarantee": result.guarantee or None, "reason": None}


def agreement(derivation: dict, verdict) -> dict:
    """Per form the catalog gives: does it agree with the derivation (null: refused)."""
    out = {}
    for name, form in (verdict.forms or {}).items():
        if not form.get("given") or name not in GIVEN_TO_DERIVED:
            continue
        out[name] = None if derivation["status"] != "derived" else bool(
            form.get("ok") and verdict.status == "verified")
    return out


def _key(request: tuple, tool: str) -> str:
    _, _, symbols, of, wrt, *conditions = request
    text = json.dumps([tool, symbols, of, wrt] + [list(c) for c in conditions], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _valid(data, key: str) -> dict | None:
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    d = data.get("derivation")
    if not isinstance(d, dict) or set(d) != {"status", "forms", "steps", "guarantee",
                                             "reason"}:
        return None
    if d["status"] not in ("derived", "refused") or not isinstance(d["forms"], dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, dict) and set(v) == {"text", "latex"}
               and all(isinstance(x, str) for x in v.values()) for k, v in d["forms"].items()):
        return None
    if not isinstance(d["steps"], list) or not all(
            isinstance(s, dict) and set(s) == {"rule", "id", "text"}
            and isinstance(s["rule"], str) and isinstance(s["text"], str)
            and (s["id"] is None or isinstance(s["id"], str)) for s in d["steps"]):
        return None
    if not all(d[k] is None or isinstance(d[k], str) for k in ("guarantee", "reason")):
        return None
    return d


def _read(folder: Path, key: str) -> dict | None:
    data = read_cache_entry(folder / key[:2] / f"{key}.json")
    try:
        return _valid(data, key) if data is not None else None
    except (ValueError, TypeError):
        return None


def _write(folder: Path, key: str, derivation: dict) -> None:
    path = folder / key[:2] / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "derivation": derivation}))
        tmp.replace(path)
    except OSError:  # an unwritable cache only costs time
        return


def request(ident) -> tuple:
    """What a derivation depends on: (id, title, symbols, of, wrt), and the shape
    conditions when the identity states any (format 1.2)."""
    base = (ident.id, ident.title, dict(ident.symbols), ident.of, ident.wrt)
    return base + ((tuple(ident.conditions),) if ident.conditions else ())


def derive_all(identities, jobs: int = 0, use_cache: bool = True) -> list[dict]:
    """The derivation of each identity (without `agrees`), in order; cached ones read,
    the others derived in workers under the verifier's budget."""
    from matderiv.check.budget import Budget, run_in_workers
    from matderiv.check.verify import cache_dir

    tool = engine_fingerprint()
    folder = cache_dir() / "derivations"
    requests = [request(i) for i in identities]
    keys = [_key(r, tool) for r in requests]
    out: list = [None] * len(requests)
    todo = []
    for i, key in enumerate(keys):
        cached = _read(folder, key) if use_cache else None
        if cached is not None:
            out[i] = cached
        else:
            todo.append(i)
    jobs = jobs or os.cpu_count() or 1
    items = [requests[i] for i in todo]
    for index, kind, payload in run_in_workers(derive_one, items, Budget(), jobs):
        i = todo[index]
        if kind != "ok":
            payload = {"status": "refused", "forms": {}, "steps": [], "guarantee": None,
                       "reason": f"the engine stopped: {payload}"}
        else:
            _write(folder, keys[i], payload)
        out[i] = payload
    return out
