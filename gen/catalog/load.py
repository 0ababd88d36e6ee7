"""YAML with line marks -> Identity records, reporting every problem, not only the first.

Only a SafeLoader subclass reads the text; anchors, aliases and explicit tags are refused
so that a catalog file cannot blow up in memory or smuggle in a Python object.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from matderiv.catalog import schema
from matderiv.errors import Problem, problem
from matderiv.resources import CATALOG

MAX_FILE_BYTES = 5_000_000
MAX_YAML_NODES = 100_000  # values (scalars, lists, mappings) in one file
MAX_YAML_DEPTH = 50  # lists and mappings nested in one another
MAX_NUMBER_CHARS = 1_000  # a YAML integer literal (Python refuses str() past 4,300 digits)
NOT_IDENTITIES = ("references.yaml", "gaps.yaml", "release.yaml", "released-ids.yaml")
CATALOG_REFERENCES = CATALOG / "references.yaml"
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Float(float):
    text = ""


class _Mapping(dict):
    """A YAML mapping that remembers the line of each key and of itself."""

    line: int
    key_lines: dict


class _Sequence(list):
    line: int
    item_lines: list


class _DuplicateKey(Exception):
    def __init__(self, key, line):
        self.key, self.line = key, line


class _Refused(Exception):
    """A YAML value beyond a limit or not representable: one problem at its line."""

    def __init__(self, code: str, line: int, **fields):
        self.code, self.line, self.fields = code, line, fields


class _Loader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        line = self.peek_event().start_mark.line + 1
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise _Refused("E115", line, detail=f"more than {MAX_YAML_NODES} values")
        if self._depth >= MAX_YAML_DEPTH:
            raise _Refused("E115", line, detail=f"nested deeper than {MAX_YAML_DEPTH} levels")
        self._depth += 1
        try:
            return self._compose_node(parent, index)
        finally:
            self._depth -= 1

    def _compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.MarkedYAMLError(
                "while composing", None, "aliases are not allowed", self.peek_event().start_mark
            )
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", True)
        explicit_tag = tag is not None and tag != "!" and not (
            implicit is True or (isinstance(implicit, tuple) and any(implicit))
        )
        if anchor is not None or explicit_tag:
            raise yaml.MarkedYAMLError(
                "while composing", None, "anchors and tags are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_object(self, node, deep=False):
        """Any failure to build a value (a date such as 2024-13-01, an integer too long
        to print) is a problem at that value's line, never a traceback."""
        try:
            return super().construct_object(node, deep)
        except (_Refused, _DuplicateKey, yaml.YAMLError):
            raise
        except (ValueError, OverflowError, TypeError, ArithmeticError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({type(exc).__name__}: {exc})",
                node.start_mark) from None

    def construct_scalar(self, node):
        value = super().construct_scalar(node)
        if isinstance(value, str) and _SURROGATE.search(value):
            char = _SURROGATE.search(value).group(0)
            raise _Refused("E117", node.start_mark.line + 1,
                           detail=f"a lone surrogate U+{ord(char):04X}")
        return value

    def construct_yaml_float(self, node):
        """A float that keeps its digits: `0.30000000000000000000001` as an expression
        must reach the parser as written, not rounded to a binary float."""
        value = _Float(super().construct_yaml_float(node))
        value.text = str(node.value)
        return value

    def construct_yaml_int(self, node):
        text = str(node.value)
        if len(text) > MAX_NUMBER_CHARS:
            raise _Refused("E116", node.start_mark.line + 1, limit=MAX_NUMBER_CHARS)
        return super().construct_yaml_int(node)

    def construct_mapping(self, node, deep=False):
        result = _Mapping()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = value_node.start_mark.line + 1
        return result

    def construct_sequence(self, node, deep=False):
        result = _Sequence(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


@dataclass
class Identity:
    """One identity as written, with the line of every key for messages."""

    id: str
    title: str
    symbols: dict[str, str]
    of: str
    wrt: str
    derivative: dict[str, str]
    differential: str | None
    tags: list[str]
    sources: list[dict]
    notes: str | None
    see_also: list[str]
    status: str | None
    corrected_by: str | None
    file: str
    line: int
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    hessian: str | None = None  # format 1.2
    conditions: list[str] = field(default_factory=list)  # format 1.2

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def content(self) -> dict:
        """What the identity says, without positions: the cache key and the export."""
        return {
            "id": self.id, "title": self.title, "symbols": self.symbols, "of": self.of,
            "wrt": self.wrt, "derivative": self.derivative, "differential": self.differential,
            "status": self.status,
        } | ({"hessian": self.hessian} if self.hessian is not None else {}) | (
            {"conditions": self.conditions} if self.conditions else {})


class _Unreadable(Exception):
    pass


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or _Unreadable.

    A symbolic link is not followed (O_NOFOLLOW), a FIFO does not block the open
    (O_NONBLOCK), anything but a regular file (a device such as /dev/zero, a FIFO, a
    folder) is refused by fstat before a byte is read, the size is checked with fstat,
    and at most limit + 1 bytes are ever read, in case the file grows meanwhile.
    """
    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _Unreadable("a symbolic link, which is not followed: give its target")
        fd = os.open(path, flags)
    except OSError as exc:
        raise _Unreadable(exc.strerror or type(exc).__name__) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise _Unreadable(f"larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _Unreadable(f"larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise _Unreadable(exc.strerror or type(exc).__name__) from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a plain file"


def read_yaml(path: Path) -> tuple[object, list[Problem]]:
    """Parse one YAML file; problems instead of exceptions."""
    name = str(path)
    try:
        data = read_bounded(path)
    except _Unreadable as exc:
        return None, [problem("E114", name, 1, detail=str(exc))]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [problem("E114", name, 1, detail=f"not UTF-8 ({exc.reason})")]
    try:
        return yaml.load(text, Loader=_Loader), []  # noqa: S506 - _Loader is a SafeLoader
    except _Refused as exc:
        return None, [problem(exc.code, name, exc.line, **exc.fields)]
    except _DuplicateKey as exc:
        return None, [problem("E108", name, exc.line, key=exc.key)]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        code = "E113" if "not allowed" in str(exc.problem) else "E100"
        return None, [problem(code, name, line, detail=exc.problem)]
    except (yaml.YAMLError, RecursionError) as exc:
        return None, [problem("E100", name, 1, detail=str(exc).splitlines()[0][:200])]


def load_file(path: Path, several_wrt: bool = False) -> tuple[list[Identity], list[Problem]]:
    """Identities of one file, plus the problems that belong to no identity.
    `several_wrt` (a `derive` input, format 1.1): `wrt` may be a list of names, read as
    one text with the names joined by commas."""
    try:
        return _load_file(path, several_wrt)
    except (RecursionError, MemoryError) as exc:  # the limits above should prevent these
        return [], [problem("E115", str(path), 1, detail=type(exc).__name__)]
    except Exception as exc:  # noqa: BLE001 - untrusted input: a problem, never a traceback
        return [], [problem("E114", str(path), 1, detail=f"unexpected {type(exc).__name__}")]


def _load_file(path: Path, several_wrt: bool = False) -> tuple[list[Identity], list[Problem]]:
    data, problems = read_yaml(path)
    name = str(path)
    if problems:
        return [], problems
    if not isinstance(data, dict) or set(data) != {"identities"} or not isinstance(
        data["identities"], list
    ):
        return [], [problem("E101", name, getattr(data, "line", 1))]
    items = data["identities"]
    identities = [_identity(item, name, line, several_wrt)
                  for item, line in zip(items, items.item_lines)]
    return identities, []


def _identity(item, file: str, line: int, several_wrt: bool = False) -> Identity:
    if not isinstance(item, dict):
        ident = _empty(file, line)
        ident.problems.append(problem("E102", file, line, kind=type(item).__name__))
        return ident
    checker = _Checker(item, file)
    wrt = item.get("wrt")
    if several_wrt and isinstance(wrt, list) and wrt:
        wrt = ",".join(checker.text_list("wrt"))
    else:
        wrt = checker.text("wrt")
    ident = Identity(
        id=checker.text("id"), title=checker.text("title"),
        symbols=checker.symbols(), of=checker.expr("of"), wrt=wrt,
        derivative=checker.derivative(), differential=checker.expr("differential"),
        tags=checker.text_list("tags"), sources=checker.sources(),
        notes=checker.text("notes"), see_also=checker.text_list("see_also"),
        status=checker.text("status"), corrected_by=checker.text("corrected_by"),
        file=file, line=item.line, lines=checker.lines,
        hessian=checker.expr("hessian"), conditions=checker.text_list("conditions"),
    )
    checker.finish(ident)
    ident.problems = checker.problems
    return ident


def _empty(file: str, line: int) -> Identity:
    return Identity("", "", {}, "", "", {}, None, [], [], None, [], None, None, file, line)


class _Checker:
    """Reads one identity mapping key by key, collecting every schema problem."""

    def __init__(self, item: _Mapping, file: str):
        self.item, self.file = item, file
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        for key, line in item.key_lines.items():
            self.lines[key] = line
            if schema.identity_key(key) is None:
                self._add("E103", line, key=key, hint=_hint(key, schema.IDENTITY_KEYS))
        for key in schema.IDENTITY_KEYS:
            if key.required and key.name not in item:
                self._add("E104", item.line, key=key.name)

    def _add(self, code, line, **fields):
        self.problems.append(problem(code, self.file, line, **fields))

    def _line(self, key):
        return self.lines.get(key, self.item.line)

    def text(self, key: str) -> str | None:
        value = self.item.get(key)
        if value is None:
            return None if key not in self.item or not schema.identity_key(key).required else ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self._add("E105", self._line(key), key=key, expected="a text")
            return ""
        return str(value)

    def expr(self, key: str, source=None, line=None) -> str | None:
        source = self.item if source is None else source
        value = source.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self._add("E105", line or self._line(key), key=key, expected="an expression (text)")
            return None
        return getattr(value, "text", None) or str(value)

    def text_list(self, key: str) -> list[str]:
        value = self.item.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            self._add("E105", self._line(key), key=key, expected="a list of texts")
            return []
        return [str(v) for v in value]

    def symbols(self) -> dict[str, str]:
        value = self.item.get("symbols")
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(v, str) for v in value.values()
        ):
            self._add("E105", self._line("symbols"), key="symbols",
                      expected="a mapping from names to declarations (texts)")
            return {}
        for name, line in value.key_lines.items():
            self.lines[f"symbols.{name}"] = line
        return dict(value)

    def derivative(self) -> dict[str, str]:
        value = self.item.get("derivative")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._add("E105", self._line("derivative"), key="derivative",
                      expected="a mapping with numerator, denominator or vec")
            return {}
        forms = {}
        known = {k.name for k in schema.DERIVATIVE_KEYS}
        for key, line in value.key_lines.items():
            self.lines[f"derivative.{key}"] = line
            if key not in known:
                self._add("E103", line, key=f"derivative.{key}",
                          hint=_hint(key, schema.DERIVATIVE_KEYS))
                continue
            text = self.expr(key, value, line)
            if text is not None:
                forms[key] = text
        return forms

    def sources(self) -> list[dict]:
        value = self.item.get("sources")
        if value is None:
            return []
        if not isinstance(value, list):
            self._add("E110", self._line("sources"), detail="`sources` must be a list")
            return []
        result = []
        known = {k.name for k in schema.SOURCE_KEYS}
        for entry, line in zip(value, value.item_lines):
            if not isinstance(entry, dict) or "ref" not in entry:
                self._add("E110", line, detail="each entry is a mapping with a `ref`")
                continue
            unknown = sorted(set(entry) - known)
            bad = [k for k, v in entry.items() if isinstance(v, dict | list | bool) or v is None]
            if unknown or bad:
                self._add("E110", line, detail=f"unknown or non-scalar keys {unknown or bad}")
                continue
            infinite = [k for k, v in entry.items() if isinstance(v, float)
                        and not math.isfinite(v)]
            if infinite:  # 1e400 reads as inf, which JSON cannot hold
                self._add("E110", line, detail=f"`{infinite[0]}` is not a finite number")
                continue
            self.lines[f"sources.{len(result)}"] = line
            result.append(dict(entry))
        return result

    def finish(self, ident: Identity) -> None:
        if ident.id is not None and ident.id != "" and (
            not schema.ID_PATTERN.fullmatch(ident.id) or len(ident.id) > schema.ID_MAX
        ):
            self._add("E106", self._line("id"), value=ident.id)
        for target in ident.see_also:
            if not schema.ID_PATTERN.fullmatch(target):
                self._add("E106", self._line("see_also"), value=target)
        if ident.status is not None and ident.status != "erratum":
            self._add("E112", self._line("status"))
        if ident.corrected_by is not None and ident.status != "erratum":
            self._add("E112", self._line("corrected_by"))
        if "of" in self.item and self.item["of"] is None:
            self._add("E105", self._line("of"), key="of", expected="an expression (text)")


def _hint(key: str, keys) -> str:
    import difflib

    close = difflib.get_close_matches(key, [k.name for k in keys], n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def gather(paths: list[Path]) -> list[Path]:
    """Expand directories to their identity files (the bibliography and gap list are not)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.glob("*.yaml") if p.name not in NOT_IDENTITIES
            )
        else:
            files.append(path)
    return files


