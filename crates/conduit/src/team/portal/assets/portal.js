// conduit portal: copy buttons and confirmations. No framework, no eval, no inline code
// (the CSP allows only this file).
"use strict";

(function () {
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return selection;
  }

  function fallbackCopy(el) {
    var selection = selectText(el);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    if (ok) {
      selection.removeAllRanges();
    }
    // Not copied: the text stays selected for the person to copy by hand.
    return ok;
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    var text = target.textContent;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    function done(ok) {
      button.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
      window.setTimeout(function () {
        button.textContent = label;
      }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { done(true); },
        function () { done(fallbackCopy(target)); }
      );
    } else {
      done(fallbackCopy(target));
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        event.preventDefault();
        copy(event.currentTarget);
      });
    }
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var j = 0; j < forms.length; j++) {
      forms[j].addEventListener("submit", function (event) {
        if (!window.confirm(event.currentTarget.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    }
  });
})();
