// Tables marked card-rows show each row as a card on a phone (app.css), every cell labelled with
// its column's name. Templates may write the labels (data-label); for the others this copies
// each header's text to the cells below it, so their rows need no change.
// A static file (CSP script-src 'self'); without it the cards show the values unlabelled.
// It also gives a table that scrolls sideways inside its wrapper keyboard access (below).
(function () {
  "use strict";
  var tables = document.querySelectorAll("table.card-rows");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = [];
    var headRow = table.tHead && table.tHead.rows[0];
    if (!headRow) { return; }
    Array.prototype.forEach.call(headRow.cells, function (th) {
      // A header spanning columns names each of them.
      for (var n = 0; n < (th.colSpan || 1); n += 1) { heads.push(th.textContent.trim()); }
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var at = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          // A cell across the whole row ("No tokens yet.") belongs to no one column.
          var whole = (cell.colSpan || 1) >= heads.length;
          if (!whole && !cell.hasAttribute("data-label") && heads[at]) {
            cell.setAttribute("data-label", heads[at]);
          }
          at += cell.colSpan || 1;
        });
      });
    });
  });

  // A table wider than its wrapper scrolls inside it: the wrapper then takes the keyboard focus
  // (arrow keys scroll it), and only then, so narrow tables add no stop to the tab order.
  var wraps = document.querySelectorAll(".table-wrap");
  function focusable() {
    Array.prototype.forEach.call(wraps, function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute("tabindex", "0");
        if (!wrap.hasAttribute("role")) { wrap.setAttribute("role", "region"); }
        if (!wrap.hasAttribute("aria-label")) {
          var caption = wrap.querySelector("caption");
          wrap.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table, scrolls sideways");
        }
      } else if (wrap.getAttribute("tabindex") === "0") {
        wrap.removeAttribute("tabindex");
      }
    });
  }
  focusable();
  window.addEventListener("resize", focusable);
})();
