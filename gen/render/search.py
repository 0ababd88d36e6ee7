"""Search: one mkdocs-material index entry per identity, in the words people type.

Every identity becomes ONE entry of the theme's search index (`search_entries`): its
title, its id, its tags, every usual spelling of its formula generated from the parse tree
(`spellings`: `x^T*A*x`, `x^T A x`, `x.T @ A @ x`, `x'Ax`, `xᵀAx`, `x transpose A x`,
`||u||^2` beside `u^T u`, `A ⊗ B` beside `kron(A, B)` ...) and the synonyms of its
function names (`SYNONYMS`). All of it is passed through the query normaliser of the
browser (site/assets/search.js, run here under node) so that the index holds exactly the
tokens a normalised query asks for: the two sides cannot drift apart.

The tables below are the one place for names and synonyms; the build hands them to the
browser as assets/search-table.js. The hook (`mkdocs_hooks.on_post_build`) swaps the
identity pages' own sections for these entries and drops code blocks from the rest.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from matderiv import resources
from matderiv.catalog.schema import FUNCTIONS as FORMAT_FUNCTIONS
from matderiv.errors import CatalogError
from matderiv.lang import expr as E

SEARCH_JS = resources.SITE_PAGES / "assets" / "search.js"
TABLE_ASSET = "assets/search-table.js"
FORMULAS_FILE = "search/formulas.json"
TITLES_FILE = "search/titles.json"  # the titles that hold a formula, with it as MathML

# ---------------------------------------------------------------- the tables

# Function names of the catalog format and how people write them, each mapped to the
# canonical words both the index and the normalised query use.
FUNCTION_WORDS: dict[str, str] = {
    "tr": "trace", "trace": "trace", "tra": "trace",
    "det": "det", "determinant": "det", "determinants": "det",
    "logdet": "log det", "logdeterminant": "log det",
    "log": "log", "ln": "log", "logarithm": "log", "logarithms": "log",
    "exp": "exp", "exponential": "exp", "exponentials": "exp",
    "inv": "inverse", "inverse": "inverse", "inverses": "inverse", "inversion": "inverse",
    "transpose": "transpose", "transposed": "transpose",
    "norm": "norm", "norms": "norm",
    "kron": "kronecker", "kronecker": "kronecker", "otimes": "kronecker",
    "hadamard": "hadamard", "odot": "hadamard", "circ": "hadamard", "schur": "hadamard",
    "sigmoid": "sigmoid", "expit": "sigmoid", "logistic": "sigmoid logistic",
    "softmax": "softmax", "softmax_rows": "softmax rows", "softargmax": "softmax",
    "log_softmax": "logsoftmax", "logsoftmax": "logsoftmax",
    "logsumexp": "logsumexp", "lse": "logsumexp",
    "tanh": "tanh", "relu": "relu", "gelu": "gelu", "silu": "silu", "swish": "silu",
    "softplus": "softplus", "erf": "erf", "sqrt": "sqrt", "abs": "abs",
    "sin": "sin", "sine": "sin", "cos": "cos", "cosine": "cos", "tan": "tan",
    "diag": "diag", "diagonal": "diag", "vec": "vec", "vectorization": "vec",
    "sum": "sum", "mean": "mean", "sign": "sign", "step": "step",
    "expm": "expm", "logm": "logm", "pinv": "pinv", "pseudoinverse": "pinv",
    "eye": "eye", "ones": "ones", "zeros": "zeros", "commutation": "commutation",
    "hadamard_pow": "hadamard power", "hadamard_div": "hadamard quotient",
    "adj": "adjugate", "adjugate": "adjugate",
}
# Tokens that are functions inside a formula (`tr(AX)`, `trAX`, `log det X`): the format's
# own functions (catalog/schema.FUNCTIONS, so a new one is searchable at once) and the
# other names people write for some of them.
FUNCTIONS = sorted((set(FORMAT_FUNCTIONS) - {"diff"})
                   | {"trace", "logdet", "ln", "logsoftmax", "adj", "gelu", "silu", "softplus"})
# Other words: spellings, abbreviations and synonyms -> canonical words.
WORDS: dict[str, str] = {
    **FUNCTION_WORDS,
    "frobenius": "frobenius", "fro": "frobenius", "frob": "frobenius",
    "crossentropy": "crossentropy", "xent": "crossentropy", "ce": "crossentropy",
    "bce": "binary crossentropy", "nll": "crossentropy",
    "mse": "mean squared error", "rmse": "mean squared error",
    "grad": "gradient", "gradients": "gradient", "nabla": "gradient",
    "derivative": "derivative", "derivatives": "derivative", "deriv": "derivative",
    "differentiate": "derivative", "differentiation": "derivative",
    "differentiating": "derivative", "diff": "derivative",
    "jacobian": "jacobian", "jacobians": "jacobian", "jac": "jacobian",
    "hessian": "hessian", "hessians": "hessian",
    "squared": "squared", "square": "squared", "sq": "squared",
    "cubed": "cube", "cube": "cube",
    "l2": "norm", "euclidean": "euclidean norm", "2norm": "norm",
    "dot": "inner", "inner": "inner", "scalarproduct": "inner",
    "quadform": "quadratic form", "quad": "quadratic",
    "mahalanobis": "mahalanobis", "rayleigh": "rayleigh", "gram": "gram",
    "layernorm": "layer normalization", "batchnorm": "batch normalization",
    "rbf": "rbf gaussian kernel", "gaussian": "gaussian", "normal": "gaussian normal",
    "mvn": "gaussian", "glu": "glu", "rnn": "rnn", "mlp": "mlp",
    "least": "least", "squares": "squares", "ols": "least squares",
    "regression": "regression", "ridge": "ridge", "tikhonov": "ridge",
    "lstsq": "least squares", "linreg": "linear regression",
    "invertible": "inverse", "reciprocal": "inverse",
    "product": "product", "products": "product",
    "activation": "activation", "activations": "activation",
    "wrt": "wrt",
}
# Phrases read before the words (regular expressions, case-insensitive).
PHRASES: list[tuple[str, str]] = [
    (r"log[\s-]*(?:of[\s-]+(?:the[\s-]+)?)?det(?:erminant)?s?", "logdet"),
    (r"ln[\s-]*det(?:erminant)?", "logdet"),
    (r"cross[\s-]*entropy", "crossentropy"),
    (r"log[\s-]+softmax", "logsoftmax"),
    (r"log[\s-]*sum[\s-]*exp", "logsumexp"),
    (r"soft[\s-]*max", "softmax"),
    (r"soft[\s-]*plus", "softplus"),
    (r"hyperbolic[\s-]+tangents?", "tanh"),
    (r"matrix[\s-]+exponential", "expm"),
    (r"matrix[\s-]+logarithm", "logm"),
    (r"pseudo[\s-]*inverse", "pinv"),
    (r"(?:element|entry)[\s-]*wise[\s-]+(?:product|multiplication)", "hadamard"),
    (r"schur[\s-]+product", "hadamard"),
    (r"kronecker[\s-]+product", "kronecker"),
    (r"(?:dot|inner|scalar)[\s-]+product", "inner product"),
    (r"frobenius[\s-]+norm", "frobenius norm"),
    (r"fro[\s-]+norm", "frobenius norm"),
    (r"layer[\s-]*norm(?:alization|alisation)?", "layernorm"),
    (r"batch[\s-]*norm(?:alization|alisation)?", "batchnorm"),
    (r"w\.?\s*r\.?\s*t\.?", " wrt "),
    (r"with[\s-]+respect[\s-]+to", " wrt "),
    (r"quadratic[\s-]+forms?", "quadratic form"),
    (r"mean[\s-]+squared?[\s-]+error", "mean squared error"),
    (r"least[\s-]+squares?", "least squares"),
]
# Words that say nothing about which identity is meant.
STOP = sorted({"the", "of", "to", "with", "respect", "by", "for", "in", "on", "at", "is",
               "are", "what", "how", "and", "an", "its", "it", "me", "find", "compute",
               "calculate", "formula", "identity", "using", "when", "where", "from", "as",
               "into", "over", "get", "do", "does", "i", "we", "you", "that", "this",
               "which", "matrix", "calculus", "each", "all", "d", "partial"})
# Words said of nearly every identity: kept, weighted low.
WEAK = sorted({"gradient", "derivative", "jacobian", "differential", "vector",
               "scalar", "function", "matrices", "vectors", "erratum"})

# What each category is called, beside its slug.
CATEGORY_WORDS = {
    "scalar-by-scalar": "scalar by scalar derivative",
    "scalar-by-vector": "scalar by vector gradient derivative",
    "scalar-by-matrix": "scalar by matrix gradient derivative",
    "vector-by-scalar": "vector by scalar derivative",
    "vector-by-vector": "vector by vector jacobian derivative",
    "vector-by-matrix": "vector by matrix jacobian derivative",
    "matrix-by-scalar": "matrix by scalar derivative",
    "matrix-by-vector": "matrix by vector jacobian derivative",
    "matrix-by-matrix": "matrix by matrix jacobian derivative differential",
}
# Words a formula's shape earns (read off the tree, `_shape_words`).
SHAPE_WORDS = {
    "quadratic": "quadratic form", "bilinear": "bilinear form", "linear": "linear form",
    "inner": "inner product", "outer": "outer product",
}


def table() -> dict:
    """The normaliser's tables, as the browser and the build's node run receive them."""
    return {"functions": FUNCTIONS, "words": WORDS, "stop": STOP, "weak": WEAK,
            "phrases": [list(p) for p in PHRASES]}


def table_script() -> str:
    """assets/search-table.js: the tables as a global the normaliser reads."""
    return ("/* generated by matderiv.render.search: the search normaliser's tables */\n"
            f"window.MATDERIV_SEARCH_TABLE = {json.dumps(table(), sort_keys=True)};\n")


# ---------------------------------------------------------------- spellings


def _context(rec: dict) -> E.Context:
    syms = rec.get("symbols", [])
    names = {s["name"] for s in syms if s.get("kind") != "function"}
    funcs = {s["name"] for s in syms if s.get("kind") == "function"}
    text = rec.get("of", {}).get("text", "")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    for s in syms:
        words |= set(re.findall(r"[a-z][a-z0-9]*", s.get("declaration") or ""))
    sizes = {w for w in words if w not in names | funcs and w[0].islower()}
    return E.Context(symbols=frozenset(names), functions=frozenset(funcs),
                     sizes=frozenset(sizes), wrt=rec.get("wrt", {}).get("name", ""),
                     dependent=frozenset(s["name"] for s in syms if s.get("depends_on")),
                     integers=frozenset(sizes))


def parse(rec: dict):
    """The identity's `of` as a parse tree, or None (the text is then spelled as is)."""
    try:
        return E.parse(rec["of"]["text"], _context(rec))
    except CatalogError:  # an unparsable formula is still searchable as text
        return None


