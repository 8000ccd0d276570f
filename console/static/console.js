// Callout console: small enhancements; every page works without them.
"use strict";
(function () {
  // Show only the chosen authentication type's settings.
  var sw = document.querySelector("[data-auth-switch]");
  if (sw) {
    var show = function () {
      document.querySelectorAll("[data-auth]").forEach(function (el) {
        el.hidden = el.getAttribute("data-auth") !== sw.value;
      });
    };
    sw.addEventListener("change", show);
    show();
  }
  // Generate a Standard Webhooks signing secret in the browser: whsec_ and
  // the base64 of 32 random bytes. It never comes from the server.
  document.querySelectorAll("[data-generate]").forEach(function (btn) {
    var input = document.getElementById(btn.getAttribute("data-generate"));
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var bytes = new Uint8Array(32);
      crypto.getRandomValues(bytes);
      input.value = "whsec_" + btoa(String.fromCharCode.apply(null, bytes));
      input.focus();
      input.select();
    });
  });
})();
