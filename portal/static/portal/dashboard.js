/* Draws the dashboard's charts (Chart.js, served by the platform) from the page's JSON data island
   <script type="application/json" id="dashboard-data">. No inline script: the page works under a
   Content-Security-Policy without 'unsafe-inline'. Each chart's data table stays on the page. */
(function () {
  "use strict";
  // DSFR's illustrative palette, distinguishable and contrasted on white.
  var COLOURS = ["#000091", "#c9191e", "#18753c", "#b34000", "#695240", "#6e445a", "#3a3a3a", "#0063cb",
    "#716043", "#8585f6", "#a94645", "#009081"];

  function draw() {
    var island = document.getElementById("dashboard-data");
    if (!island || typeof window.Chart === "undefined") {
      return;
    }
    var charts = JSON.parse(island.textContent);
    Object.keys(charts).forEach(function (id) {
      var canvas = document.getElementById(id);
      if (!canvas) {
        return;
      }
      var spec = charts[id];
      // The box gives the chart its height (set here: no inline style in the markup, for the CSP).
      canvas.parentNode.style.position = "relative";
      canvas.parentNode.style.height = "20rem";
      var datasets = spec.datasets.map(function (set, i) {
        var colour = COLOURS[i % COLOURS.length];
        var line = Boolean(set.line);
        return {
          label: set.label,
          data: set.data,
          type: line ? "line" : spec.kind,
          backgroundColor: colour,
          borderColor: colour,
          borderWidth: line ? 2 : 0,
          pointRadius: line ? 0 : undefined,
          stepped: line ? "middle" : false,
          order: line ? 0 : 1,
          stack: line ? "capacity" : "values"
        };
      });
      canvas.dashboardChart = new window.Chart(canvas, {
        type: spec.kind,
        data: { labels: spec.labels, datasets: datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: { legend: { position: "bottom" } },
          scales: {
            x: { stacked: spec.stacked, title: { display: true, text: spec.x_title } },
            y: { stacked: spec.stacked, beginAtZero: true, ticks: { precision: 0 } }
          }
        }
      });
      canvas.setAttribute("data-drawn", "true");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
