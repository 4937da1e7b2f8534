// Small comforts for every portal page; each page works without them.
// 1. A result or an error takes focus and scrolls into view, so on a phone it is seen and
//    screen readers announce it.
// 2. Form checks speak the page's language (the texts come from the catalogs via data-*).
// 3. "Copy" buttons copy their text to the clipboard.
(function () {
  "use strict";

  function focusFirstMessage() {
    var message = document.querySelector("[data-focus-on-load]");
    if (!message) { return; }
    if (!message.hasAttribute("tabindex")) { message.setAttribute("tabindex", "-1"); }
    message.focus({ preventScroll: true });
    message.scrollIntoView({ block: "center" });
  }

  function validityText(field, texts) {
    var state = field.validity;
    if (state.valueMissing) { return texts.required; }
    if (state.patternMismatch || state.typeMismatch) { return texts.format; }
    if (state.tooLong || state.tooShort) { return texts.length; }
    return texts.format;
  }

  function translateValidation() {
    var texts = document.body.dataset;
    var messages = {
      required: texts.msgRequired, format: texts.msgFormat, length: texts.msgLength
    };
    document.querySelectorAll("input, select, textarea").forEach(function (field) {
      field.addEventListener("invalid", function () {
        field.setCustomValidity(validityText(field, messages) || "");
      });
      ["input", "change"].forEach(function (kind) {
        field.addEventListener(kind, function () { field.setCustomValidity(""); });
      });
    });
  }

  function enableCopyButtons() {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var status = document.getElementById(button.getAttribute("aria-describedby") || "");
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          if (status) { status.textContent = button.dataset.copied; }
        });
      });
    });
  }

  focusFirstMessage();
  translateValidation();
  enableCopyButtons();
})();
