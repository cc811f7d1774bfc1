/* Student Support Page runtime. Plain DOM (no jQuery), ES5, so the same code runs on PowerSchool
   and in the offline preview. This file is inlined into the page, which PowerSchool parses for
   its own tags: it must never contain a tilde or a closing script tag.

   sspGrid(table, options, customise) runs customise(keep) with only that table's tlist visible to
   PowerSchool's tlistText2* helpers (they select cells by column class across the whole page, and
   two tables may share a column name, e.g. PURPOSE), then adds what the helpers cannot do:
   checkbox groups for multichoice fields, time entry, date widget class, a UUID and defaults on
   new rows. */
(function (window, document) {
  "use strict";

  var queue = [];
  var started = false;
  var page = { labels: {}, form: "ssp-form" };
  var grids = [];
  var NOT_IN_LIST = " (no longer in the list)";
  var TIME = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

  function each(list, fn) { Array.prototype.forEach.call(list || [], fn); }

  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function cells(grid, col) { return grid.querySelectorAll("td.td-" + col); }

  function fieldOf(name) {
    var at = String(name || "").lastIndexOf("]");
    return String(name || "").slice(at + 1).split("$")[0];
  }

  function uuid() {
    var c = window.crypto || window.msCrypto;
    if (c && typeof c.randomUUID === "function") { return c.randomUUID(); }
    var b = new Uint8Array(16), i, h = [];
    if (c && c.getRandomValues) { c.getRandomValues(b); }
    else { for (i = 0; i < 16; i++) { b[i] = Math.floor(Math.random() * 256); } }
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (i = 0; i < 16; i++) { h.push((b[i] + 256).toString(16).slice(1)); }
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  /* Run fn with every other tlist hidden from the helpers' ".tlistCollectionTable" selector. */
  function isolate(grid, fn) {
    var others = [];
    each(document.querySelectorAll(".tlistCollectionTable"), function (el) {
      if (!grid.contains(el) && !el.contains(grid)) { others.push(el); el.classList.remove("tlistCollectionTable"); }
    });
    try { fn(); } finally { each(others, function (el) { el.classList.add("tlistCollectionTable"); }); }
  }

  /* The helpers insert values as raw HTML: escape them first so stored text stays text. */
  function preEscape(grid, cols) {
    each(cols, function (col) {
      each(cells(grid, col), function (td) {
        var input = td.querySelector("input");
        if (input && input.hasAttribute("value")) { input.setAttribute("value", escapeHtml(input.getAttribute("value"))); }
      });
    });
  }

  /* keep(col, pairs): the dropdown pairs plus any stored value no longer in the list, so saving
     a row never silently blanks it. Records each row's value to restore the selection after. */
  function keeper(grid, originals) {
    return function (col, pairs) {
      var known = Object.create(null), out = pairs.slice();
      each(pairs, function (p) { known[p[0]] = true; });
      each(cells(grid, col), function (td) {
        var input = td.querySelector("input"), value, escaped;
        if (!input) { return; }
        value = input.getAttribute("value") || "";
        if (input.getAttribute("name")) { originals[input.getAttribute("name")] = value; }
        escaped = escapeHtml(value);
        if (value && !known[escaped]) { known[escaped] = true; out.push([escaped, escaped + NOT_IN_LIST]); }
      });
      return out;
    };
  }

  function restoreSelections(grid, originals) {
    each(grid.querySelectorAll("select"), function (select) {
      var name = select.getAttribute("name") || select.getAttribute("data-name");
      select.setAttribute("data-field", fieldOf(name));
      if (select.getAttribute("name") && Object.prototype.hasOwnProperty.call(originals, name)) {
        select.value = originals[name];
      }
    });
  }

  function multiBox(col, pairs, input) {
    var box = document.createElement("span"), current = {}, listed = {};
    box.className = "ssp-multi";
    box.setAttribute("data-field", col);
    each((input.value || "").split(","), function (code) { if (code.trim()) { current[code.trim()] = true; } });
    each(pairs, function (p) { listed[p[0]] = true; });
    Object.keys(current).forEach(function (code) { if (!listed[code]) { pairs = pairs.concat([[code, code + NOT_IN_LIST]]); } });
    each(pairs, function (p) {
      var label = document.createElement("label"), box1 = document.createElement("input");
      box1.type = "checkbox";
      box1.className = "ssp-multi-option";
      box1.value = p[0];
      box1.checked = !!current[p[0]];
      label.appendChild(box1);
      label.appendChild(document.createTextNode(" " + p[1]));
      box.appendChild(label);
    });
    return box;
  }

  function textInput(td) {
    var found = null;
    each(td.querySelectorAll("input"), function (i) {
      if (!found && i.type !== "checkbox" && !i.classList.contains("ssp-multi-option")) { found = i; }
    });
    return found;
  }

  /* Attributes only, idempotent: safe to rerun on rows PowerSchool adds (behaviour is delegated). */
  function enhance(grid, options) {
    Object.keys(options.multi).forEach(function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td);
        if (!input || td.querySelector(".ssp-multi")) { return; }
        input.style.display = "none";
        input.setAttribute("data-ssp-multi", col);
        td.appendChild(multiBox(col, options.multi[col], input));
      });
    });
    each(options.time, function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td);
        if (!input) { return; }
        input.classList.add("timeEntry");
        input.setAttribute("data-field", col);
        input.setAttribute("pattern", "([01][0-9]|2[0-3]):[0-5][0-9]");
        input.setAttribute("placeholder", "HH:MM");
        input.setAttribute("maxlength", "5");
        input.setAttribute("title", "Time as HH:MM (24-hour)");
      });
    });
    each(options.date, function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td);
        if (input) { input.classList.add("psDateWidget"); input.setAttribute("data-field", col); }
      });
    });
    [options.uid].concat(Object.keys(options.defaults)).forEach(function (col) {
      each(cells(grid, col), function (td) {
        var input = td.querySelector("input");
        if (input) { input.readOnly = true; input.setAttribute("data-field", col); input.setAttribute("placeholder", "set on save"); }
      });
    });
  }

  function labelStatic(grid, options) {
    Object.keys(options.staticLabels).forEach(function (col) {
      var labels = page.labels[options.staticLabels[col]] || {};
      each(cells(grid, col), function (td) {
        each(td.querySelectorAll("p"), function (p) {
          var code = p.textContent;
          if (Object.prototype.hasOwnProperty.call(labels, code)) { p.textContent = labels[code]; p.title = code; }
        });
      });
    });
  }

  function rowHasData(tr, skip) {
    var found = false;
    each(tr.querySelectorAll("input[name], select[name], textarea[name]"), function (el) {
      if (found || skip[fieldOf(el.getAttribute("name"))]) { return; }
      found = el.type === "checkbox" ? el.checked : (el.type !== "hidden" && String(el.value).trim() !== "");
    });
    return found;
  }

  /* A new row (its SSP_UID input still exists and has a name) gets a UUID and its defaults once
     it holds data; empty added rows stay empty so PowerSchool can ignore them. */
  function fillNewRow(tr, options) {
    var skip = {}, uidInput = null;
    skip[options.uid] = true;
    Object.keys(options.defaults).forEach(function (col) { skip[col] = true; });
    each(tr.querySelectorAll("td.td-" + options.uid + " input[name]"), function (i) { uidInput = i; });
    if (!uidInput || uidInput.value || !rowHasData(tr, skip)) { return; }
    uidInput.value = uuid();
    Object.keys(options.defaults).forEach(function (col) {
      each(tr.querySelectorAll("td.td-" + col + " input[name]"), function (i) { if (!i.value) { i.value = options.defaults[col]; } });
    });
  }

  function syncMulti(td) {
    var input = td.querySelector("input[data-ssp-multi]"), codes = [];
    if (!input) { return; }
    each(td.querySelectorAll("input.ssp-multi-option"), function (b) { if (b.checked) { codes.push(b.value); } });
    input.value = codes.join(",");
  }

  function normaliseTime(input) {
    var v = String(input.value || "").trim(), m = /^([0-9]{1,2}):?([0-9]{2})$/.exec(v);
    if (m) { v = (m[1].length === 1 ? "0" : "") + m[1] + ":" + m[2]; }
    input.value = v;
  }

  function listen(grid, options) {
    var onEdit = function (event) {
      var t = event.target, td = t.closest ? t.closest("td") : null, tr = t.closest ? t.closest("tr") : null;
      if (td && t.classList.contains("ssp-multi-option")) { syncMulti(td); }
      if (tr) { fillNewRow(tr, options); }
    };
    grid.addEventListener("change", onEdit);
    grid.addEventListener("input", onEdit);
    grid.addEventListener("focusout", function (event) {
      if (event.target.classList && event.target.classList.contains("timeEntry")) { normaliseTime(event.target); }
    });
    if (window.MutationObserver) {
      new window.MutationObserver(function () { enhance(grid, options); }).observe(grid, { childList: true, subtree: true });
    }
  }

  function setupGrid(table, options, customise) {
    var grid = document.getElementById("ssp-grid-" + table), originals = {};
    if (!grid) { return; }
    preEscape(grid, options.escape);
    try {
      isolate(grid, function () { customise(keeper(grid, originals)); });
    } catch (err) {
      /* e.g. tlistCustomization.js missing: keep ids, defaults and widgets working regardless */
      report(table, err);
    }
    restoreSelections(grid, originals);
    labelStatic(grid, options);
    enhance(grid, options);
    listen(grid, options);
    grids.push({ grid: grid, options: options });
  }

  function labelListings() {
    each(document.querySelectorAll("td[data-choice]"), function (td) {
      var labels = page.labels[td.getAttribute("data-choice")] || {};
      var codes = td.textContent.split(",").map(function (c) { return c.trim(); }).filter(Boolean);
      if (codes.length) {
        td.title = codes.join(",");
        td.textContent = codes.map(function (c) { return Object.prototype.hasOwnProperty.call(labels, c) ? labels[c] : c; }).join(", ");
      }
    });
  }

  function beforeSubmit(event) {
    var bad = null;
    grids.forEach(function (g) {
      each(g.grid.querySelectorAll("tr"), function (tr) { fillNewRow(tr, g.options); });
      each(g.grid.querySelectorAll("input.timeEntry[name]"), function (i) {
        normaliseTime(i);
        if (!bad && i.value && !TIME.test(i.value)) { bad = i; }
      });
    });
    if (bad && event) {
      event.preventDefault();
      bad.focus();
      window.alert("Please enter times as HH:MM (24-hour), for example 09:30.");
    }
  }

  function report(table, err) {
    if (window.console && window.console.error) { window.console.error("Student Support Page: " + table, err); }
  }

  function safely(args) {
    try { setupGrid.apply(null, args); } catch (err) { report(args[0], err); }
  }

  function run() {
    var form;
    if (started) { return; }
    started = true;
    while (queue.length) { safely(queue.shift()); }
    labelListings();
    form = document.getElementById(page.form);
    if (form) { form.addEventListener("submit", beforeSubmit); }
    document.dispatchEvent(new window.CustomEvent("ssp:ready"));
  }

  window.sspPage = function (config) { page = config; };
  window.sspGrid = function (table, options, customise) {
    if (started) { safely([table, options, customise]); } else { queue.push([table, options, customise]); }
  };
  window.sspBeforeSubmit = beforeSubmit;
  window.sspUuid = uuid;

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", run); }
  else { window.setTimeout(run, 0); }
}(window, document));
