/* Student Support pages runtime. Plain DOM (no jQuery), ES5, so the same code runs on PowerSchool
   and in the offline preview. This file is inlined into the pages, which PowerSchool parses for
   its own tags: it must never contain a tilde or a closing script tag.

   sspGrid(table, options, customise) runs customise(keep) with only that table's tlist visible to
   PowerSchool's tlistText2* helpers, then adds what the helpers cannot do: column headers as
   accessible names, checkbox groups for multichoice fields, time entry, a UUID and defaults on new
   rows, fields shown on demand, and checks tied to their field before the form is sent.

   Widgets follow PowerSchool's own rule: rows that exist carry the widget class (psDateWidget,
   timeEntry); the hidden new-row template (`tr.new`, inputs with data-name) only lists it in
   data-addclass, and PowerSchool adds the class when it clones the template into a new row. A
   widget class on the template would initialise the widget there and break it on every clone. */
(function (window, document) {
  "use strict";

  var queue = [];
  var started = false;
  var page = { labels: {}, form: "ssp-form" };
  var grids = [];
  var serial = 0;
  var NOT_IN_LIST = " (no longer in the list)";
  var TIME = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
  var TIME_MESSAGE = "Enter the time as HH:MM, 24-hour, for example 13:40.";
  var REQUIRED_MESSAGE = "Required for a new record.";

  function each(list, fn) { Array.prototype.forEach.call(list || [], fn); }
  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  /* Where a field's controls are: its cell, or its place in a row's "More" disclosure. */
  function cells(grid, col) {
    return grid.querySelectorAll("td.td-" + col + ", .ssp-detail-field[data-field='" + col + "']");
  }

  /* True when el belongs to field col (a "More" cell also holds other fields' controls). */
  function ownedBy(el, col) {
    var place = el.closest(".ssp-detail-field");
    return !place || place.getAttribute("data-field") === col;
  }

  function fieldOf(name) {
    var at = String(name || "").lastIndexOf("]");
    return String(name || "").slice(at + 1).split("$")[0];
  }

  function isTemplate(el) { return !el.getAttribute("name") && !!el.getAttribute("data-name"); }

  function addWords(value, word) {
    var words = String(value || "").split(/\s+/).filter(Boolean);
    if (words.indexOf(word) < 0) { words.push(word); }
    return words.join(" ");
  }

  /* The widget class on an existing row, data-addclass on the template (PowerSchool adds it). */
  function widget(input, cls) {
    if (isTemplate(input)) {
      input.classList.remove(cls);
      input.setAttribute("data-addclass", addWords(input.getAttribute("data-addclass"), cls));
    } else {
      input.classList.add(cls);
    }
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
      if (select.getAttribute("name") && has(originals, name)) { select.value = originals[name]; }
      showChoice(select);
    });
  }

  /* A long label may be cut off in a narrow column: the whole label is in the tooltip. */
  function showChoice(select) {
    var option = select.options[select.selectedIndex];
    if (option && option.value) { select.title = option.textContent; } else { select.removeAttribute("title"); }
  }

  /* The student's visits, rendered server-side into a hidden select, as dropdown pairs. */
  window.sspVisitChoices = function (id) {
    var source = document.getElementById(id), out = [["", ""]], purposes = page.labels.purpose || {};
    if (!source) { return out; }
    each(source.querySelectorAll("option"), function (o) {
      var purpose = o.getAttribute("data-purpose") || "", date = o.getAttribute("data-date") || "";
      var text = date + (purpose ? " \u00b7 " + (has(purposes, purpose) ? purposes[purpose] : purpose) : "");
      if (o.value) { out.push([escapeHtml(o.value), escapeHtml(text)]); }
    });
    return out;
  };

  /* Column headers: PowerSchool renders plain <th>s in displaycols order, then Delete. */
  function mapHeaders(grid, options) {
    var table = grid.querySelector("table"), heads = table ? table.querySelectorAll("thead th") : [];
    var hide = {}, required = {};
    each(options.hidden.concat(options.onDemand.slice(1)), function (c) { hide[c] = true; });
    each(options.required, function (c) { required[c] = true; });
    each(heads, function (th, i) {
      var col = options.columns[i], mark;
      if (!col) { th.classList.add("ssp-delete-col"); return; }
      th.setAttribute("data-field", col);
      th.setAttribute("scope", "col");
      th.id = "ssp-th-" + grid.getAttribute("data-table") + "-" + col;
      if (hide[col]) { th.classList.add("ssp-col-hidden"); }
      if (col === options.onDemand[0]) { th.textContent = "More"; }
      if (required[col] && !th.querySelector(".ssp-required-mark")) {
        mark = document.createElement("span");
        mark.className = "ssp-required-mark";
        mark.setAttribute("aria-hidden", "true");
        mark.textContent = " *";
        th.appendChild(mark);
      }
    });
    /* a <col> whose cells are hidden would still take a share of the width */
    each(table ? table.querySelectorAll("colgroup col") : [], function (c) {
      Object.keys(hide).forEach(function (col) { if (c.classList.contains("col-" + col)) { c.parentNode.removeChild(c); } });
    });
  }

  function controls(td, col) {
    var out = [];
    each(td.querySelectorAll("input, select, textarea"), function (el) {
      if (el.type !== "hidden" && !el.classList.contains("ssp-multi-option") && ownedBy(el, col)) { out.push(el); }
    });
    return out;
  }

  function textInput(td, col) {
    var found = null;
    each(td.querySelectorAll("input"), function (i) {
      if (!found && i.type !== "checkbox" && i.type !== "hidden" && !i.classList.contains("ssp-multi-option") && ownedBy(i, col)) { found = i; }
    });
    return found;
  }

  function selectedLabels(group) {
    var out = [];
    each(group.querySelectorAll("input.ssp-multi-option"), function (b) {
      if (b.checked) { out.push(b.parentNode.textContent.replace(/^\s+/, "")); }
    });
    return out.length ? out.join(", ") : "None chosen";
  }

  function multiBox(col, label, required, pairs, input) {
    var group = document.createElement("div"), details = document.createElement("details");
    var summary = document.createElement("summary"), list = document.createElement("div");
    var current = {}, listed = {};
    group.className = "ssp-multi";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", label + (required ? " (required)" : ""));
    group.setAttribute("data-field", col);
    list.className = "ssp-multi-options";
    each((input.value || "").split(","), function (code) { if (code.trim()) { current[code.trim()] = true; } });
    each(pairs, function (p) { listed[p[0]] = true; });
    Object.keys(current).forEach(function (code) { if (!listed[code]) { pairs = pairs.concat([[code, code + NOT_IN_LIST]]); } });
    each(pairs, function (p) {
      var row = document.createElement("label"), box = document.createElement("input");
      box.type = "checkbox";
      box.className = "ssp-multi-option";
      box.value = p[0];
      box.checked = !!current[p[0]];
      row.appendChild(box);
      row.appendChild(document.createTextNode(" " + p[1]));
      list.appendChild(row);
    });
    details.appendChild(summary);
    details.appendChild(list);
    group.appendChild(details);
    summary.textContent = selectedLabels(group);
    return group;
  }

  /* Existing rows show their fields on demand in a "More" disclosure in the first such column. */
  function onDemand(tr, options) {
    var host, details, summary, body, first = options.onDemand[0];
    if (!first || tr.querySelector(".ssp-detail")) { return; }
    host = tr.querySelector("td.td-" + first);
    if (!host) { return; }
    details = document.createElement("details");
    details.className = "ssp-detail";
    summary = document.createElement("summary");
    summary.textContent = "More";
    body = document.createElement("div");
    details.appendChild(summary);
    details.appendChild(body);
    each(options.onDemand, function (col) {
      var td = tr.querySelector("td.td-" + col), wrap, label;
      if (!td) { return; }
      wrap = document.createElement("div");
      wrap.className = "ssp-detail-field";
      wrap.setAttribute("data-field", col);
      label = document.createElement("span");
      label.className = "ssp-detail-label";
      label.setAttribute("aria-hidden", "true");
      label.textContent = options.labels[col] || col;
      wrap.appendChild(label);
      while (td.firstChild) { wrap.appendChild(td.firstChild); }
      body.appendChild(wrap);
      if (col !== first) { td.classList.add("ssp-col-hidden"); }
    });
    host.appendChild(details);
  }

  /* Attributes only where possible, idempotent: reruns on rows PowerSchool adds. */
  function enhance(grid, options) {
    var required = {}, hidden = {};
    each(options.required, function (c) { required[c] = true; });
    each(options.hidden, function (c) { hidden[c] = true; });
    options.columns.forEach(function (col) {
      each(cells(grid, col), function (td) {
        if (hidden[col] && td.tagName === "TD") { td.classList.add("ssp-col-hidden"); }
        each(controls(td, col), function (el) {
          el.setAttribute("aria-label", options.labels[col] || col);
          el.setAttribute("data-field", col);
          if (required[col]) { el.setAttribute("aria-required", "true"); }
        });
      });
    });
    Object.keys(options.multi).forEach(function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td, col);
        if (!input || td.querySelector(".ssp-multi[data-field='" + col + "']")) { return; }
        input.type = "hidden";
        input.setAttribute("data-ssp-multi", col);
        td.appendChild(multiBox(col, options.labels[col] || col, !!required[col], options.multi[col], input));
      });
    });
    each(options.time, function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td, col);
        if (!input) { return; }
        widget(input, "timeEntry");
        input.setAttribute("inputmode", "numeric");
        input.setAttribute("placeholder", "HH:MM");
        input.setAttribute("maxlength", "5");
        input.setAttribute("size", "5");
        input.setAttribute("autocomplete", "off");
      });
    });
    each(options.date, function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td, col);
        if (input) { widget(input, "psDateWidget"); }
      });
    });
    [options.uid].concat(Object.keys(options.defaults)).forEach(function (col) {
      each(cells(grid, col), function (td) {
        var input = textInput(td, col);
        if (input) { input.readOnly = true; input.setAttribute("placeholder", "set on save"); }
      });
    });
    each(grid.querySelectorAll("input.deleteCB, input[name^='DC-']"), function (box) {
      if (!box.getAttribute("aria-label")) { box.setAttribute("aria-label", "Delete this record"); }
    });
    each(grid.querySelectorAll("tbody tr"), function (tr) { onDemand(tr, options); });
  }

  function labelStatic(grid, options) {
    Object.keys(options.staticLabels).forEach(function (col) {
      var labels = page.labels[options.staticLabels[col]] || {};
      each(cells(grid, col), function (td) {
        each(td.querySelectorAll("p"), function (p) {
          var code = p.textContent;
          if (has(labels, code)) { p.textContent = labels[code]; p.title = code; }
        });
      });
    });
  }

  function rowHasData(tr, skip) {
    var found = false;
    each(tr.querySelectorAll("input[name], select[name], textarea[name]"), function (el) {
      if (found || skip[fieldOf(el.getAttribute("name"))]) { return; }
      found = el.type === "checkbox" ? el.checked : (el.type !== "hidden" || el.hasAttribute("data-ssp-multi")) && String(el.value).trim() !== "";
    });
    return found;
  }

  function newRowUid(tr, options) {
    var uidInput = null;
    each(tr.querySelectorAll("td.td-" + options.uid + " input[name]"), function (i) { uidInput = i; });
    return uidInput;
  }

  function skipped(options) {
    var skip = {};
    skip[options.uid] = true;
    Object.keys(options.defaults).forEach(function (col) { skip[col] = true; });
    return skip;
  }

  /* A new row (its SSP_UID input still exists and has a name) gets a UUID and its defaults once
     it holds data; empty added rows stay empty so PowerSchool can ignore them. */
  function fillNewRow(tr, options) {
    var uidInput = newRowUid(tr, options);
    if (!uidInput || uidInput.value || !rowHasData(tr, skipped(options))) { return; }
    uidInput.value = uuid();
    Object.keys(options.defaults).forEach(function (col) {
      each(cells(tr, col), function (place) {
        var input = textInput(place, col);
        if (input && input.getAttribute("name") && !input.value) { input.value = options.defaults[col]; }
      });
    });
  }

  function syncMulti(group) {
    var td = group.closest("td"), input = td ? td.querySelector("input[data-ssp-multi]") : null, codes = [];
    if (!input) { return; }
    each(group.querySelectorAll("input.ssp-multi-option"), function (b) { if (b.checked) { codes.push(b.value); } });
    input.value = codes.join(",");
    group.querySelector("summary").textContent = selectedLabels(group);
  }

  /* An error shown under its field and tied to it (aria-describedby, aria-invalid). */
  function setError(el, message) {
    var holder = el.closest(".ssp-multi") || el, box = holder.parentNode, id = holder.getAttribute("data-ssp-error");
    var note = id ? document.getElementById(id) : null;
    if (!message) {
      holder.removeAttribute("aria-invalid");
      if (note) { note.parentNode.removeChild(note); }
      holder.removeAttribute("data-ssp-error");
      holder.removeAttribute("aria-describedby");
      return;
    }
    if (!note) {
      serial += 1;
      note = document.createElement("span");
      note.className = "ssp-error";
      note.id = "ssp-error-" + serial;
      box.insertBefore(note, holder.nextSibling);
      holder.setAttribute("data-ssp-error", note.id);
      holder.setAttribute("aria-describedby", note.id);
    }
    note.textContent = message;
    holder.setAttribute("aria-invalid", "true");
  }

  function normaliseTime(input) {
    var v = String(input.value || "").trim(), m = /^([0-9]{1,2})[:.h]?([0-9]{2})$/.exec(v);
    if (m) { v = (m[1].length === 1 ? "0" : "") + m[1] + ":" + m[2]; }
    input.value = v;
    return !v || TIME.test(v);
  }

  function checkTime(input) {
    var ok = normaliseTime(input);
    setError(input, ok ? "" : TIME_MESSAGE);
    return ok;
  }

  function isTimeInput(el) {
    return !!(el && el.classList && (el.classList.contains("timeEntry") || /(^|\s)timeEntry(\s|$)/.test(el.getAttribute("data-addclass") || "")));
  }

  /* A row just added: keyboard and screen-reader users continue in its first field. */
  function focusNewRow(node) {
    var first = null;
    if (node.nodeType !== 1 || node.tagName !== "TR" || node.classList.contains("new") || node.hasAttribute("data-ssp-seen")) { return; }
    node.setAttribute("data-ssp-seen", "true");
    if (!node.querySelector("[name*=':-']")) { return; }
    each(node.querySelectorAll("input, select, textarea, summary"), function (el) {
      if (!first && el.type !== "hidden" && el.offsetParent !== null && !el.readOnly) { first = el; }
    });
    if (first) { first.focus(); }
  }

  function listen(grid, options) {
    var onEdit = function (event) {
      var t = event.target, tr = t.closest ? t.closest("tr") : null, group;
      if (t.tagName === "SELECT") { showChoice(t); }
      if (t.classList.contains("ssp-multi-option")) {
        group = t.closest(".ssp-multi");
        syncMulti(group);
        if (group.getAttribute("aria-invalid")) { setError(group, ""); }
      } else if (t.getAttribute("aria-invalid") && !isTimeInput(t) && String(t.value).trim()) {
        setError(t, "");
      }
      if (tr) { fillNewRow(tr, options); }
    };
    grid.addEventListener("change", onEdit);
    grid.addEventListener("input", onEdit);
    grid.addEventListener("focusout", function (event) {
      if (isTimeInput(event.target) && event.target.getAttribute("name")) { checkTime(event.target); }
    });
    if (window.MutationObserver) {
      new window.MutationObserver(function (changes) {
        enhance(grid, options);
        each(changes, function (change) { each(change.addedNodes, focusNewRow); });
      }).observe(grid, { childList: true, subtree: true });
    }
  }

  function mapHeadersSafely(grid, options) {
    try { mapHeaders(grid, options); } catch (err) { report(grid.getAttribute("data-table"), err); }
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
    mapHeadersSafely(grid, options);
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
        td.textContent = codes.map(function (c) { return has(labels, c) ? labels[c] : c; }).join(", ");
      }
    });
  }

  function requiredProblems(g, tr) {
    var bad = [];
    if (!newRowUid(tr, g.options) || !rowHasData(tr, skipped(g.options))) { return bad; }
    each(g.options.required, function (col) {
      var td = tr.querySelector("td.td-" + col + ", .ssp-detail-field[data-field='" + col + "']"), el, value, codes;
      if (!td) { return; }
      codes = td.querySelector("input[data-ssp-multi='" + col + "']");
      el = td.querySelector(".ssp-multi[data-field='" + col + "']") || controls(td, col)[0];
      value = codes ? codes.value : (el ? el.value : "");
      if (el && !String(value || "").trim()) { setError(el, REQUIRED_MESSAGE); bad.push(el); }
      else if (el && el.getAttribute("aria-invalid") && !isTimeInput(el)) { setError(el, ""); }
    });
    return bad;
  }

  function focusTarget(el) {
    var details = el.closest("details"), summary;
    if (el.classList.contains("ssp-multi")) { summary = el.querySelector("summary"); if (summary) { return summary; } }
    if (details && !details.open) { details.open = true; }
    return el;
  }

  function beforeSubmit(event) {
    var bad = [], summary = document.getElementById("ssp-errors");
    grids.forEach(function (g) {
      each(g.grid.querySelectorAll("tr"), function (tr) { fillNewRow(tr, g.options); });
      each(g.grid.querySelectorAll("input[name]"), function (i) {
        if (isTimeInput(i) && !checkTime(i)) { bad.push(i); }
      });
      each(g.grid.querySelectorAll("tbody tr"), function (tr) { bad = bad.concat(requiredProblems(g, tr)); });
    });
    bad.sort(function (a, b) { return a.compareDocumentPosition(b) & 4 ? -1 : 1; });  /* visual order */
    if (summary) {
      summary.textContent = bad.length ? (bad.length === 1 ? "1 field needs attention" : bad.length + " fields need attention") +
        " before saving: " + bad.map(function (el) { return el.getAttribute("aria-label"); }).join(", ") + "." : "";
    }
    if (bad.length && event) {
      event.preventDefault();
      if (event.stopImmediatePropagation) { event.stopImmediatePropagation(); }
      focusTarget(bad[0]).focus();
    }
    return !bad.length;
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
