// Draws each <canvas data-chart> with Chart.js, on load and after htmx swaps a section.
(function () {
  "use strict";
  var palette = ["#0b6e4f", "#e07a1f", "#3b6fb6", "#b23a48", "#7a5ea8", "#5b6473"];
  function draw(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var data = JSON.parse(canvas.dataset.chart);
      var kind = canvas.dataset.kind;
      var type = kind === "series" ? "line" : "bar";
      new window.Chart(canvas, {
        type: type,
        data: {
          labels: data.labels,
          datasets: data.series.map(function (s, i) {
            return { label: s.name, data: s.data, borderColor: palette[i % palette.length],
                     backgroundColor: palette[i % palette.length], spanGaps: false, tension: 0.2 };
          })
        },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          indexAxis: kind === "funnel" ? "y" : "x",
          scales: { x: { beginAtZero: true }, y: { beginAtZero: true } },
          plugins: { legend: { display: data.series.length > 1 } }
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
