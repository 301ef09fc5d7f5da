// Learners table: "select every learner on this page", and "copy the addresses".
// A static file (CSP script-src 'self'); the page works without it.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      var boxes = document.querySelectorAll("input.pick");
      Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
    });
  }
  var copy = document.getElementById("copy-addresses");
  if (copy) {
    copy.addEventListener("click", function () {
      var source = document.getElementById(copy.getAttribute("data-source"));
      var status = document.getElementById("copy-status");
      var done = function () { status.textContent = "Copied."; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(source.value).then(done, function () {
          source.select();
          status.textContent = "Selected: press Ctrl+C (or Cmd+C) to copy.";
        });
      } else {
        source.select();
        status.textContent = "Selected: press Ctrl+C (or Cmd+C) to copy.";
      }
    });
  }
})();
