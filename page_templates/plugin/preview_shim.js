/* Offline preview only: stands in for PowerSchool's commonscripts and tlistCustomization.js.
   The tlistText2* functions below behave like PowerSchool's (same ".tlistCollectionTable > table >
   tbody > tr > .td-<FIELD>" selector, same raw-HTML insertion of values and labels), so the
   preview exercises the page's real escaping and scoping. Add/Delete rows, date and time widgets
   and the submit are simulated; nothing is saved. */
(function (window, document) {
  "use strict";

  var counter = 0;

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
      td.insertAdjacentHTML("beforeend", open("textarea", p, ' cols="' + cols + '" rows="' + rows + '"') + p.value + "</textarea>");
    });
  };
  window.tlistText2StaticText = function (fieldName) {
    each(tds(fieldName), function (td) {
      var p = parts(td);
      remove(p);
      td.insertAdjacentHTML("beforeend", "<p>" + p.value + "</p>");
    });
  };
  window.tlistText2StaticTextAllowNew = function (fieldName) {
    each(tds(fieldName), function (td) {
      var p = parts(td);
      if (p.name !== null) { remove(p); td.insertAdjacentHTML("beforeend", "<p>" + p.value + "</p>"); }
    });
  };

  function widgets(root) {
    each(root.querySelectorAll("input.psDateWidget"), function (i) { i.type = "date"; i.setAttribute("data-widget", "date"); });
    each(root.querySelectorAll("input.timeEntry"), function (i) { i.type = "time"; i.setAttribute("data-widget", "time"); });
  }

  function addRow(button) {
    var table = button.parentNode.querySelector("table"), template = table.querySelector("tr.ssp-preview-template");
    var row = template.cloneNode(true);
    counter += 1;
    row.className = "ssp-preview-new";
    row.style.display = "";
    each(row.querySelectorAll("[data-name]"), function (el) {
      el.setAttribute("name", el.getAttribute("data-name").replace("{INSERT_COUNTER}", String(counter)));
      el.removeAttribute("data-name");
    });
    template.parentNode.insertBefore(row, template);
    widgets(row);
  }

  function showSubmitted(event) {
    var out = document.getElementById("ssp-preview-submitted"), lines = [];
    event.preventDefault();
    if (!out) { return; }
    each(event.target.elements, function (el) {
      if (!el.name || el.disabled || ((el.type === "checkbox" || el.type === "radio") && !el.checked)) { return; }
      if (el.type === "submit") { return; }
      lines.push(el.name + " = " + el.value);
    });
    out.textContent = "Preview: nothing was saved. The form would post:\n" + lines.join("\n");
  }

  document.addEventListener("click", function (event) {
    var t = event.target;
    if (t.classList.contains("ssp-preview-add")) { addRow(t); }
    if (t.classList.contains("ssp-preview-delete")) { t.closest("tr").parentNode.removeChild(t.closest("tr")); }
  });
  function fire(el, type) { el.dispatchEvent(new window.Event(type, { bubbles: true, cancelable: true })); }

  /* file:///.../student_support.html#ssp-selftest adds a row to every grid, fills it like a user
     would and submits, so a headless browser can check what the form would post. */
  function selfTest(form) {
    each(document.querySelectorAll(".ssp-preview-add"), function (button) {
      var row;
      addRow(button);
      row = button.parentNode.querySelector("tr.ssp-preview-new");
      each(row.querySelectorAll("select[name]"), function (select) {
        if (select.options.length > 1) { select.selectedIndex = 1; fire(select, "change"); }
      });
      each(row.querySelectorAll(".ssp-multi"), function (box) {
        var boxes = box.querySelectorAll("input.ssp-multi-option");
        each([boxes[0], boxes[2]], function (b) { if (b) { b.checked = true; fire(b, "change"); } });
      });
      each(row.querySelectorAll("input.timeEntry[name]"), function (i) { i.value = "10:30"; fire(i, "input"); });
    });
    fire(form, "submit");
    document.documentElement.setAttribute("data-ssp-selftest", "done");
  }

  document.addEventListener("ssp:ready", function () {
    var form = document.getElementById("ssp-form");
    widgets(document);
    if (form) { form.addEventListener("submit", showSubmitted); }
    document.documentElement.setAttribute("data-ssp-ready", "true");
    if (form && window.location.hash === "#ssp-selftest") { selfTest(form); }
  });
}(window, document));