def load_all(paths: list[Path], known_ids=None) -> tuple[list[Identity], list[Problem]]:
    """All identities of all files, with catalog-wide checks (unique ids, links).

    `known_ids` (a callable) names ids that links may also point to, such as the
    published catalog's when a user file links to it.
    """
    identities: list[Identity] = []
    loose: list[Problem] = []
    for path in gather(paths):
        found, problems = load_file(path)
        identities += found
        loose += problems
    _check_links(identities, known_ids)
    _check_references(identities)
    return identities, loose


def references_of(folder: Path) -> set[str]:
    """The bibliography keys an identity file in `folder` may cite: the catalog's, plus
    those of a `references.yaml` beside the file (as the catalog keeps its own)."""
    keys = set()
    for path in {CATALOG_REFERENCES, folder / "references.yaml"}:
        if not os.path.lexists(path):
            continue
        data, problems = read_yaml(path)
        if not problems and isinstance(data, dict) and isinstance(data.get("references"), dict):
            keys |= {str(k) for k in data["references"]}
    return keys


def _check_references(identities: list[Identity]) -> None:
    known: dict[Path, set[str]] = {}
    for ident in identities:
        for index, source in enumerate(ident.sources):
            folder = Path(ident.file).parent
            if folder not in known:
                known[folder] = references_of(folder)
            ref = str(source.get("ref"))
            if ref not in known[folder]:
                ident.problems.append(problem(
                    "E118", ident.file, ident.line_of(f"sources.{index}"), ref=ref,
                    known=", ".join(sorted(known[folder])) or "none"))


