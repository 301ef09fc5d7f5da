// Submit the page's form.autosubmit at once (LTI form posts); the button stays as a fallback.
(function () {
  "use strict";
  var form = document.querySelector("form.autosubmit");
  if (form) { form.submit(); }
})();
