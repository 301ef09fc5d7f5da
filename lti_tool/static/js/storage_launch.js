// The launch page when the state cookie did not come back: ask the LMS for the state it kept
// (platform storage) and send the launch again with it.
(function () {
  "use strict";
  var form = document.getElementById("lti-storage-launch");
  if (!form || !window.ltiStorage) { return; }
  var target = form.getAttribute("data-storage-target");
  var origin = form.getAttribute("data-storage-origin");
  window.ltiStorage.get(target, origin, form.getAttribute("data-key")).then(function (value) {
    form.elements.lti_storage_state.value = value || "";
    form.submit();
  }, function () {
    document.getElementById("lti-loading").hidden = true;
    document.getElementById("lti-storage-failed").hidden = false;
  });
})();
