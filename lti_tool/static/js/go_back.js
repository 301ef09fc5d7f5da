// "Go back" on pages reached without a course session: shown only when there is a page to go
// back to (inside the LMS frame that is the previous tool page or the launch).
(function () {
  "use strict";
  document.querySelectorAll("[data-back]").forEach(function (button) {
    if (window.history.length > 1) {
      button.hidden = false;
      button.addEventListener("click", function () { window.history.back(); });
    }
  });
})();
