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

// The NLU review form: words selected in the text, then an entity's button, fill the
// first empty entity row (its words and where they start, so the right occurrence is kept).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.mark");
    if (!button) { return; }
    var text = document.getElementById("review-text");
    if (!text || text.selectionStart === text.selectionEnd) { return; }
    var start = text.selectionStart, end = text.selectionEnd;
    var words = text.value.slice(start, end);
    var lead = words.length - words.replace(/^\s+/, "").length;
    words = words.trim();
    var rows = document.querySelectorAll(".entity-row");
    for (var i = 0; i < rows.length; i++) {
      var field = rows[i].querySelector("input[name=entity_text]");
      if (field.value.trim() === "") {
        rows[i].querySelector("select[name=entity]").value = button.dataset.entity;
        field.value = words;
        rows[i].querySelector("input[name=entity_start]").value = String(start + lead);
        return;
      }
    }
  });
})();
