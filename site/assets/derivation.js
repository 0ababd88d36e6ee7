// The machine derivation on an identity card is loaded when the card's <details> is opened
// (gen/render/derivation.py writes one small file per identity), so pages stay light.
document.addEventListener("toggle", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("details.md-derivation") || !box.open) return;
  if (box.dataset.loaded) return;
  box.dataset.loaded = "1";
  var body = box.querySelector(".md-derivation__body");
  fetch(box.dataset.src)
    .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
    .then(function (text) {
      var part = new DOMParser().parseFromString(text, "text/html")
        .querySelector(".md-derivation__content");
      if (!part || !body) return;
      // its links are relative to the file, not to the page that shows it
      part.querySelectorAll("a[href]").forEach(function (a) {
        a.setAttribute("href", new URL(a.getAttribute("href"), box.dataset.src &&
                                       new URL(box.dataset.src, location.href)).href);
      });
      var focused = box.contains(document.activeElement);
      body.replaceChildren(document.importNode(part, true));
      if (focused) box.querySelector("summary").focus();  // focus is not lost with the link
    })
    .catch(function () { box.dataset.loaded = ""; });  // the link in the body still works
}, true);
