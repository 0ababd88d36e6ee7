"""Search, fast: the query normaliser (site/assets/search.js, run under node as the build
runs it) and the index text of gen/render/search.py. The browser test
(test_search_browser.py) runs the built index through the theme's lunr worker."""

from __future__ import annotations

import json
import shutil

import pytest
from matderiv.render import search as S
from matderiv.render.site import identity_url

from .search_queries import QUERIES

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")



def norm(*texts: str) -> list[str]:
    return S.normalise(list(texts))


def codes(text: str) -> set[str]:
    """The formula codes among a normalised text's tokens (no word of the tables)."""
    return {t for t in text.split() if t not in S.WORDS.values() and len(t) > 2}


@pytest.mark.parametrize(("spellings", "code"), [
    (["x^T A x", "x^TAx", "xTAx", "x'Ax", "x' A x", "x'*A*x", "xᵀAx", "x.T @ A @ x",
      "x.T*A*x", "x^{T} A x", "x^\\top A x", "x transpose A x",
      "x.transpose() @ A @ x"], "xtax"),
    (["log det X", "logdet(X)", "log|X|", "log(det(X))", "ln det X", "log-determinant of X",
      "\\log\\det\\mathbf{X}"], "logdetx"),
    (["X^-1", "X^{-1}", "X⁻¹", "inv(X)", "np.linalg.inv(X)", "X^(-1)", "X inverse"], "xi"),
    (["tr(AX)", "trace(AX)", "Tr(A X)", "tr(A*X)", "np.trace(A @ X)", "trAX"], "traceax"),
    (["a^T X b", "aTXb", "a'Xb", "aᵀXb", "a.T @ X @ b"], "atxb"),
    (["||Ax - b||^2", "||Ax-b||_2^2", "‖Ax − b‖²", "norm(A*x - b)**2"], "normaxb2"),
    (["(Ax-b)^T(Ax-b)", "(Ax - b)'(Ax - b)", "(A x - b)ᵀ (A x - b)"], "axbtaxb"),
    (["A ⊗ X", "A \\otimes X", "A kron X"], "akroneckerx"),
    (["kron(A, X)", "np.kron(A, X)"], "kroneckerax"),
])
def test_every_spelling_of_a_formula_gives_one_code(spellings, code):
    for spelling, tokens in zip(spellings, norm(*spellings), strict=True):
        assert code in tokens.split(), (spelling, tokens)


@pytest.mark.parametrize(("query", "words"), [
    ("Frobenius norm", {"frobenius", "norm"}),
    ("||X||_F", {"frobenius", "norm"}),
    ("fro norm", {"frobenius", "norm"}),
    ("logistic sigmoid σ", {"sigmoid"}),
    ("softmax cross-entropy", {"softmax", "crossentropy"}),
    ("softmax crossentropy", {"softmax", "crossentropy"}),
    ("hadamard ∘ ⊙ elementwise product", {"hadamard"}),
    ("kron ⊗ Kronecker product", {"kronecker"}),
    ("determinant det |X|", {"det"}),
    ("trace tr Tr", {"trace"}),
    ("dlogdet", {"log", "det"}),
    ("inverse inv X^-1", {"inverse"}),
    ("with respect to X", {"wrtx"}),
    ("d/dX", {"wrtx"}),
    ("∂f/∂x", {"wrtx"}),
])
def test_synonyms_meet_in_one_word(query, words):
    (tokens,) = norm(query)
    assert words <= set(tokens.split()), tokens


def test_stop_words_go_but_a_vector_named_a_stays():
    (article, vector, glued) = norm("derivative of a quadratic form", "gradient of a^T x",
                                    "a x")
    assert "a" not in article.split() and "quadratic" in article.split()
    assert "a" in vector.split() and "atx" in vector.split()
    assert "a" in glued.split()


