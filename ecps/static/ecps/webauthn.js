// The WebAuthn ceremonies of the e-CPS: registration on the phone, and sign-in at the provider.
// The server speaks the WebAuthn JSON forms (py_webauthn); the browser parses and produces them.
(function () {
  "use strict";

  function csrfToken(form) {
    return form.querySelector("[name=csrfmiddlewaretoken]").value;
  }

  async function post(form, url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(form) },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.message || response.statusText);
      error.code = data.code || "error";
      throw error;
    }
    return data;
  }

  async function enrol(form) {
    const options = await post(form, form.dataset.options, { code: form.elements.code.value });
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
    const credential = await navigator.credentials.create({ publicKey: publicKey });
    return post(form, form.dataset.verify, { credential: credential.toJSON() });
  }

  async function signIn(form) {
    const options = await post(form, form.dataset.options, {});
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
    const credential = await navigator.credentials.get({ publicKey: publicKey });
    return post(form, form.dataset.verify, { credential: credential.toJSON(), next: form.elements.next.value });
  }

  const ceremonies = { enrol: enrol, signin: signIn };

  // The QR code carries the activation code in the URL's fragment (never sent to a server): move it into
  // the form and wipe it from the address bar and the history.
  (function codeFromFragment() {
    const form = document.querySelector("form[data-ecps=enrol]");
    const match = /(?:^#|&)code=([^&]*)/.exec(window.location.hash);
    if (!form || !match) { return; }
    form.elements.code.value = decodeURIComponent(match[1]);
    window.history.replaceState(null, "", window.location.pathname);
  })();

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    const ceremony = ceremonies[form.dataset.ecps];
    if (!ceremony) { return; }
    event.preventDefault();
    const error = document.getElementById("ecps-error");
    error.hidden = true;
    try {
      const done = await ceremony(form);
      window.location.assign(done.redirect);
    } catch (e) {
      error.textContent = e.message || String(e);
      error.dataset.code = e.code || e.name || "error";
      error.hidden = false;
    }
  });
})();