class _Speller(E.TextPrinter):
    """One way of writing formulas: marks for transpose, inverse, power, product. Each
    node's method gets `outer`, the precedence of its context (lang/expr's one table;
    Kronecker and Hadamard products written infix bind like a product here)."""

    def __init__(self, t: str, inv: str, power: str, times: str, call=None, infix=False,
                 sums=False):
        self.t, self.inv, self.power, self.times = t, inv, power, times
        self.call, self.infix, self.sums = call, infix, sums

    def __call__(self, node, outer: int = 0) -> str:
        return self.visit(node, outer)

    def _Num(self, node, outer):
        v = node.value
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"

    def _DiffOf(self, node, outer):
        return f"d{node.name}/d{node.wrt}"

    def _Apply(self, node, outer):
        return f"{node.fn}{chr(39) * node.order}({self(node.arg)})"

    def _Transpose(self, node, outer):
        return self._post(node.arg, self.t)

    def _Bin(self, node, outer):
        prec = E.PRECEDENCE[node.op]
        if self.sums and node.op == "*" and _is_ones_t(node.left):
            return f"sum({self(node.right)})"
        if node.op == "**":
            if isinstance(node.right, E.Num) and node.right.value == -1:
                return self._post(node.left, self.inv)
            text = f"{self(node.left, prec + 1)}{self.power}{self(node.right, prec + 1)}"
        else:
            right = prec + 1 if node.op in "-/*" else prec
            op = self.times if node.op == "*" else f" {node.op} " if node.op in "+-" else node.op
            text = f"{self(node.left, prec)}{op}{self(node.right, right)}"
        return f"({text})" if outer > prec else text

    def _post(self, arg, mark: str) -> str:
        inner = self(arg, E.ATOM)
        if mark == self.t and mark == ".T" and not inner.isalnum():
            return f"({self(arg)}).T"
        return inner + mark

    def _Call(self, node, outer):
        fn, args = node.fn, node.args
        if fn == "inv" and len(args) == 1:
            return self._post(args[0], self.inv)
        if self.infix and fn in ("kron", "hadamard") and len(args) == 2:
            sign = " ⊗ " if fn == "kron" else " ∘ "
            text = f"{self(args[0], E.NEG)}{sign}{self(args[1], E.NEG)}"
            return f"({text})" if outer > E.PRODUCT else text
        if self.infix and fn == "norm" and len(args) == 1:
            return f"||{self(args[0])}||"
        name = self.call.get(fn, fn) if self.call else fn
        return f"{name}({', '.join(self(a) for a in args)})"