def test_transform_writes_lunr_terms_that_skip_the_wildcard():
    """The theme appends `*` to any term without a boost; every term gets one, and a
    formula code is asked for exactly and as a prefix (x^T A x inside x^T A x + b^T x)."""
    import subprocess

    script = ("globalThis.MATDERIV_SEARCH_TABLE = JSON.parse(process.argv[2]);"
              "const s = require(process.argv[1]);"
              "process.stdout.write(s.transform(process.argv[3]));")
    out = subprocess.run(["node", "-e", script, str(S.SEARCH_JS), json.dumps(S.table()),
                          "gradient of x^T A x"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert all("^" in term for term in out), out
    assert "xtax^12" in out and "xtax*^4" in out and "gradient^1" in out


def test_one_entry_per_identity_with_location_title_and_formula(sample_doc):
    ids = sample_doc["identities"]
    entries = S.search_entries(ids, identity_url)
    assert [e["location"] for e in entries] == [identity_url(r["id"]) for r in ids]
    by_id = dict(zip((r["id"] for r in ids), entries, strict=True))
    log_det = by_id["log-det"]
    assert log_det["title"] == "Log-determinant"
    assert {"logdetx", "log", "det"} <= set(log_det["formula"].split())
    assert "logdet" not in log_det["formula"].split()  # the normalised form only
    assert "qdetlog" in log_det["key"].split()  # what "log det" asks for, whole
    for e in entries:
        assert set(e) == {"location", "title", "text", "name", "formula", "words", "key",
                          "boost"}
        assert e["text"] == ""  # the theme shows `text` under the title: search.js's formula
        assert "<" not in e["formula"] + e["words"]  # no markup, no code blocks


def test_spellings_come_from_the_parse_tree(sample_doc):
    rec = next(r for r in sample_doc["identities"] if r["of"]["text"] == "x.T*A*x")
    spelled = S.spellings(rec)
    for s in ("x^T*A*x", "x^T A x", "x^TAx", "x.T @ A @ x", "x'Ax", "xᵀAx",
              "x transpose A x"):
        assert s in spelled, spelled


def test_norm_squared_is_also_spelled_as_an_inner_product():
    rec = {"of": {"text": "norm(A*x - b)**2", "latex": ""}, "wrt": {"name": "x"},
           "symbols": [{"name": "A", "kind": "matrix", "declaration": "matrix m n"},
                       {"name": "b", "kind": "vector", "declaration": "vector m"},
                       {"name": "x", "kind": "vector", "declaration": "vector n"}]}
    spelled = S.spellings(rec)
    assert "||Ax - b||^2" in spelled and "(Ax - b)^T(Ax - b)" in spelled


def test_rewrite_index_drops_code_tables_and_the_identity_pages_own_sections():
    index = {"config": {}, "docs": [
        {"location": "id/log-det/", "title": "Log-determinant", "text": "card"},
        {"location": "id/log-det/#symbols", "title": "Symbols", "text": "x"},
        {"location": "scalar-by-matrix/", "title": "Scalar by matrix",
         "text": "<p>intro</p><table><tr><td>Log-determinant</td></tr></table>"},
        {"location": "conventions/", "title": "Conventions",
         "text": "<p>layouts</p><pre><code>x = 1</code></pre>"},
        {"location": "topics/", "title": "Topics", "text": "tags"},
        {"location": "topics/#tag-trace", "title": "trace", "text": "Trace"}]}
    entry = {"location": "id/log-det/", "title": "Log-determinant", "name": "log det",
             "formula": "logdetx", "words": "", "key": "qdetlog", "boost": 1}
    out = S.rewrite_index(index, [entry], ["scalar-by-matrix/"])
    assert out["docs"] == [
        {"location": "scalar-by-matrix/", "title": "Scalar by matrix", "text": "<p>intro</p>"},
        {"location": "conventions/", "title": "Conventions", "text": "<p>layouts</p>"},
        {"location": "topics/", "title": "Topics", "text": "tags"},
        entry]


# The real catalog: every query's words are in the entry of the identity it must find
# (the browser test checks the ranking).

@pytest.fixture(scope="module")
def real_entries(catalog_doc):
    doc = catalog_doc
    entries = S.search_entries(doc["identities"], identity_url)
    return {r["id"]: e for r, e in zip(doc["identities"], entries, strict=True)}


def test_query_set_covers_all_nine_categories():
    assert len(QUERIES) >= 60
    assert len({q for q, _ in QUERIES}) == len(QUERIES)


def test_every_query_word_is_in_its_identitys_entry(real_entries):
    cases = [(q, next(w for w in want.split("|") if w in real_entries)) for q, want in QUERIES]
    missing = []
    for (query, want), tokens in zip(cases, S.normalise([q for q, _ in cases]), strict=True):
        entry = real_entries[want]
        have = set(" ".join((entry["name"], entry["formula"], entry["words"])).split())
        lost = [t for t in tokens.split() if t not in have and t not in S.WEAK]
        if lost:
            missing.append((query, want, lost))
    assert len(missing) <= len(cases) // 10, missing


def test_a_trace_is_spelled_in_every_cyclic_and_transposed_order():
    rec = {"of": {"text": "tr(X.T*A)", "latex": ""}, "wrt": {"name": "X"},
           "symbols": [{"name": "A", "kind": "matrix", "declaration": "matrix m n"},
                       {"name": "X", "kind": "matrix", "declaration": "matrix m n"}]}
    tokens = set(" ".join(norm(*S.spellings(rec))).split())
    assert {"tracexta", "traceaxt", "traceatx", "tracexat"} <= tokens
