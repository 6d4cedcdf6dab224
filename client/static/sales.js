/* Fieldbook client: the sales line editor (quotes and orders).
   Adds and removes lines, picks products by code or name (GET /products/pick), defaults the unit
   price to the product's price and computes each line's amount and the total live, the same way as
   shared/sales/money.py (half-up to the fen). The server recomputes everything when the form is saved. */
(function () {
  "use strict";

  function num(text) {
    var t = String(text || "").trim().replace(/,/g, "");
    if (t === "") return 0;
    var n = Number(t);
    return isFinite(n) ? n : NaN;
  }

  function roundHalfUp(x) {
    // x is a positive amount in fen with float noise; 6 places remove the noise first
    var cleaned = Number(x.toFixed(6));
    return cleaned < 0 ? -Math.round(-cleaned) : Math.round(cleaned);
  }

  function lineFen(q, p, d, t) {
    var netFen = roundHalfUp(q * p * (100 - d) / 100 * 100);
    var taxFen = roundHalfUp(netFen * t / 100);
    return netFen + taxFen;
  }

  function money(fen) {
    var negative = fen < 0;
    var s = (Math.abs(fen) / 100).toFixed(2);
    var parts = s.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-" : "") + parts.join(".");
  }

  function recompute(editor) {
    var total = 0;
    var ok = true;
    editor.querySelectorAll("tr.line").forEach(function (row) {
      var q = num(row.querySelector(".l-qty").value);
      var p = num(row.querySelector(".l-price").value);
      var d = num(row.querySelector(".l-discount").value);
      var t = num(row.querySelector(".l-tax").value);
      var cell = row.querySelector(".l-amount");
      if ([q, p, d, t].some(isNaN) || q < 0 || p < 0 || d < 0 || d > 100 || t < 0 || t > 100) {
        cell.textContent = "—";
        ok = false;
        return;
      }
      var amount = lineFen(q, p, d, t);
      cell.textContent = money(amount);
      total += amount;
    });
    var out = document.getElementById("doc-total");
    if (out) out.textContent = ok ? money(total) : "—";
  }

  function choose(row, product) {
    row.querySelector(".l-product").value = product.id;
    row.querySelector(".l-search").value = product.code + " " + product.name;
    row.querySelector(".l-unit").textContent = product.unit || "";
    row.querySelector(".l-spec").textContent = product.spec || "";
    showAvailable(row.closest("#line-editor"), row, product);
    var price = row.querySelector(".l-price");
    if (price.value.trim() === "" || price.dataset.defaulted === "1") {
      price.value = product.price == null ? "" : String(product.price);
      price.dataset.defaulted = "1";
    }
    var qty = row.querySelector(".l-qty");
    if (qty.value.trim() === "") qty.value = "1";
    closeList(row);
    recompute(row.closest("#line-editor"));
    qty.focus();
    qty.select();
  }

  function availableText(editor, product) {
    if (product.available === null || product.available === undefined) return editor.dataset.noStock || "";
    return (editor.dataset.available || "{quantity}").replace("{quantity}", String(product.available));
  }

  function showAvailable(editor, row, product) {
    var cell = row.querySelector(".l-avail");
    if (!cell) return;
    cell.textContent = availableText(editor, product);
    cell.classList.toggle("negative", product.available !== null && product.available !== undefined && product.available <= 0);
  }

  function closeList(row) {
    var list = row.querySelector(".pick-list");
    list.hidden = true;
    list.innerHTML = "";
    row._matches = [];
  }

  function search(editor, row) {
    var input = row.querySelector(".l-search");
    var q = input.value.trim();
    var list = row.querySelector(".pick-list");
    if (q === "") { closeList(row); return; }
    var url = editor.dataset.pickUrl + "?q=" + encodeURIComponent(q);
    var asked = q;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) {
        if (input.value.trim() !== asked) return; // typed on meanwhile
        row._matches = data.items || [];
        list.innerHTML = "";
        if (!row._matches.length) {
          var none = document.createElement("li");
          none.className = "muted";
          none.textContent = editor.dataset.noMatch;
          list.appendChild(none);
        }
        row._matches.forEach(function (p) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button";
          b.className = "pick";
          b.setAttribute("role", "option");
          b.dataset.code = p.code;
          b.textContent = p.code + " · " + p.name + (p.spec ? " · " + p.spec : "") + " · " + money(Math.round(p.price * 100)) + (p.unit ? "/" + p.unit : "");
          var avail = document.createElement("span");
          avail.className = "pick-avail muted";
          avail.textContent = " · " + availableText(editor, p);
          b.appendChild(avail);
          b.addEventListener("click", function () { choose(row, p); });
          li.appendChild(b);
          list.appendChild(li);
        });
        list.hidden = false;
      })
      .catch(function () { /* the local app is down: nothing to pick */ });
  }

  function wire(editor) {
    var tbody = editor.querySelector("#line-rows");
    var template = editor.querySelector("#line-template");
    var next = 0;
    tbody.querySelectorAll("tr.line").forEach(function (row) {
      next = Math.max(next, Number(row.dataset.index) + 1);
    });

    document.getElementById("add-line").addEventListener("click", function () {
      var html = template.innerHTML.replace(/__i__/g, String(next++));
      tbody.insertAdjacentHTML("beforeend", html);
      var rows = tbody.querySelectorAll("tr.line");
      rows[rows.length - 1].querySelector(".l-search").focus();
      recompute(editor);
    });

    var timers = new WeakMap();
    editor.addEventListener("input", function (e) {
      var row = e.target.closest("tr.line");
      if (!row) return;
      if (e.target.classList.contains("l-search")) {
        row.querySelector(".l-product").value = ""; // a product counts only when picked
        var availCell = row.querySelector(".l-avail");
        if (availCell) availCell.textContent = "";
        clearTimeout(timers.get(row));
        timers.set(row, setTimeout(function () { search(editor, row); }, 200));
        return;
      }
      if (e.target.classList.contains("l-price")) e.target.dataset.defaulted = "0";
      recompute(editor);
    });

    editor.addEventListener("keydown", function (e) {
      if (!e.target.classList.contains("l-search")) return;
      var row = e.target.closest("tr.line");
      if (e.key === "Enter") {
        e.preventDefault(); // never submit the form from the picker
        var matches = row._matches || [];
        var typed = e.target.value.trim().toLowerCase();
        var exact = matches.filter(function (p) { return p.code.toLowerCase() === typed; })[0];
        if (exact || matches.length === 1) choose(row, exact || matches[0]);
      } else if (e.key === "Escape") {
        closeList(row);
      }
    });

    editor.addEventListener("click", function (e) {
      var remove = e.target.closest(".l-remove");
      if (!remove) return;
      var row = remove.closest("tr.line");
      if (tbody.querySelectorAll("tr.line").length > 1) {
        row.remove();
      } else { // keep one empty line to type into
        row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
        row.querySelector(".l-unit").textContent = "";
        row.querySelector(".l-spec").textContent = "";
        var availEmpty = row.querySelector(".l-avail");
        if (availEmpty) availEmpty.textContent = "";
      }
      recompute(editor);
    });

    recompute(editor);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var editor = document.getElementById("line-editor");
    if (editor) wire(editor);
  });
})();
