/* matderiv search: one query normaliser for the browser and for the build.

   The build (gen/render/search.py) runs `normalise` under node over every spelling of
   every identity's formula, title, tags and synonyms, and writes the resulting tokens into
   mkdocs-material's search index; the browser runs the same function over what the reader
   types. Query and index therefore always speak the same words: `x'Ax`, `x^T A x`, `xᵀAx`
   and `x.T @ A @ x` all become `x transpose a x` plus the formula code `xtax`.

   mkdocs-material 9 dropped its custom-transform hook (9.0.0: "Removed support for custom
   search transforms"), so the transformed query is handed to the theme's own lunr worker
   by wrapping Worker.prototype.postMessage for its query message; the index format, the
   worker and the result list stay the theme's. Results are decorated with the identity's
   formula, rendered by KaTeX at build time (search/formulas.json). */
(function (root) {
  "use strict";

  // Filled by the build from gen/render/search.py (SYNONYMS, STOP, FUNCTIONS) through
  // assets/search-table.js; the fallback keeps the normaliser usable before it arrives.
  var TABLE = root.MATDERIV_SEARCH_TABLE || { phrases: [], words: {}, stop: [], functions: [],
                                              weak: [] };

  var SUP = { "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6",
              "⁷": "7", "⁸": "8", "⁹": "9", "⁻": "-", "ᵀ": "T", "ᵗ": "T", "⁺": "+" };
  var GREEK = { "α": "alpha", "β": "beta", "γ": "gamma", "λ": "lambda", "μ": "mu",
                "Σ": "S", "ε": "eps", "θ": "theta", "τ": "tau", "π": "pi", "ρ": "rho" };

  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  /* 1. characters: unicode, LaTeX and code spellings to plain ASCII math */
  function ascii(q) {
    q = q.replace(/[\u2212\u2012\u2013\u2014]/g, "-")            // minus and dashes
      .replace(/[\u2016\u2225]/g, "||")                           // ‖ ∥
      .replace(/[\u00b7\u22c5\u2217]/g, "*")                      // · ⋅ ∗
      .replace(/[\u2032\u2019\u00b4`]/g, "'")                     // ′ ’ ´ `
      .replace(/\u22a4/g, "^T")                                   // ⊤
      .replace(/[\u2207]/g, " gradient ")                         // ∇
      .replace(/[\u2202]/g, " d ")                                // ∂
      .replace(/[\u2297]/g, " kron ")                             // ⊗
      .replace(/[\u2218\u2299]/g, " hadamard ")                   // ∘ ⊙
      .replace(/\u03c3/g, " sigmoid ")                            // σ
      .replace(/[\u2211]/g, " sum ");                             // ∑
    q = q.replace(/[⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᵀᵗ⁺]+/g, function (m) {
      return "^(" + m.split("").map(function (c) { return SUP[c]; }).join("") + ")";
    });
    q = q.replace(/[αβγλμΣεθτπρ]/g, function (c) { return " " + GREEK[c] + " "; });
    // LaTeX
    q = q.replace(/\\(?:mathbf|mathrm|boldsymbol|bm|mathit|operatorname|text)\s*\{([^{}]*)\}/g,
                  " $1 ")
      .replace(/\\(?:left|right|big|Big|bigg|Bigg)\s*/g, "")
      .replace(/\\top\b|\\intercal\b/g, "T")
      .replace(/\\(?:partial)\b/g, " d ")
      .replace(/\\nabla\b/g, " gradient ")
      .replace(/\\otimes\b/g, " kron ")
      .replace(/\\(?:odot|circ)\b/g, " hadamard ")
      .replace(/\\sigma\b/g, " sigmoid ")
      .replace(/\\(?:cdot|times)\b/g, "*")
      .replace(/\\\|/g, "||")
      .replace(/\\[lr]Vert\b/g, "||")
      .replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)")
      .replace(/\\([A-Za-z]+)/g, " $1 ");
    // code
    q = q.replace(/\b(?:np|numpy|torch|jnp|scipy|tf)\s*\.\s*(?:linalg\s*\.\s*)?/g, "")
      .replace(/@/g, "*")
      .replace(/\*\*/g, "^")
      .replace(/\.\s*T\b/g, "^T")                                 // X.T
      .replace(/\.\s*transpose\s*\(\s*\)/g, "^T")
      .replace(/\.\s*inv\s*\(\s*\)/g, "^(-1)");
    return q;
  }

  /* 2. notation: norms, bars, primes, powers, derivative signs */
  function notation(q) {
    // ||E||_F^2, ||E||_2, ||E||^2, |E|_F
    q = q.replace(/\|\|([^|]+)\|\|\s*(?:_\s*\{?\s*(F|fro|Fro|2)\s*\}?)?\s*(?:\^\s*\{?\s*\(?\s*2\s*\)?\s*\}?)?/g,
                  function (m, e, sub, _o) {
                    var squared = /\^\s*\{?\s*\(?\s*2/.test(m.slice(m.lastIndexOf("||") + 2));
                    var fro = sub && /f/i.test(sub) ? " frobenius " : " ";
                    return fro + "norm(" + e + ")" + (squared ? "^2 squared " : " ");
                  });
    q = q.replace(/\|([^|]+)\|\s*_\s*\{?\s*(?:F|fro)\s*\}?(\s*\^\s*\{?\s*\(?2\)?\}?)?/g,
                  function (m, e, sq) { return " frobenius norm(" + e + ")" + (sq ? "^2 squared " : " "); });
    // log|X| and |X|: a determinant for a matrix (capital), an absolute value otherwise
    q = q.replace(/\b(log|ln)\s*\|\s*det\s*([^|]+)\|/gi, " log(abs(det($2))) ")
      .replace(/\b(log|ln)\s*\|([^|]+)\|/gi, " log(det($2)) ")
      .replace(/\|\s*det\s*([^|]+)\|/gi, " abs(det($1)) ");
    q = q.replace(/\|([^|]+)\|/g, function (m, e) {
      return /^\s*[A-Z]/.test(e) ? " det(" + e + ") " : " abs(" + e + ") ";
    });
    // transpose and inverse marks
    q = q.replace(/\^\s*\{\s*T\s*\}|\^\s*\(\s*T\s*\)|\^\s*T(?![A-Za-z])/g, "ᵀ")
      .replace(/\^\s*T(?=[A-Z])/g, "ᵀ")                            // x^TAx
      .replace(/\^\s*t\b/g, "ᵀ")
      .replace(/([A-Za-z0-9)\]ᵀ])\s*'/g, "$1ᵀ")                      // x'  (x')'
      .replace(/\^\s*\{\s*-\s*T\s*\}|\^\s*\(\s*-\s*T\s*\)|\^\s*-\s*T\b/g, "⁻ᵀ")
      .replace(/\^\s*\{\s*-\s*1\s*\}|\^\s*\(\s*-\s*1\s*\)|\^\s*-\s*1\b/g, "⁻")
      .replace(/\^\s*\{\s*([0-9]+)\s*\}|\^\s*\(\s*([0-9]+)\s*\)/g, "^$1$2")
      .replace(/\^\s*\{\s*-\s*([0-9]+)\s*\}|\^\s*\(\s*-\s*([0-9]+)\s*\)/g, "⁻^$1$2");
    // derivative signs: d/dX, df/dX, d f / d X, dX at the end: "with respect to X"
    q = q.replace(/\/\s*d\s*([A-Za-z]|mu|theta)\b/g, " wrt $1 ")
      .replace(/\bd\s*\(/g, " (")
      .replace(/\bd\s+(?=[A-Za-z(|])/g, " ");
    // U(t), u(x): a symbol written as a function of the variable is the symbol
    q = q.replace(/\b([A-Za-z])\s*\(\s*[a-z]\s*\)/g, "$1");
    return q;
  }

  /* 3. tokens: words, single-letter symbols, numbers and marks */
  function lex(q) {
    var out = [], re = /[A-Za-z][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|ᵀ|⁻|[()+\-*/^,=]|\S/g, m;
    while ((m = re.exec(q)) !== null) out.push(m[0]);
    return out;
  }

  var FUNCS = null, WORDS = null, STOP = null, WEAK = null;
  function tables() {
    if (FUNCS) return;
    FUNCS = {}; TABLE.functions.forEach(function (f) { FUNCS[f] = true; });
    WORDS = TABLE.words;
    STOP = {}; TABLE.stop.forEach(function (w) { STOP[w] = true; });
    WEAK = {}; TABLE.weak.forEach(function (w) { WEAK[w] = true; });
  }

  function known(word) {
    var w = word.toLowerCase();
    return FUNCS[w] || WORDS[w] !== undefined || STOP[w] || WEAK[w] || w.length > 6;
  }

  /* glued symbols: xTAx, AXB, aTXb, trAX, detX, logdetX */
  function unglue(tok) {
    // dlogdet, dtr, ddet: the differential sign glued to a function name
    var rest = tok.slice(1).toLowerCase();
    if (/^d[A-Za-z]{2,}$/.test(tok) && (FUNCS[rest] || WORDS[rest] !== undefined) &&
        !WORDS[tok.toLowerCase()]) return unglue(tok.slice(1));
    if (tok.length < 2 || !/^[A-Za-z]+$/.test(tok) || known(tok)) return [tok];
    var lower = tok.toLowerCase();
    var fns = Object.keys(FUNCS).sort(function (a, b) { return b.length - a.length; });
    for (var i = 0; i < fns.length; i++) {
      var f = fns[i];
      if (lower.indexOf(f) === 0 && tok.length > f.length && f.length > 1) {
        var rest = tok.slice(f.length);
        if (rest.length <= 5 && (/[A-Z]/.test(rest) || rest.length <= 2))
          return [f].concat(unglue(rest));
      }
    }
    if (tok.length <= 6 && (/[A-Z]/.test(tok.slice(1)) || tok.length === 2 && /[A-Z]/.test(tok))) {
      var letters = [];
      for (var j = 0; j < tok.length; j++) {
        var c = tok[j];
        if (c === "T" && j > 0) letters.push("ᵀ");
        else letters.push(c);
      }
      return letters;
    }
    return [tok];
  }

  /* inv(E) -> (E)⁻ and the like, on the token list */
  function postfix(tokens, fn, mark) {
    for (var i = 0; i < tokens.length; i++) {
      if (tokens[i].toLowerCase() === fn && tokens[i + 1] === "(") {
        var depth = 0;
        for (var j = i + 1; j < tokens.length; j++) {
          if (tokens[j] === "(") depth++;
          else if (tokens[j] === ")" && --depth === 0) break;
        }
        if (j < tokens.length) {
          tokens.splice(j + 1, 0, mark);
          tokens.splice(i, 1);
        }
      }
    }
    return tokens;
  }

  function wordOf(tok) {
    var w = tok.toLowerCase();
    return WORDS[w] !== undefined ? WORDS[w] : w;
  }

  function isSymbol(t) { return /^[A-Za-z]$/.test(t) || /^(?:mu|alpha|lambda|eps|theta|sigma|S)$/.test(t); }

  /* the normalised query: [{term, kind}] where kind is word, symbol, code or wrt */
  function analyse(query) {
    tables();
    var q = " " + String(query) + " ";
    q = ascii(q);
    TABLE.phrases.forEach(function (p) {           // multi-word synonyms first
      q = q.replace(new RegExp("(^|[^A-Za-z])" + p[0] + "(?![A-Za-z])", "gi"), "$1 " + p[1] + " ");
    });
    q = notation(q);
    var raw = lex(q), tokens = [];
    raw.forEach(function (t) { tokens.push.apply(tokens, unglue(t)); });
    tokens = postfix(tokens, "inv", "⁻");
    tokens = postfix(tokens, "inverse", "⁻");
    tokens = postfix(tokens, "transpose", "ᵀ");
    // "x transpose A x", "X inverse": a mark after a symbol or a bracket
    for (var k = 1; k < tokens.length; k++) {
      var prev = tokens[k - 1], low = tokens[k].toLowerCase();
      if (!(isSymbol(prev) || prev === ")" || prev === "ᵀ" || prev === "⁻")) continue;
      if (low === "transpose" || low === "transposed") tokens[k] = "ᵀ";
      else if (low === "inverse" || low === "inv") tokens[k] = "⁻";
      else if (low === "squared") tokens.splice(k, 1, "^", "2");
    }

    var terms = [], run = [], i, t;
    function flush() {
      var code = "", syms = 0, parts = 0;
      run.forEach(function (r) {
        if (r === "ᵀ") { code += "t"; parts++; }
        else if (r === "⁻") { code += "i"; parts++; }
        else if (/^[A-Za-z0-9 ]+$/.test(r)) {
          code += r.toLowerCase().replace(/ /g, ""); parts++;
          if (isSymbol(r)) syms++;
        }
      });
      if (syms >= 1 && parts >= 2 && code.length >= 2) terms.push({ term: code, kind: "code" });
      run = [];
    }
    for (i = 0; i < tokens.length; i++) {
      t = tokens[i];
      var lower = t.toLowerCase();
      if (lower === "wrt" && tokens[i + 1] && /^[A-Za-z]+$/.test(tokens[i + 1])) {
        flush();
        terms.push({ term: "wrt" + tokens[i + 1].toLowerCase(), kind: "wrt" });
        i++;
        continue;
      }
      // "a" between words is the article, not the vector a
      if (t === "a" && !(i > 0 && isMath(tokens[i - 1])) && tokens[i + 1] &&
          !isMath(tokens[i + 1]) && !/^[()]$/.test(tokens[i + 1])) { flush(); continue; }
      var math = t === "ᵀ" || t === "⁻" || /^[()+\-*/^,]$/.test(t) || /^[0-9]+$/.test(t) ||
                 isSymbol(t) || FUNCS[lower];
      if (math) {
        run.push(FUNCS[lower] ? wordOf(t) : t);
        if (t === "ᵀ") terms.push({ term: "transpose", kind: "word" });
        else if (t === "⁻") terms.push({ term: "inverse", kind: "word" });
        else if (FUNCS[lower]) wordOf(t).split(" ").forEach(function (x) {
          if (x) terms.push({ term: x, kind: "word" });
        });
        else if (isSymbol(t)) terms.push({ term: lower, kind: "symbol" });
        else if (t === "^" && tokens[i + 1] === "2") terms.push({ term: "squared", kind: "word" });
        continue;
      }
      // "trace of X", "inverse of A + X": the function keeps its argument
      if ((lower === "of" || lower === "the") && run.length && FUNCS[tokens[i - 1].toLowerCase()] &&
          tokens[i + 1] && (isMath(tokens[i + 1]) || /^(?:the|a)$/i.test(tokens[i + 1]))) continue;
      flush();
      if (STOP[lower] || !/[A-Za-z0-9]/.test(t)) continue;
      var w = wordOf(t);
      if (w === "") continue;
      w.split(" ").forEach(function (x) {
        if (x) terms.push({ term: x, kind: WEAK[x] ? "weak" : "word" });
      });
    }
    flush();
    return terms;
  }

  function isMath(t) {
    return t === "ᵀ" || t === "⁻" || /^[()+\-*/^,]$/.test(t) || /^[0-9]+$/.test(t) ||
           isSymbol(t) || !!FUNCS[t.toLowerCase()];
  }

  /* the index side: the same tokens, space-separated (codes included) */
  function tokens(text) {
    return analyse(text).map(function (x) { return x.term; }).join(" ");
  }

  /* keys: the whole of what a text names, as one token each: its words and formula
     codes together, its words alone, its codes alone ("log det" -> qdetlog). An entry
     carries the keys of its title and of its formula, so a query that says exactly
     that, and nothing else, finds it first. */
  function keyList(list, variants) {
    var words = {}, codes = {};
    list.forEach(function (x) {
      if (x.kind === "word") words[x.term] = true;
      else if (x.kind === "code") codes[x.term] = true;
    });
    var w = Object.keys(words).sort().join(""), c = Object.keys(codes).sort().join("");
    var out = [w + c];
    if (variants) out.push(w, c);
    return out.filter(function (k, i) { return k && out.indexOf(k) === i; })
      .map(function (k) { return "q" + k.replace(/[^a-z0-9]/g, ""); });
  }
  function keys(text) { return keyList(analyse(text), false).join(" "); }

  /* the query side: lunr syntax, exact terms boosted by kind, formula codes also as prefix */
  var BOOST = { code: 12, word: 3, symbol: 1, wrt: 2, weak: 1, key: 10 };
  function transform(query) {
    var seen = {}, out = [];
    var list = analyse(query);
    var last = list.length - 1;
    keyList(list, true).forEach(function (k) { list.push({ term: k, kind: "key" }); });
    list.forEach(function (x, k) {
      var key = x.kind + ":" + x.term;
      if (seen[key]) return;
      seen[key] = true;
      var term = x.term.replace(/[^a-z0-9]/g, "");
      if (!term) return;
      out.push(term + "^" + BOOST[x.kind]);
      if (x.kind === "code" || (x.kind === "word" && k === last && term.length >= 3))
        out.push(term + "*^" + (x.kind === "code" ? 4 : 1));
    });
    return out.join(" ");
  }

  var api = { analyse: analyse, tokens: tokens, keys: keys, transform: transform };
  root.matderivSearch = api;
  if (typeof module !== "undefined" && module.exports) { module.exports = api; return; }

  /* ---------------------------------------------------------------- browser */

  // The theme's worker takes {type: 2, data: query} (SearchMessageType.QUERY).
  var post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message) {
    if (message && message.type === 2 && typeof message.data === "string") {
      var args = Array.prototype.slice.call(arguments);
      var data = transform(message.data);
      args[0] = { type: 2, data: data || message.data };
      return post.apply(this, args);
    }
    return post.apply(this, arguments);
  };

  // Formulas of the identities, rendered at build time, shown under each result's title;
  // titles that hold a formula, shown with it as math (search/titles.json: the build
  // escaped their text, the formulas are KaTeX's MathML). The index keeps the title as
  // written, for the ranking and for a result shown before these files arrive.
  var formulas = null, titles = {}, loading = false;
  var base = (function () {
    var el = document.getElementById("__config");
    var cfg = el ? JSON.parse(el.textContent) : {};
    return new URL(cfg.base || ".", location.href);
  })();

  function decorate() {
    if (!formulas) return;
    var links = document.querySelectorAll(".md-search-result__link");
    for (var i = 0; i < links.length; i++) {
      var a = links[i];
      if (a.querySelector(".md-search-result__formula")) continue;
      var url = new URL(a.getAttribute("href"), location.href);
      var rel = url.pathname.slice(base.pathname.length) + url.hash;
      // the theme asks the page to highlight the matched terms, ours are normalised
      // tokens (qdetlog, xtax): highlight the words the reader typed instead
      if (url.searchParams.has("h")) {
        var box = document.querySelector("input.md-search__input");
        var typed = box ? (box.value.match(/[A-Za-z]{3,}/g) || []).join(" ") : "";
        if (typed) url.searchParams.set("h", typed); else url.searchParams.delete("h");
        a.setAttribute("href", url.toString());
      }
      var heading = a.querySelector("h1, h2");
      if (heading && titles[rel] && !heading.hasAttribute("data-md-title")) {
        heading.setAttribute("data-md-title", "");
        heading.innerHTML = titles[rel];
      }
      var html = formulas[rel];
      if (!html) continue;
      var div = document.createElement("div");
      div.className = "md-search-result__formula";
      div.innerHTML = html;
      if (heading) heading.insertAdjacentElement("afterend", div);
    }
  }

  function load() {
    if (loading) return;
    loading = true;
    function get(name) {
      return fetch(new URL(name, base)).then(function (r) { return r.json(); });
    }
    Promise.all([get("search/formulas.json"), get("search/titles.json").catch(function () {
      return {};
    })]).then(function (maps) { formulas = maps[0]; titles = maps[1]; decorate(); })
      .catch(function () { loading = false; });
  }

  function watch() {
    var list = document.querySelector(".md-search-result__list");
    if (!list) return;
    new MutationObserver(function () { load(); decorate(); })
      .observe(list, { childList: true, subtree: false });
    var input = document.querySelector("input.md-search__input");
    if (input) input.addEventListener("focus", load, { once: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})(typeof window !== "undefined" ? window : globalThis);
