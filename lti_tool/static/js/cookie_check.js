// The login page inside the LMS iframe. Where the LMS offers platform storage, keep the OIDC
// state there; else check that the browser keeps a cookie for us; else offer a new window.
(function () {
  "use strict";
  var box = document.getElementById("lti-cookie-check");
  if (!box) { return; }
  var authUrl = box.getAttribute("data-auth-url");

  function blocked() {
    document.getElementById("lti-loading").hidden = true;
    document.getElementById("lti-blocked").hidden = false;
  }

  function cookieCheck() {
    var secure = window.location.protocol === "https:";
    document.cookie = "lti1p3_test_cookie=1; path=/" +
      (secure ? "; SameSite=None; Secure; Partitioned" : "; SameSite=Lax");
    if (document.cookie.indexOf("lti1p3_test_cookie=1") !== -1) {
      window.location.href = authUrl;
    } else {
      blocked();
    }
  }

  var target = box.getAttribute("data-storage-target");
  if (!target || !window.ltiStorage) { cookieCheck(); return; }
  var origin = box.getAttribute("data-storage-origin");
  var state = box.getAttribute("data-state");
  window.ltiStorage.capable(target).then(function (capable) {
    if (!capable) { throw new Error("the LMS offers no platform storage"); }
    return window.ltiStorage.put(target, origin, box.getAttribute("data-key"), state);
  }).then(function () { window.location.href = authUrl; }, cookieCheck);
})();