def _is_ones_t(node) -> bool:
    return (isinstance(node, E.Transpose) and isinstance(node.arg, E.Call)
            and node.arg.fn == "ones")


SPELLERS = (
    _Speller("^T", "^-1", "^", "*"),                       # x^T*A*x
    _Speller("^T", "^-1", "^", " "),                       # x^T A x
    _Speller("^T", "^{-1}", "^", "", infix=True),          # x^TAx, ||u||^2, A ⊗ B
    _Speller(".T", "^-1", "**", " @ ", call={"inv": "np.linalg.inv", "tr": "np.trace",
                                               "det": "np.linalg.det"}),
    _Speller("'", "^-1", "^", "", sums=True),              # x'Ax, sum(exp(x))
    _Speller("ᵀ", "⁻¹", "^", "", infix=True, sums=True),  # xᵀAx
    _Speller(" transpose ", " inverse ", " power ", " ", call={"tr": "trace",
                                                               "det": "determinant"}),
)


def _alternatives(node) -> list:
    """Trees that mean the same and are written differently: u^T u and ||u||^2."""
    out = []
    if isinstance(node, E.Bin) and node.op == "**" and isinstance(node.left, E.Call) \
            and node.left.fn == "norm" and node.right == E.Num(2):
        u = node.left.args[0]
        out.append(E.Bin("*", E.Transpose(u), u))
    if isinstance(node, E.Bin) and node.op == "*" and isinstance(node.left, E.Transpose) \
            and node.left.arg == node.right:
        out.append(E.Bin("**", E.Call("norm", (node.right,)), E.Num(2)))
    if isinstance(node, E.Bin) and node.op in "+-":
        out += [node.left, node.right]  # each term of a sum alone
    if isinstance(node, E.Call) and node.fn == "tr" and len(node.args) == 1:
        out += [E.Call("tr", (p,)) for p in _trace_orders(node.args[0])]
    return out


