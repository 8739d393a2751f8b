/* The satisfaction survey pop-up (滿意度問卷): an accessible modal dialog.
 *
 * Markup: templates/public/survey/_invite.html.  Without this script the invitation is a
 * plain link to the survey page.  With it:
 *   - the dialog opens by itself once (data-autoopen) and from the invitation link;
 *   - focus moves into the dialog and Tab / Shift+Tab stay inside it;
 *   - Escape, the close button and "No, thanks" close it and record a dismissal (once;
 *     the invitation link can still reopen it);
 *   - on close, focus returns to the element that had it before (the invitation link,
 *     or the main content when the dialog opened by itself; after an answer, the thanks);
 *   - answers are sent with fetch (JSON); errors are announced inside the dialog.
 * No inline script or style: the page's CSP is script-src 'self'.
 */
(function () {
  "use strict";

  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function post(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        return { ok: resp.ok, status: resp.status, data: data };
      });
    });
  }

  function setup(dialog) {
    var invite = document.querySelector("[data-survey-invite]");
    var openers = document.querySelectorAll('[data-survey-open="' + dialog.id + '"]');
    var answerForm = dialog.querySelector("[data-survey-answer]");
    var dismissForm = dialog.querySelector("[data-survey-dismiss]");
    var status = dialog.querySelector("[data-survey-status]");
    var thanks = dialog.querySelector("[data-survey-thanks]");
    var choose = dialog.querySelector("[data-survey-choose]");
    var returnTo = null;
    var answered = false;   // answered: the invitation is over
    var dismissed = false;  // dismissal recorded once; the link may still reopen it
    var native = typeof dialog.showModal === "function";

    function focusables() {
      return Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), visible);
    }

    function open(trigger) {
      if (answered || dialog.hasAttribute("open")) { return; }
      returnTo = trigger || document.activeElement;
      if (native) {
        dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
        dialog.setAttribute("role", "dialog");
        dialog.setAttribute("aria-modal", "true");
      }
      var first = dialog.querySelector('input[type="radio"]') || focusables()[0];
      if (first) { first.focus(); }
    }

    function restoreFocus() {
      var target = returnTo;
      if (!target || target === document.body || !document.contains(target) || !visible(target)) {
        target = (answered && invite && invite.querySelector("[data-survey-done]")) ||
          document.getElementById("main") || document.querySelector("main") || document.body;
      }
      if (target && typeof target.focus === "function") { target.focus(); }
    }

    function close() {
      if (native && dialog.open) {
        dialog.close();
        restoreFocus();  // now, not later: the "close" event is dispatched asynchronously
      } else if (!native && dialog.hasAttribute("open")) {
        dialog.removeAttribute("open");
        restoreFocus();
      }
    }

    function done(message) {
      answered = true;
      if (invite) {
        Array.prototype.forEach.call(openers, function (el) { el.hidden = true; });
        var live = invite.querySelector("[data-survey-done]");
        if (live) { live.textContent = message; }
      }
    }

    function dismiss() {
      if (!answered && !dismissed) {
        dismissed = true;
        post(dismissForm).catch(function () { /* the next page asks again: harmless */ });
      }
      close();
    }

    dialog.addEventListener("close", function () {  // closed some other way
      if (!dialog.contains(document.activeElement) && document.activeElement !== document.body) { return; }
      restoreFocus();
    });
    dialog.addEventListener("cancel", function (event) {  // Escape in a native modal dialog
      event.preventDefault();
      dismiss();
    });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") {
        event.preventDefault();
        dismiss();
        return;
      }
      if (event.key !== "Tab") { return; }
      var items = focusables();
      if (!items.length) { event.preventDefault(); return; }
      var first = items[0];
      var last = items[items.length - 1];
      var active = document.activeElement;
      if (event.shiftKey && (active === first || !dialog.contains(active))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
        event.preventDefault();
        first.focus();
      }
    });
    // Without a native modal, focus could still wander out: pull it back in.
    document.addEventListener("focusin", function (event) {
      if (dialog.hasAttribute("open") && !dialog.contains(event.target)) {
        var items = focusables();
        if (items.length) { items[0].focus(); }
      }
    });

    Array.prototype.forEach.call(dialog.querySelectorAll("[data-survey-close]"), function (button) {
      button.addEventListener("click", dismiss);
    });
    dismissForm.addEventListener("submit", function (event) {
      event.preventDefault();
      dismiss();
    });
    answerForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var missing = ["overall", "ease"].filter(function (name) {
        return !answerForm.querySelector('input[name="' + name + '"]:checked');
      });
      if (missing.length) {
        status.textContent = choose ? choose.textContent : "";
        var group = answerForm.querySelector('input[name="' + missing[0] + '"]');
        if (group) { group.focus(); }
        return;
      }
      status.textContent = "";
      post(answerForm).then(function (result) {
        if (result.ok || result.status === 409) {
          done((result.data && result.data.message) || (thanks ? thanks.textContent : ""));
          close();
        } else {
          status.textContent = (result.data && result.data.message) || "";
          var field = result.data && result.data.field &&
            answerForm.querySelector('[name="' + result.data.field + '"]');
          if (field) { field.focus(); }
        }
      }).catch(function () {
        answerForm.submit();  // no network answer: fall back to a plain post
      });
    });

    Array.prototype.forEach.call(openers, function (link) {
      link.setAttribute("role", "button");
      link.setAttribute("aria-controls", dialog.id);
      link.addEventListener("click", function (event) {
        event.preventDefault();
        open(link);
      });
      link.addEventListener("keydown", function (event) {
        if (event.key === " ") { event.preventDefault(); open(link); }
      });
    });

    if (dialog.hasAttribute("data-autoopen")) { open(null); }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-survey-dialog]"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
