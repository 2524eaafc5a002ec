/* The renewal link's page (portal/holder/renew.html). The reminder's link is /renew/#<token>: a browser
   never sends a URL's fragment, so the one-time token reaches no access log. This script takes it from
   the fragment, removes it from the address bar (and so from the history), and posts it with the page's
   form. The token waits in this tab's session storage (for a holder who must sign in first, and for the
   confirmation button, so that the server never writes it into a page) and is dropped once used. A static file: the Content-Security-Policy forbids
   inline scripts. */
(function () {
  "use strict";
  // The decline link's page (renew_decline.html) keeps its token under its own key.
  var keyed = document.querySelector("[data-renewal-key]");
  var KEY = (keyed && keyed.dataset.renewalKey) || "cpx-renewal-token";
  var store = null;
  try { store = window.sessionStorage; } catch (e) { store = null; }
  if (document.querySelector("[data-renewal-done]")) {
    if (store) { store.removeItem(KEY); }
    return;
  }
  var confirm = document.querySelector("[data-renewal-confirm]");
  if (confirm) {
    confirm.elements.token.value = (store && store.getItem(KEY)) || "";
    confirm.addEventListener("submit", function () { if (store) { store.removeItem(KEY); } });
    return;
  }
  var box = document.querySelector("[data-renewal-link]");
  if (!box) { return; }
  var token = window.location.hash.replace(/^#/, "");
  if (token) {
    if (store) { store.setItem(KEY, token); }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  } else if (store) {
    token = store.getItem(KEY) || "";
  }
  if (!token) {
    box.querySelector("[data-renewal-missing]").hidden = false;
    return;
  }
  if (box.dataset.signedIn !== "true") {
    box.querySelector("[data-renewal-sign-in]").hidden = false;
    return;
  }
  var form = box.querySelector("[data-renewal-form]");
  form.elements.token.value = token;
  form.hidden = false;
  form.submit();
})();