def _factors(node) -> list:
    if isinstance(node, E.Bin) and node.op == "*":
        return _factors(node.left) + _factors(node.right)
    return [node]


def _product(factors: list):
    out = factors[0]
    for f in factors[1:]:
        out = E.Bin("*", out, f)
    return out


def _trace_orders(node) -> list:
    """The same trace written otherwise: tr(ABC) = tr(BCA) = tr(CᵀBᵀAᵀ), up to 4 factors."""
    factors = _factors(node)
    if not 2 <= len(factors) <= 4:
        return []
    flipped = [f.arg if isinstance(f, E.Transpose) else E.Transpose(f) for f in factors[::-1]]
    orders = []
    for seq in (factors, flipped):
        orders += [seq[i:] + seq[:i] for i in range(len(seq))]
    return [_product(o) for o in orders[1:]]


def spellings(rec: dict) -> list[str]:
    """Every usual spelling of the identity's formula, from its parse tree."""
    of = rec.get("of", {})
    tree = parse(rec)
    out = [of.get("text", ""), of.get("latex", "")]
    if tree is not None:
        for node in [tree, *_alternatives(tree)]:
            out += [speller(node) for speller in SPELLERS]
    return list(dict.fromkeys(" ".join(s.split()) for s in out if s))


def _shape_words(tree) -> list[str]:
    """quadratic form for u^T A u, bilinear form for a^T X b, outer product for u v^T."""
    if tree is None:
        return []
    words = []
    for node in E.walk(tree):
        if isinstance(node, E.Bin) and node.op == "*":
            left, right = node.left, node.right
            if isinstance(left, E.Bin) and left.op == "*" and isinstance(left.left, E.Transpose):
                words.append("quadratic" if left.left.arg == right else "bilinear")
            elif isinstance(left, E.Transpose) and not isinstance(right, E.Transpose):
                words.append("inner")
            elif isinstance(right, E.Transpose) and not isinstance(left, E.Transpose):
                words.append("outer")
    return [SHAPE_WORDS[w] for w in dict.fromkeys(words)]


