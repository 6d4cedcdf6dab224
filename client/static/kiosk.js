/* The kiosk's scan-to-count: on the outbound and inbound pages a scanner (keyboard wedge: the code,
   then Enter) adds one to the line of that product; the typed quantities can be corrected by hand.
   Without this script Enter posts action=scan and the server counts the same way. */
(function () {
  "use strict";

  function milli(text) {
    var n = parseFloat(String(text || "").replace(/,/g, ""));
    return isNaN(n) ? 0 : Math.round(n * 1000);
  }

  function show(message, text, good) {
    message.textContent = text;
    message.className = "scan-message " + (good ? "good" : "bad");
  }

  function count(form, input, message) {
    var code = input.value.trim();
    input.value = "";
    if (code === "") return;
    var rows = form.querySelectorAll("tr.count-line");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      if (row.dataset.code !== code && (row.dataset.barcode || "") !== code) continue;
      var box = row.querySelector(".count-input");
      var remaining = milli(row.dataset.remaining);
      var now = box ? milli(box.value) : remaining;
      if (!box || now + 1000 > remaining) {
        show(message, code + ": " + message.dataset.full, false);
        return;
      }
      box.value = String((now + 1000) / 1000);
      row.classList.add("counted", "flash-hit");
      window.setTimeout(function (r) { return function () { r.classList.remove("flash-hit"); }; }(row), 400);
      show(message, row.dataset.code + " → " + box.value, true);
      return;
    }
    show(message, code + ": " + message.dataset.unknown, false);
  }

  function wire(form) {
    var input = form.querySelector("input[data-count]");
    var message = form.querySelector("#scan-message");
    if (!input || !message) return;
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      e.preventDefault(); // a scan counts; it never submits the form
      count(form, input, message);
      input.focus();
    });
    var button = form.querySelector("#scan-count");
    if (button) {
      button.addEventListener("click", function (e) {
        e.preventDefault();
        count(form, input, message);
        input.focus();
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    // the field to type in has the focus even when the browser skipped autofocus (e.g. after a back navigation)
    var wanted = document.querySelector("[autofocus]");
    if (wanted && (document.activeElement === document.body || !document.activeElement)) wanted.focus();
    var forms = document.querySelectorAll("form[data-scan-form]");
    for (var i = 0; i < forms.length; i++) wire(forms[i]);
  });
})();
