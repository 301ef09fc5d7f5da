// Draw every chart embedded in the page as <script type="application/json" class="chart-data"
// data-target="ID">: the figure JSON built on the server. No inline scripts (CSP).
// A figure may carry layout.meta.narrow: layout updates ("path": value, as Plotly.relayout
// takes them) for a chart narrower than NARROW_PX, where event titles and long week labels
// would print over each other (their markers' hover still names them), and layout.meta.locale
// the month and weekday names of the page's language.
(function () {
  "use strict";
  var NARROW_PX = 600;
  var blocks = document.querySelectorAll("script.chart-data[type='application/json']");
  Array.prototype.forEach.call(blocks, function (block) {
    var target = document.getElementById(block.getAttribute("data-target"));
    if (!target || typeof window.Plotly === "undefined") { return; }
    var figure = JSON.parse(block.textContent);
    var narrow = figure.layout && figure.layout.meta && figure.layout.meta.narrow;
    var config = {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"]
    };
    // The page's language: its month and weekday names on date axes and in hovers.
    var locale = figure.layout && figure.layout.meta && figure.layout.meta.locale;
    if (locale) {
      config.locale = locale.name;
      config.locales = {};
      config.locales[locale.name] = { format: locale.format };
    }
    var drawn = window.Plotly.newPlot(target, figure.data, figure.layout, config);
    var done = function () { target.setAttribute("data-rendered", "true"); };
    if (narrow && target.clientWidth < NARROW_PX) {
      drawn.then(function () {
        return window.Plotly.relayout(target, narrow);
      }).then(done);
    } else {
      drawn.then(done);
    }
  });
})();
