"""Permanent ids: the list of every id ever released, and aliases for renamed ones.

`catalog/released-ids.txt` holds one id a line, sorted (`#` starts a comment). An id on it
must stay resolvable for ever: either it is still an identity of the catalog, or
`catalog/aliases.txt` maps it (`old-id new-id`, one pair a line) to the identity that
replaced it. Both are plain text so that the catalog loader, which reads every
`catalog/*.yaml` as identities, never mistakes them for identity files.

`python -m matderiv.catalog.released` adds the catalog's current ids to the released list
(run it when a release is cut; ids are never removed from it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from matderiv.catalog.schema import ID_PATTERN
from matderiv.resources import CATALOG

RELEASED = CATALOG / "released-ids.txt"
ALIASES = CATALOG / "aliases.txt"
HEADER = """\
# Every identity id ever released, sorted, one a line. An id here must always resolve:
# it is still in the catalog, or catalog/aliases.txt maps it to its new id. Never delete
# a line; `python -m matderiv.catalog.released` adds the current ids when a release is cut.
"""


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            yield number, line


def read_released(path: Path = RELEASED) -> list[str]:
    ids = []
    for number, line in _lines(path):
        if not ID_PATTERN.fullmatch(line):
            raise ValueError(f"{path}:{number}: `{line}` is not an id")
        ids.append(line)
    return ids


def read_aliases(path: Path = ALIASES) -> dict[str, str]:
    """{old id: new id}; ValueError naming FILE:LINE for a malformed or repeated line."""
    aliases: dict[str, str] = {}
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not all(ID_PATTERN.fullmatch(p) for p in parts):
            raise ValueError(f"{path}:{number}: expected `old-id new-id`")
        if parts[0] in aliases:
            raise ValueError(f"{path}:{number}: `{parts[0]}` is aliased twice")
        aliases[parts[0]] = parts[1]
    return aliases


def resolve(id: str, ids, aliases: dict[str, str]) -> str | None:
    """The current id that `id` names (following chains of renames), or None."""
    seen = set()
    while id not in ids:
        if id in seen or id not in aliases:
            return None
        seen.add(id)
        id = aliases[id]
    return id


def problems(released, ids, aliases: dict[str, str]) -> list[str]:
    """Every way the permanent-id promise is broken, as messages."""
    ids = set(ids)
    found = [f"released id `{old}` is no longer in the catalog and has no alias"
             for old in released if resolve(old, ids, aliases) is None]
    for old, new in aliases.items():
        if old in ids:
            found.append(f"alias `{old}` is also a current id: an id never changes meaning")
        elif resolve(new, ids, aliases) is None:
            found.append(f"alias `{old}` -> `{new}`: `{new}` is not in the catalog")
    return found


def document_aliases(ids, path: Path = ALIASES) -> dict[str, str]:
    """{old id: current id} for the catalog document, only aliases that resolve."""
    aliases = read_aliases(path)
    resolved = {old: resolve(new, set(ids), aliases) for old, new in aliases.items()}
    return {old: new for old, new in sorted(resolved.items()) if new and old not in ids}


def write_released(ids, path: Path = RELEASED) -> None:
    """Add `ids` to the released list (existing entries are kept)."""
    everything = sorted(set(read_released(path)) | set(ids))
    path.write_text(HEADER + "".join(f"{i}\n" for i in everything), encoding="utf-8")


def main() -> int:
    from matderiv.catalog.load import ids_in

    ids = {i for i in ids_in(CATALOG) if ID_PATTERN.fullmatch(i)}
    before = set(read_released())
    write_released(ids)
    print(f"{len(ids - before)} ids added to {RELEASED.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