def ids_in(folder: Path) -> set[str]:
    """The ids of the identity files in a folder, read without the full schema check."""
    ids = set()
    for path in gather([folder]):
        data, problems = read_yaml(path)
        if not problems and isinstance(data, dict) and isinstance(data.get("identities"), list):
            ids |= {str(i.get("id")) for i in data["identities"] if isinstance(i, dict)}
    return ids


def _check_links(identities: list[Identity], known_ids=None) -> None:
    first: dict[str, Identity] = {}
    for ident in identities:
        if not ident.id:
            continue
        if ident.id in first:
            other = first[ident.id]
            ident.problems.append(problem(
                "E107", ident.file, ident.line_of("id"), value=ident.id,
                where=f"{other.file}:{other.line}",
            ))
        else:
            first[ident.id] = ident
    others: set[str] | None = None
    for ident in identities:
        targets = [("see_also", t) for t in ident.see_also]
        if ident.corrected_by:
            targets.append(("corrected_by", ident.corrected_by))
        for key, target in targets:
            if target in first or not schema.ID_PATTERN.fullmatch(target):
                continue
            if others is None:
                others = known_ids() if known_ids else set()
            if target not in others:
                ident.problems.append(problem(
                    "E111", ident.file, ident.line_of(key), key=key, value=target
                ))
