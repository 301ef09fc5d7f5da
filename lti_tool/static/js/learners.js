// Learners table: "select every learner on this page", the column chooser at once, and "copy
// the addresses".
// A static file (CSP script-src 'self'); the page works without it. Its words come translated
// from the page, in data- attributes of the status element (English if one is missing).
(function () {
  "use strict";
  var say = function (element, name, english) {
    return (element && element.getAttribute("data-" + name)) || english;
  };
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
    var sending = false;
    var again = false;
    var failed = say(status, "failed", "Not saved: reload the page and try again.");
    var saving = say(status, "saving", "Saving…");
    var saved = say(status, "saved", "Saved for this course.");
    // One save at a time, the latest choice last: two in flight could land out of order.
    var save = function () {
      if (sending) { again = true; return; }
      sending = true;
      again = false;
      status.textContent = saving;
      var data = new FormData(chooser);
      data.append("quiet", "1");
      var done = function (ok) {
        sending = false;
        if (again) { save(); return; }
        status.textContent = ok ? saved : failed;
      };
      fetch(chooser.action, {method: "POST", body: data, credentials: "same-origin"}).then(
        function (response) { done(response.ok); },
        function () { done(false); }
      );
    };
    document.getElementById("columns-save").hidden = true;
    chooser.addEventListener("change", function (event) {
      var box = event.target;
      if (!box || box.name !== "show") { return; }
      table.classList.toggle("hide-" + box.value, !box.checked);
      status.textContent = saving;
      save();
    });
  }
  var copy = document.getElementById("copy-addresses");
  if (copy) {
    copy.addEventListener("click", function () {
      var source = document.getElementById(copy.getAttribute("data-source"));
      var status = document.getElementById("copy-status");
      var selected = say(status, "selected", "Selected: press Ctrl+C (or Cmd+C) to copy.");
      var done = function () { status.textContent = say(status, "copied", "Copied."); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(source.value).then(done, function () {
          source.select();
          status.textContent = selected;
        });
      } else {
        source.select();
        status.textContent = selected;
      }
    });
  }
})();
