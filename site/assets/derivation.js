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
      if (part && body) body.replaceChildren(document.importNode(part, true));
    })
    .catch(function () { box.dataset.loaded = ""; });  // the link in the body still works
}, true);
