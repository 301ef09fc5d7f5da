// LTI Platform Storage (the LTI client-side postMessages): ask the LMS's frame to keep a value
// for us, or to give one back, where cookies in the iframe may be blocked.
(function () {
  "use strict";
  var TIMEOUT_MS = 2000;

  function targetFrame(name) {
    if (window.parent === window) { return null; }
    if (!name || name === "_parent") { return window.parent; }
    try { return window.parent.frames[name] || null; } catch (e) { return null; }
  }

  function send(name, origin, message) {
    return new Promise(function (resolve, reject) {
      var frame = targetFrame(name);
      if (!frame) { reject(new Error("no LMS frame to ask")); return; }
      var id = "lti-tool-" + Date.now() + "-" + Math.random().toString(36).slice(2);
      message.message_id = id;
      var timer = window.setTimeout(function () {
        window.removeEventListener("message", onMessage);
        reject(new Error("the LMS did not answer " + message.subject));
      }, TIMEOUT_MS);
      function onMessage(event) {
        var data = event.data;
        if (!data || typeof data !== "object" || data.message_id !== id) { return; }
        if (data.subject !== message.subject + ".response") { return; }
        if (origin !== "*" && event.origin !== origin) { return; }
        window.clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (data.error) { reject(new Error(String(data.error.message || data.error.code))); }
        else { resolve(data); }
      }
      window.addEventListener("message", onMessage);
      frame.postMessage(message, origin);
    });
  }

  window.ltiStorage = {
    // Whether the LMS offers both put_data and get_data (capabilities may come from any origin).
    capable: function (name) {
      return send(name, "*", { subject: "lti.capabilities" }).then(function (data) {
        var subjects = (data.supported_messages || []).map(function (m) { return m.subject; });
        return subjects.indexOf("lti.put_data") !== -1 && subjects.indexOf("lti.get_data") !== -1;
      });
    },
    put: function (name, origin, key, value) {
      return send(name, origin, { subject: "lti.put_data", key: key, value: value });
    },
    get: function (name, origin, key) {
      return send(name, origin, { subject: "lti.get_data", key: key }).then(function (data) {
        return data.value;
      });
    }
  };
})();
