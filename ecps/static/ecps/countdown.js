/* The activation code's countdown (ecps/activation_code.html): a static file, so that the
   Content-Security-Policy can forbid inline scripts. The code fades once expired. */
(function () {
  "use strict";
  var el = document.getElementById("countdown");
  if (!el) { return; }
  var left = parseInt(el.dataset.seconds, 10);
  var timer = setInterval(function () {
    left -= 1;
    el.textContent = Math.max(left, 0);
    if (left <= 0) {
      clearInterval(timer);
      document.getElementById("activation-qr").classList.add("ecps-expired");
    }
  }, 1000);
})();