# ---------------------------------------------------------------- entries


def raw_entry(rec: dict) -> dict:
    """What one identity says about itself, before normalisation (lists of phrases)."""
    tree = parse(rec)
    wrt = rec.get("wrt", {}).get("name", "")
    fns = sorted({n.fn for n in E.walk(tree) if isinstance(n, E.Call)}) if tree else []
    words = [rec["title"], rec["id"].replace("-", " ")]
    text = [*rec.get("tags", []), CATEGORY_WORDS.get(rec["category"], ""),
            *(FUNCTION_WORDS.get(f, f) for f in fns), *_shape_words(tree),
            f"wrt {wrt}" if wrt else "",
            *(s.get("words", "") for s in rec.get("symbols", []))]
    if rec.get("essential"):
        text.append("essential")
    return {"name": words, "formula": spellings(rec), "words": [t for t in text if t],
            "key": [title_head(rec["title"]), rec.get("of", {}).get("text", ""),
                    _simple_words(tree)]}


def _simple_words(tree) -> str:
    """The function words of a formula that is functions of one symbol (tanh(x),
    log(det(X)), norm(x)**2): "tanh", "log det", "norm squared"; else nothing."""
    words, node = [], tree
    while True:
        if isinstance(node, E.Call) and len(node.args) == 1 and node.fn in FUNCTION_WORDS:
            words.append(node.fn)
            node = node.args[0]
        elif isinstance(node, E.Bin) and node.op == "**" and node.right in (E.Num(2), E.Num(3)):
            words.append("squared" if node.right == E.Num(2) else "cube")
            node = node.left
        else:
            break
    return " ".join(words) if words and isinstance(node, E.Sym) else ""


def title_head(title: str) -> str:
    """What a title names before its qualifications: "Cross-entropy of softmax" of
    "Cross-entropy of softmax with respect to the logits (general target)"."""
    return re.split(r"\s*(?:[(,:;]|\s(?:with|by|where|when|in the)\s)", title)[0]


def boost(rec: dict) -> float:
    """Errata and the corrected twins of a claim come after the identity itself, the
    essential identities first."""
    if rec.get("erratum"):
        return 0.3
    if rec.get("corrected_by") or "corrected" in rec.get("tags", []):
        return 0.7
    weight = 1.3 if rec.get("essential") else 1.0
    # a rule (u, U functions of the variable) comes after the identities it generalises
    if any(s.get("depends_on") for s in rec.get("symbols", [])):
        weight *= 0.85
    return weight


def normalise(texts: list[str]) -> list[str]:
    """The browser's normaliser (site/assets/search.js) over many texts: their tokens."""
    return [tokens for tokens, _ in _node(texts)]


