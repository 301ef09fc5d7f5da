// Draw every chart embedded in the page as <script type="application/json" class="chart-data"
// data-target="ID">: the figure JSON built on the server. No inline scripts (CSP).
(function () {
  "use strict";
  var blocks = document.querySelectorAll("script.chart-data[type='application/json']");
  Array.prototype.forEach.call(blocks, function (block) {
    var target = document.getElementById(block.getAttribute("data-target"));
    if (!target || typeof window.Plotly === "undefined") { return; }
    var figure = JSON.parse(block.textContent);
    window.Plotly.newPlot(target, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"]
    });
    target.setAttribute("data-rendered", "true");
  });
})();
