// Learners table: "select every learner on this page", the column chooser at once, and "copy
// the addresses".
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
  // The column chooser: a ticked box shows its column at once and is kept on the server in the
  // background (quiet=1: no page back); without this script "Save columns" posts the form.
  var chooser = document.getElementById("columns-form");
  var table = document.getElementById("table-learners");
  if (chooser && table && window.fetch && window.FormData) {
    var status = document.getElementById("columns-status");
    document.getElementById("columns-save").hidden = true;
    chooser.addEventListener("change", function (event) {
      var box = event.target;
      if (!box || box.name !== "show") { return; }
      table.classList.toggle("hide-" + box.value, !box.checked);
      var data = new FormData(chooser);
      data.append("quiet", "1");
      status.textContent = "Saving…";
      fetch(chooser.action, {method: "POST", body: data, credentials: "same-origin"}).then(
        function (response) {
          status.textContent = response.ok ? "Saved for this course." : "Not saved: reload the page and try again.";
        },
        function () { status.textContent = "Not saved: reload the page and try again."; }
      );
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
