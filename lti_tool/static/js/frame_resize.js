// lti.frameResize: inside an LMS frame, tell the LMS the page's height on load and whenever it
// changes (charts drawn, a table sorted), so that the LMS grows its frame to fit instead of the
// tool scrolling inside a fixed box. Only a height is sent, so any parent may read it.
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var sent = 0;
  function contentHeight() {
    // The body's own height with its margins: the document's scrollHeight never falls below the
    // frame's height, so a short page after a long one would keep the long page's frame.
    var body = document.body;
    var style = window.getComputedStyle(body);
    return Math.ceil(body.getBoundingClientRect().height +
      parseFloat(style.marginTop) + parseFloat(style.marginBottom));
  }
  function send() {
    var height = contentHeight();
    if (height === sent) { return; }
    sent = height;
    window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
  }
  window.addEventListener("load", send);
  if (window.ResizeObserver) {
    new ResizeObserver(send).observe(document.body);
  }
  send();
})();
