/* Offline preview only: stands in for PowerSchool's commonscripts, tlistCustomization.js and the
   grid's add-row and widget code.

   - The tlistText2* functions behave like PowerSchool's (same ".tlistCollectionTable > table >
     tbody > tr > .td-<FIELD>" selector, same raw-HTML insertion of values and labels, same
     handling of the template row's data-name and data-addclass), so the preview exercises the
     pages' real escaping and scoping.
   - Add Row does what PowerSchool does with the hidden `tr.new` template: clone it, number it
     (-1, -2, ...), turn data-name into name, add the classes listed in data-addclass, then set up
     the widgets of the new row.
   - Widgets are set up once per input, like jQuery UI's datepicker: an input that already carries
     `hasDatepicker` is skipped, and a picker's button only works on the input it was made for. A
     widget class put on the template row therefore gives every cloned row a dead picker, as it
     would on PowerSchool.
   Nothing is saved: Submit shows what the form would post. */
(function (window, document) {
  "use strict";

  var counter = 0;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  function each(list, fn) { Array.prototype.forEach.call(list || [], fn); }
  function tds(fieldName) {
    return document.querySelectorAll(".tlistCollectionTable > table > tbody > tr > .td-" + fieldName);
  }
  function parts(td) {
    var input = td.querySelector("input");
    return {
      input: input,
      name: input ? input.getAttribute("name") : null,
      dataName: input ? input.getAttribute("data-name") : null,
      value: input ? input.getAttribute("value") : undefined,
      cls: input ? input.getAttribute("class") : undefined,
      addClass: input ? input.getAttribute("data-addclass") : undefined
    };
  }
  function open(tag, p, extra) {
    return p.name !== null ? "<" + tag + extra + ' name="' + p.name + '" class="' + p.cls + '">'
      : "<" + tag + extra + ' data-name="' + p.dataName + '" class="' + p.cls + '" data-addclass="' + p.addClass + '">';
  }
  function remove(p) { if (p.input) { p.input.parentNode.removeChild(p.input); } }
  function fire(el, type) { el.dispatchEvent(new window.Event(type, { bubbles: true, cancelable: true })); }

  window.tlistText2DropDownValNamePair = function (fieldName, ddRows) {
    each(tds(fieldName), function (td) {
      var p = parts(td), html;
      remove(p);
      html = open("select", p, "");
      each(ddRows, function (row) {
        html += '<option value="' + row[0] + '"' + (row[0] == p.value ? ' selected="selected"' : "") + ">" + row[1] + "</option>";
      });
      td.insertAdjacentHTML("beforeend", html + "</select>");
    });
  };
  window.tlistText2DropDown = function (fieldName, ddRows) {
    window.tlistText2DropDownValNamePair(fieldName, Array.prototype.map.call(ddRows, function (v) { return [v, v]; }));
  };
  window.tlistText2TextArea = function (fieldName, rows, cols) {
    each(tds(fieldName), function (td) {
      var p = parts(td);
      remove(p);
      td.insertAdjacentHTML("beforeend", open("textarea", p, ' cols="' + cols + '" rows="' + rows + '"') + (p.value || "") + "</textarea>");
    });
  };
  window.tlistText2StaticText = function (fieldName) {
    each(tds(fieldName), function (td) {
      var p = parts(td);
      remove(p);
      td.insertAdjacentHTML("beforeend", "<p>" + (p.value || "") + "</p>");
    });
  };
  window.tlistText2StaticTextAllowNew = function (fieldName) {
    each(tds(fieldName), function (td) {
      var p = parts(td);
      if (p.name !== null) { remove(p); td.insertAdjacentHTML("beforeend", "<p>" + (p.value || "") + "</p>"); }
    });
  };

  /* ------------------------------------------------------------ date picker (psDateWidget) */
  function today() {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(window.sspPreviewToday || "");
    return m ? new Date(+m[1], +m[2] - 1, +m[3]) : new Date();
  }
  function parseUs(text) {
    var m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(String(text || "").trim());
    return m ? new Date(+m[3], +m[1] - 1, +m[2]) : null;
  }
  function formatUs(d) {
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(d.getMonth() + 1) + "/" + two(d.getDate()) + "/" + d.getFullYear();
  }
  function closeCalendar(focusInput) {
    var cal = document.getElementById("ssp-preview-calendar");
    if (!cal) { return; }
    if (focusInput && cal.sspInput) { cal.sspInput.focus(); }
    cal.parentNode.removeChild(cal);
  }
  function drawCalendar(cal, input, month) {
    var grid, first = new Date(month.getFullYear(), month.getMonth(), 1), d, day, button, chosen = parseUs(input.value);
    var title = input.getAttribute("aria-label") || "date";
    cal.innerHTML = "";
    cal.sspMonth = month;
    var head = document.createElement("div");
    head.className = "ssp-preview-calendar-head";
    [["\u2039", "Previous month", -1], ["\u203a", "Next month", 1]].forEach(function (spec, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = spec[0];
      b.setAttribute("aria-label", spec[1]);
      b.addEventListener("click", function () { drawCalendar(cal, input, new Date(month.getFullYear(), month.getMonth() + spec[2], 1)); cal.querySelector("button[data-day]").focus(); });
      if (i === 1) {
        var label = document.createElement("span");
        label.className = "ssp-preview-calendar-title";
        label.id = "ssp-preview-calendar-title";
        label.textContent = MONTHS[month.getMonth()] + " " + month.getFullYear();
        head.appendChild(label);
      }
      head.appendChild(b);
    });
    cal.appendChild(head);
    grid = document.createElement("div");
    grid.className = "ssp-preview-calendar-days";
    grid.setAttribute("role", "group");
    grid.setAttribute("aria-labelledby", "ssp-preview-calendar-title");
    for (d = 0; d < first.getDay(); d++) { grid.appendChild(document.createElement("span")); }
    for (day = 1; day <= new Date(month.getFullYear(), month.getMonth() + 1, 0).getDate(); day++) {
      button = document.createElement("button");
      button.type = "button";
      button.textContent = String(day);
      button.setAttribute("data-day", String(day));
      button.setAttribute("aria-label", MONTHS[month.getMonth()] + " " + day + ", " + month.getFullYear());
      if (chosen && chosen.getFullYear() === month.getFullYear() && chosen.getMonth() === month.getMonth() && chosen.getDate() === day) {
        button.setAttribute("aria-pressed", "true");
      }
      (function (dayNumber) {
        button.addEventListener("click", function () {
          input.value = formatUs(new Date(month.getFullYear(), month.getMonth(), dayNumber));
          fire(input, "input");
          fire(input, "change");
          closeCalendar(true);
        });
      }(day));
      grid.appendChild(button);
    }
    cal.appendChild(grid);
    cal.setAttribute("aria-label", "Choose " + title);
  }
  function openCalendar(input) {
    var cal, rect = input.getBoundingClientRect(), start = parseUs(input.value) || today();
    closeCalendar(false);
    cal = document.createElement("div");
    cal.id = "ssp-preview-calendar";
    cal.className = "ssp-preview-calendar";
    cal.setAttribute("role", "dialog");
    cal.sspInput = input;
    cal.style.left = Math.max(4, Math.min(rect.left + window.scrollX, document.documentElement.clientWidth - 240)) + "px";
    cal.style.top = (rect.bottom + window.scrollY + 2) + "px";
    document.body.appendChild(cal);
    drawCalendar(cal, input, new Date(start.getFullYear(), start.getMonth(), 1));
    (cal.querySelector("button[aria-pressed]") || cal.querySelector("button[data-day]")).focus();
  }
  function attachDatepicker(input) {
    var button;
    if (input.classList.contains("hasDatepicker")) { return; }
    input.classList.add("hasDatepicker");
    button = document.createElement("button");
    button.type = "button";
    button.className = "ui-datepicker-trigger ssp-preview-datebutton";
    button.setAttribute("aria-label", "Choose " + (input.getAttribute("aria-label") || "date"));
    button.innerHTML = '<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" focusable="false"><rect x="1" y="2.5" width="12" height="10.5" fill="none" stroke="currentColor"/><path d="M1 5.5h12M4 1v3M10 1v3" stroke="currentColor"/></svg>';
    button.addEventListener("click", function () { openCalendar(input); });
    input.parentNode.insertBefore(button, input.nextSibling);
  }
  /* ------------------------------------------------------------ time entry (timeEntry) */
  function attachTimeEntry(input) {
    if (input.classList.contains("hasTimeEntry")) { return; }
    input.classList.add("hasTimeEntry");
  }
  function widgets(root) {
    each(root.querySelectorAll("input.psDateWidget"), attachDatepicker);
    each(root.querySelectorAll("input.timeEntry"), attachTimeEntry);
  }

  /* ------------------------------------------------------------ add row (tr.new template) */
  function addRow(button) {
    var table = button.closest(".tlistCollectionTable").querySelector("table");
    var template = table.querySelector("tbody > tr.new"), row;
    if (!template) { return null; }
    counter += 1;
    row = template.cloneNode(true);
    row.classList.remove("new");
    row.id = "rowId_-" + counter;
    each(row.querySelectorAll("[id]"), function (el) { el.id = el.id.replace("{INSERT_COUNTER}", String(counter)); });
    each(row.querySelectorAll("[data-name]"), function (el) {
      el.setAttribute("name", el.getAttribute("data-name").replace("{INSERT_COUNTER}", String(counter)));
      el.removeAttribute("data-name");
    });
    each(row.querySelectorAll("[data-addclass]"), function (el) {
      el.getAttribute("data-addclass").split(/\s+/).forEach(function (cls) { if (cls) { el.classList.add(cls); } });
      el.removeAttribute("data-addclass");
    });
    template.parentNode.insertBefore(row, template);
    widgets(row);
    return row;
  }

  function showSubmitted(event) {
    var out = document.getElementById("ssp-preview-submitted"), lines = [];
    event.preventDefault();
    if (!out) { return; }
    each(event.target.elements, function (el) {
      if (!el.name || el.disabled || ((el.type === "checkbox" || el.type === "radio") && !el.checked)) { return; }
      if (el.type === "submit" || el.tagName === "BUTTON") { return; }
      lines.push(el.name + " = " + el.value);
    });
    out.textContent = "Preview: nothing was saved. The form would post to " + event.target.getAttribute("action") + ":\n" + lines.join("\n");
  }

  document.addEventListener("click", function (event) {
    var t = event.target, cal = document.getElementById("ssp-preview-calendar");
    if (t.classList && t.classList.contains("ssp-preview-add")) { addRow(t); }
    if (cal && !cal.contains(t) && !(t.closest && t.closest(".ssp-preview-datebutton"))) { closeCalendar(false); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.getElementById("ssp-preview-calendar")) { closeCalendar(true); }
  });

  document.addEventListener("ssp:ready", function () {
    var form = document.getElementById("ssp-form");
    widgets(document);
    if (form) { form.addEventListener("submit", showSubmitted); }
    document.documentElement.setAttribute("data-ssp-ready", "true");
  });
  window.sspPreviewAddRow = addRow;
}(window, document));
