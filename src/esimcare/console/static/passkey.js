// Passkeys for the staff console: WebAuthn ceremonies against the server's options.
// No library; the server verifies everything.
(function () {
  "use strict";
  // base64url <-> bytes: the portal's /static/base64url.js, loaded just before this file.
  var toBytes = window.esimcareBase64url.toBytes, toB64url = window.esimcareBase64url.toB64url;
  function post(url, csrf, extra) {
    var body = new URLSearchParams(Object.assign({ csrf: csrf }, extra || {}));
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { throw new Error(j.error || r.status); } return j; }); });
  }
  function showError(err) {
    var box = document.getElementById("passkey-error");
    if (box) { box.hidden = false; box.textContent = String(err && err.message || err); }
  }
  function descriptors(list) {
    return (list || []).map(function (d) { return { type: d.type, id: toBytes(d.id), transports: d.transports }; });
  }
  function register(button) {
    var csrf = button.dataset.csrf;
    var label = (document.getElementById("passkey-label") || {}).value || "";
    post("/staff/account/passkeys/options", csrf).then(function (o) {
      o.challenge = toBytes(o.challenge);
      o.user.id = toBytes(o.user.id);
      o.excludeCredentials = descriptors(o.excludeCredentials);
      return navigator.credentials.create({ publicKey: o });
    }).then(function (cred) {
      var answer = { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
        response: { clientDataJSON: toB64url(cred.response.clientDataJSON),
                    attestationObject: toB64url(cred.response.attestationObject) } };
      return post("/staff/account/passkeys", csrf, { credential: JSON.stringify(answer), label: label });
    }).then(function (j) { window.location.assign(j.next); }).catch(showError);
  }
  function login(button) {
    var csrf = button.dataset.csrf;
    post("/staff/login/passkey/options", csrf).then(function (o) {
      o.challenge = toBytes(o.challenge);
      o.allowCredentials = descriptors(o.allowCredentials);
      return navigator.credentials.get({ publicKey: o });
    }).then(function (cred) {
      var r = cred.response;
      var answer = { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
        response: { clientDataJSON: toB64url(r.clientDataJSON), authenticatorData: toB64url(r.authenticatorData),
                    signature: toB64url(r.signature), userHandle: r.userHandle ? toB64url(r.userHandle) : null } };
      return post("/staff/login/passkey", csrf, { credential: JSON.stringify(answer) });
    }).then(function (j) { window.location.assign(j.next); }).catch(showError);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var reg = document.getElementById("passkey-register");
    if (reg) { reg.addEventListener("click", function () { register(reg); }); }
    var log = document.getElementById("passkey-login");
    if (log) { log.addEventListener("click", function () { login(log); }); }
  });
})();
