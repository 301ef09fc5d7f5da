// Tables marked card-rows show each row as a card on a phone (app.css), every cell labelled with
// its column's name. Templates may write the labels (data-label); for the others this copies
// each header's text to the cells below it, so their rows need no change.
// A static file (CSP script-src 'self'); without it the cards show the values unlabelled.
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
})();
