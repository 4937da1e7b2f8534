// Passkeys in the portal: add one, log in with one, confirm a cancellation with one.
// No library; the server verifies everything. A button carries
// the URLs of its ceremony (data-options, data-finish); the page's texts come translated in
// data attributes, so nothing here is in one language.
(function () {
  "use strict";
  // base64url <-> bytes: the portal's /static/base64url.js, loaded just before this file.
  var toBytes = window.esimcareBase64url.toBytes, toB64url = window.esimcareBase64url.toB64url;
  function post(url, fields) {
    return fetch(url, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (j) { if (!r.ok || j.error) { throw new Error(j.error || String(r.status)); } return j; });
      });
  }
  function show(button, message) {
    var box = document.getElementById("passkey-error");
    if (!box) { return; }
    box.hidden = false;
    box.textContent = message;
    box.focus();
    box.scrollIntoView({ block: "center" });
    button.disabled = false;
  }
  function descriptors(list) {
    return (list || []).map(function (d) { return { type: d.type, id: toBytes(d.id), transports: d.transports }; });
  }
  function valueOf(id) { var field = document.getElementById(id); return field ? field.value : ""; }
  function created(cred) {
    return { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      response: { clientDataJSON: toB64url(cred.response.clientDataJSON),
                  attestationObject: toB64url(cred.response.attestationObject) } };
  }
  function asserted(cred) {
    var r = cred.response;
    return { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      response: { clientDataJSON: toB64url(r.clientDataJSON), authenticatorData: toB64url(r.authenticatorData),
                  signature: toB64url(r.signature), userHandle: r.userHandle ? toB64url(r.userHandle) : null } };
  }
  function askAuthenticator(kind, o) {
    o.challenge = toBytes(o.challenge);
    if (kind === "create") {
      o.user.id = toBytes(o.user.id);
      o.excludeCredentials = descriptors(o.excludeCredentials);
      return navigator.credentials.create({ publicKey: o }).then(created);
    }
    o.allowCredentials = descriptors(o.allowCredentials);
    return navigator.credentials.get({ publicKey: o }).then(asserted);
  }
  function run(button) {
    var csrf = button.dataset.csrf, kind = button.dataset.kind;
    button.disabled = true;
    post(button.dataset.options, { csrf: csrf, password: valueOf("passkey-password") }).then(function (o) {
      if (o.next) { return o; }
      return askAuthenticator(kind, o).then(function (answer) {
        return post(button.dataset.finish, { csrf: csrf, credential: JSON.stringify(answer), label: valueOf("passkey-label") });
      });
    }).then(function (j) { window.location.assign(j.next); }).catch(function (err) {
      // NotAllowedError: the person closed the prompt or the time ran out.
      var cancelled = err && err.name === "NotAllowedError";
      show(button, cancelled ? button.dataset.cancelled : String(err && err.message || err));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential) { return; }  // the buttons stay hidden
    var buttons = document.querySelectorAll("[data-passkey]");
    for (var i = 0; i < buttons.length; i++) {
      (function (button) {
        button.hidden = false;
        button.addEventListener("click", function () { run(button); });
      })(buttons[i]);
    }
  });
})();
