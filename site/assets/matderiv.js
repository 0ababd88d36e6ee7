// matderiv: old anchors, the layout in the URL, permalinks kept when tabs switch, focus.
(function () {
  "use strict";
  var KEY = "matderiv.layout", LAYOUTS = ["numerator", "denominator"];

  // 1. Old permalinks (category/#id, former ids too) land on the identity's own page.
  var moved = document.getElementById("md-moved");
  if (moved && location.hash.length > 1) {
    var target = JSON.parse(moved.textContent)[decodeURIComponent(location.hash.slice(1))];
    if (target) {
      var url = new URL("../" + target, location.href);
      url.search = location.search;
      location.replace(url.href);
      return;
    }
  }

  // 2. The layout: ?layout=numerator|denominator (shareable) or the stored choice.
  var keep = /^#__tabbed_/.test(location.hash) ? "" : location.hash;  // the permalink's #id
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function chosen() {
    var asked = new URLSearchParams(location.search).get("layout");
    if (LAYOUTS.indexOf(asked) >= 0) return asked;
    return LAYOUTS.indexOf(stored()) >= 0 ? stored() : null;
  }
  function inUrl(layout) {  // the address bar says the layout and keeps the #id
    var url = new URL(location.href);
    if (layout) url.searchParams.set("layout", layout);
    url.hash = keep;
    if (url.href !== location.href) history.replaceState(history.state, "", url.href);
  }
  function remember(layout) {
    try { localStorage.setItem(KEY, layout); } catch (e) { /* private mode: URL only */ }
    document.documentElement.setAttribute("data-md-layout", layout);
    inUrl(layout);
  }
  function apply(layout) {
    var i = LAYOUTS.indexOf(layout);
    if (i < 0) return;
    document.querySelectorAll(".tabbed-set").forEach(function (set) {
      var inputs = set.querySelectorAll(":scope > input");
      if (inputs.length === LAYOUTS.length) inputs[i].checked = true;
    });
    remember(layout);
  }
  function layoutOf(input) {
    var set = input.closest(".tabbed-set");
    if (!set) return null;
    var inputs = Array.prototype.slice.call(set.querySelectorAll(":scope > input"));
    return inputs.length === LAYOUTS.length ? LAYOUTS[inputs.indexOf(input)] : null;
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".tabbed-set > input")) return;
    var layout = layoutOf(input);
    if (!layout) return;
    remember(layout);
    setTimeout(function () { inUrl(layout); }, 0);  // after the theme's own handler
  });
  window.addEventListener("hashchange", function () {
    if (/^#__tabbed_/.test(location.hash)) inUrl(chosen());  // a tab, not a place
    else keep = location.hash;
  });
  function start() {
    apply(chosen());
    // 3. Focus follows the permalink: keyboard users start at the identity.
    var id = keep && document.getElementById(decodeURIComponent(keep.slice(1)));
    if (id && !id.hasAttribute("tabindex")) {
      id.setAttribute("tabindex", "-1");
      id.focus({ preventScroll: true });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  // 4. Printing shows everything: both layouts (CSS) and every collapsed part.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("article details:not([open])").forEach(function (d) {
      d.setAttribute("open", "");
      d.setAttribute("data-md-print-opened", "");
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("[data-md-print-opened]").forEach(function (d) {
      d.removeAttribute("open");
      d.removeAttribute("data-md-print-opened");
    });
  });
})();
