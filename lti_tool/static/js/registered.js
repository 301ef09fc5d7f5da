// Dynamic registration is done: ask the LMS to close the registration window (LTI DR 1.0).
(function () {
  "use strict";
  var box = document.getElementById("lti-registered");
  if (!box) { return; }
  var target = window.opener || window.parent;
  if (target && target !== window) {
    target.postMessage({ subject: box.getAttribute("data-close-message") }, "*");
  }
})();
