// Inside the LMS iframe: check that the browser keeps a cookie for us, then continue the
// OIDC login; otherwise offer to open the tool in a new window.
(function () {
  "use strict";
  var box = document.getElementById("lti-cookie-check");
  if (!box) { return; }
  var secure = window.location.protocol === "https:";
  document.cookie = "lti1p3_test_cookie=1; path=/" +
    (secure ? "; SameSite=None; Secure; Partitioned" : "; SameSite=Lax");
  if (document.cookie.indexOf("lti1p3_test_cookie=1") !== -1) {
    window.location.href = box.getAttribute("data-auth-url");
  } else {
    document.getElementById("lti-loading").hidden = true;
    document.getElementById("lti-blocked").hidden = false;
  }
})();
