// The course navigation's "More" menu (course/_nav.html) is a <details>: it opens and its links
// work without this file. With it, the open menu also closes as a menu does: on Escape (focus
// back on "More") and on a click or focus anywhere outside it.
// A static file (CSP script-src 'self').
(function () {
  "use strict";
  var more = document.querySelector("nav.course-tabs details");
  if (!more) { return; }
  var summary = more.querySelector("summary");
  more.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && more.open) {
      more.open = false;
      summary.focus();
    }
  });
  function outside(event) {
    if (more.open && !more.contains(event.target)) { more.open = false; }
  }
  document.addEventListener("click", outside);
  document.addEventListener("focusin", outside);
})();
