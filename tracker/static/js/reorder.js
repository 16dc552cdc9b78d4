/* Signing order by drag and drop, or from the keyboard (Alt+↑ / Alt+↓ on a focused row).
 *
 * The page works without this file: the 序号 boxes and the "按序号重新排序" button post the
 * order to the reorder endpoint. This script only fills those boxes 1, 2, 3… in the new row
 * order and submits the same form (its CSRF token and ceremony version included), so the
 * server path, checks and messages are the very same. Loaded as a file (CSP: no inline code).
 */
(function () {
  "use strict";
  var table = document.querySelector("table[data-reorder]");
  if (!table) return;
  var form = document.getElementById(table.getAttribute("data-reorder"));
  var body = table.tBodies[0];
  if (!form || !body) return;
  var FOCUS_KEY = "reorder-focus";
  var hint = document.querySelector(".reorder-js-hint");
  if (hint) hint.hidden = false;

  var live = document.createElement("div");
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  live.className = "visually-hidden sr-only";
  live.style.position = "absolute";
  live.style.left = "-9999px";
  table.parentNode.insertBefore(live, table);

  function rows() {
    return Array.prototype.slice.call(body.querySelectorAll("tr[data-signing]"));
  }

  function renumber() {
    rows().forEach(function (row, i) {
      var box = row.querySelector("input.pos");
      if (box) box.value = String(i + 1);
    });
  }

  var timer = null;
  function save(delay, focusId) {
    renumber();
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () {
      if (focusId) {
        try { sessionStorage.setItem(FOCUS_KEY, focusId); } catch (e) { /* private mode */ }
      }
      form.submit();
    }, delay);
  }

  function label(row) {
    var name = row.querySelector("td.name");
    return name ? name.textContent.trim().split("\n")[0] : "";
  }

  // --- drag and drop ------------------------------------------------------------------
  var dragged = null;
  rows().forEach(function (row) {
    row.draggable = true;
    row.tabIndex = 0;
    row.setAttribute("aria-roledescription", "sortable row");
    row.title = row.title || "";
  });
  body.addEventListener("mousedown", function (e) {
    // Let the number boxes and buttons be used normally (no accidental drags).
    var row = e.target.closest("tr[data-signing]");
    if (row) row.draggable = !e.target.closest("input, button, a, select, textarea");
  });
  body.addEventListener("dragstart", function (e) {
    dragged = e.target.closest("tr[data-signing]");
    if (!dragged) return;
    dragged.style.opacity = "0.5";
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.getAttribute("data-signing"));
  });
  body.addEventListener("dragover", function (e) {
    if (!dragged) return;
    var over = e.target.closest("tr[data-signing]");
    e.preventDefault();
    if (!over || over === dragged) return;
    var box = over.getBoundingClientRect();
    var after = e.clientY > box.top + box.height / 2;
    body.insertBefore(dragged, after ? over.nextSibling : over);
  });
  body.addEventListener("drop", function (e) {
    if (!dragged) return;
    e.preventDefault();
  });
  body.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.style.opacity = "";
    var id = dragged.getAttribute("data-signing");
    dragged = null;
    save(0, id);
  });

  // --- keyboard -------------------------------------------------------------------------
  body.addEventListener("keydown", function (e) {
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    var row = e.target.closest("tr[data-signing]");
    if (!row) return;
    e.preventDefault();
    var list = rows();
    var index = list.indexOf(row);
    var target = e.key === "ArrowUp" ? index - 1 : index + 1;
    if (target < 0 || target >= list.length) return;
    if (e.key === "ArrowUp") body.insertBefore(row, list[target]);
    else body.insertBefore(row, list[target].nextSibling);
    row.focus();
    live.textContent = label(row) + " → " + (target + 1);
    save(1200, row.getAttribute("data-signing"));  // saved once the keys rest
  });

  // Back from the save: focus the row that was moved, so keyboard users keep their place.
  // After "load": the browser's jump to #signings would otherwise take the focus away.
  var again = null;
  try {
    again = sessionStorage.getItem(FOCUS_KEY);
    sessionStorage.removeItem(FOCUS_KEY);
  } catch (e) { /* private mode */ }
  if (again) {
    window.addEventListener("load", function () {
      setTimeout(function () {
        var row = body.querySelector('tr[data-signing="' + again.replace(/[^0-9]/g, "") + '"]');
        if (row) row.focus();
      }, 0);
    });
  }
})();