def _node(texts: list[str]) -> list[list[str]]:
    """Run site/assets/search.js over many texts in one node: [tokens, keys] of each."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the search index needs Node.js: apt-get install nodejs")
    script = ("const fs = require('fs');"
              "globalThis.MATDERIV_SEARCH_TABLE = JSON.parse(process.argv[2]);"
              "const s = require(process.argv[1]);"
              "const input = JSON.parse(fs.readFileSync(0, 'utf8'));"
              "process.stdout.write(JSON.stringify(input.map(t => [s.tokens(t), s.keys(t)])));")
    proc = subprocess.run([node, "-e", script, str(Path(SEARCH_JS).resolve()),
                           json.dumps(table())], input=json.dumps(texts),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"search normaliser failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


def _dedupe(tokens: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(t for text in tokens for t in text.split()))


def search_entries(identities: list[dict], locate: Callable[[str], str]) -> list[dict]:
    """One search-index entry per identity: its location (`locate(id)`, the site's one
    rule), its title as shown, and the normalised name, formula, words and key fields."""
    raws = [raw_entry(r) for r in identities]
    flat = [t for raw in raws for key in FIELDS for t in raw[key]]
    results = iter(_node(flat))
    out = []
    for rec, raw in zip(identities, raws, strict=True):
        fields = {}
        for key in FIELDS:
            got = [next(results) for _ in raw[key]]
            fields[key] = _dedupe(keys if key == "key" else tokens for tokens, keys in got)
        # `text` is what the theme shows under a result's title: the formula goes there
        # (search.js); the words stay out of sight in their own fields
        out.append({"location": locate(rec["id"]), "title": rec["title"], "text": "",
                    **fields, "boost": boost(rec)})
    return out


FIELDS = ("name", "formula", "words", "key")


def display_tex(rec: dict) -> str | None:
    """The formula a search result shows: the first given form, `lhs = rhs`."""
    forms = rec.get("forms") or {}
    for key in ("numerator", "denominator", "differential", "vec", "vec_denominator"):
        form = forms.get(key)
        if form and form.get("latex"):
            return f"{form['lhs']} = {form['latex']}" if form.get("lhs") else form["latex"]
    return None


# ---------------------------------------------------------------- the index


def search_bundle(identities: list[dict], math, locate: Callable[[str], str]) -> dict:
    """What the mkdocs hooks need: the entries, the normaliser's tables as a script, and
    each identity's formula registered in the site's MathTable (MathML, light) by location;
    for a title with formulas in it (the document's `title_parts`), its parts, text as
    text and each formula registered the same way (`["t", text]` or `["m", index]`).

    The index keeps the title as written (its words are what the ranking has always
    matched); search.js shows the parts in its place, the formulas as math."""
    formulas, titles = {}, {}
    for rec in identities:
        tex = display_tex(rec)
        if tex:
            math.add(tex, False, f"identity '{rec['id']}' (search result)", light=True)
            formulas[locate(rec["id"])] = len(math.items) - 1
        parts = rec.get("title_parts") or []
        if any("math" in p for p in parts):
            shown = []
            for part in parts:
                if "math" in part:
                    math.add(part["math"], False, f"identity '{rec['id']}' (title)", light=True)
                    shown.append(["m", len(math.items) - 1])
                else:
                    shown.append(["t", part["text"]])
            titles[locate(rec["id"])] = shown
    return {"entries": search_entries(identities, locate), "table": table_script(),
            "formulas": formulas, "titles": titles}


def title_html(parts: list, rendered: list[str]) -> str:
    """A search result's title as HTML: text escaped, each formula as rendered."""
    return "".join(html.escape(value) if kind == "t" else rendered[value]
                   for kind, value in parts)


_PRE = re.compile(r"<pre\b.*?</pre>", re.S)
_TABLE = re.compile(r"<table\b.*?</table>", re.S)


def _page(location: str) -> str:
    return location.split("#", 1)[0]


def rewrite_index(index: dict, entries: list[dict], tables_on: Iterable[str] = (),
                  only_top_of: Iterable[str] = ("topics/",)) -> dict:
    """The theme's index with each identity's own sections replaced by its one entry,
    code blocks removed everywhere, the tables of the pages in `tables_on` (the category
    pages, whose rows are the identities themselves) removed, and of the pages in
    `only_top_of` (the topics, one section per tag listing identities) the top kept."""
    own = {_page(e["location"]) for e in entries}
    tables, tops = set(tables_on), set(only_top_of)
    docs = []
    for doc in index["docs"]:
        page = _page(doc["location"])
        if page in own or (page in tops and "#" in doc["location"]):
            continue
        text = _PRE.sub(" ", doc.get("text", ""))
        if page in tables:
            text = _TABLE.sub(" ", text)
        doc = {**doc, "text": " ".join(text.split())}
        docs.append(doc)
    return {**index, "docs": docs + entries}
