/*
 * Dashboard charts, drawn with Chart.js (served by the app from npm, see STATICFILES_DIRS).
 *
 * Each <canvas data-chart="kind" data-source="id" data-key="key"> is drawn from the JSON the page
 * embeds once in <script id="id" type="application/json"> (Django's json_script); no chart asks the
 * server for anything. Every chart has a table of the same numbers next to it for screen readers
 * and for reading exact values. A drawn canvas gets data-rendered="true".
 */
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") {
    return; // the tables still carry every number
  }
  var Chart = window.Chart;

  // Light or dark, as the page is (it follows prefers-color-scheme): text, grid and the score line
  // take the theme's own colours, so the charts stay readable in both.
  var DARK = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var COLOURS = {
    primary: DARK ? "#60a5fa" : "#1565c0",
    muted: "#90a4ae",
    grid: DARK ? "rgba(255, 255, 255, 0.12)" : "rgba(0, 0, 0, 0.06)",
    ink: DARK ? "#e2e8f0" : "#263238",
    high_performing: "#2e7d32",
    steady: "#f9a825",
    at_risk: "#c62828",
    impact: "#6a1b9a",
    attainment: "#00838f",
    realisation: "#ef6c00",
    continuity: "#5d4037",
    before: "#b0bec5",
    better: "#2e7d32",
    worse: "#c62828",
    expected: "#b0bec5",
    realised: "#2e7d32",
  };
  var BAND_FILL = {
    high_performing: "rgba(46, 125, 50, 0.08)",
    steady: "rgba(249, 168, 37, 0.10)",
    at_risk: "rgba(198, 40, 40, 0.07)",
  };
  var STAGE_COLOURS = ["#cfd8dc", "#90caf9", "#64b5f6", "#1e88e5", "#2e7d32", "#e0e0e0"];
  var LEVEL_COLOURS = ["#90caf9", "#1e88e5", "#0d47a1"];

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily || Chart.defaults.font.family;
  Chart.defaults.color = DARK ? "#cbd5e1" : "#37474f";

  var sources = {};
  function source(id) {
    if (!(id in sources)) {
      var element = document.getElementById(id);
      sources[id] = element ? JSON.parse(element.textContent) : {};
    }
    return sources[id];
  }

  function number(value, digits) {
    if (value === null || value === undefined) {
      return "—";
    }
    return Number(value).toLocaleString(undefined, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  }

  /* Shades the tier bands (e.g. 70–100 high-performing) behind a 0–100 score axis. */
  var tierBands = {
    id: "tierBands",
    beforeDatasetsDraw: function (chart, args, options) {
      var bands = (options && options.bands) || [];
      var area = chart.chartArea;
      var y = chart.scales.y;
      var ctx = chart.ctx;
      bands.forEach(function (band) {
        var top = y.getPixelForValue(band.high);
        var bottom = y.getPixelForValue(band.low);
        ctx.save();
        ctx.fillStyle = BAND_FILL[band.tier] || "rgba(0, 0, 0, 0.04)";
        ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
        ctx.fillStyle = COLOURS[band.tier] || COLOURS.muted;
        ctx.font = "11px " + Chart.defaults.font.family;
        ctx.textAlign = "right";
        ctx.fillText(band.label, area.right - 4, top + 12);
        ctx.restore();
      });
    },
  };

  function axes(options) {
    options = options || {};
    return {
      x: Object.assign({ grid: { display: false } }, options.x || {}),
      y: Object.assign({ beginAtZero: true, grid: { color: COLOURS.grid }, ticks: { precision: 0 } }, options.y || {}),
    };
  }

  var builders = {
    sparkline: function (data) {
      return {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [
            {
              data: data.values,
              borderColor: COLOURS.primary,
              borderWidth: 1.5,
              pointRadius: 0,
              tension: 0.25,
              spanGaps: true,
            },
          ],
        },
        options: {
          responsive: false,
          events: [],
          plugins: { legend: { display: false }, tooltip: { enabled: false } },
          scales: { x: { display: false }, y: { display: false, min: 0, max: 100 } },
        },
      };
    },

    stages: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [{ label: "Projects", data: data.values, backgroundColor: STAGE_COLOURS }],
        },
        options: {
          indexAxis: "y",
          plugins: { legend: { display: false } },
          scales: {
            x: { beginAtZero: true, grid: { color: COLOURS.grid }, ticks: { precision: 0 } },
            y: { grid: { display: false } },
          },
        },
      };
    },

    levels: function (data) {
      return {
        type: "doughnut",
        data: {
          labels: data.labels.map(function (label) {
            return label.split(" (")[0];
          }),
          datasets: [{ data: data.values, backgroundColor: LEVEL_COLOURS }],
        },
        options: { plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
      };
    },

    quarters: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [{ label: "Delivered", data: data.values, backgroundColor: COLOURS.primary }],
        },
        options: {
          plugins: { legend: { display: false } },
          scales: axes({ x: { ticks: { maxRotation: 60, minRotation: 0, autoSkip: true } } }),
        },
      };
    },

    distribution: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.series.map(function (series) {
            return { label: series.label, data: series.values, backgroundColor: COLOURS[series.tier] };
          }),
        },
        options: {
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: {
            x: { stacked: true, grid: { display: false }, title: { display: true, text: "Score" } },
            y: {
              stacked: true,
              beginAtZero: true,
              grid: { color: COLOURS.grid },
              ticks: { precision: 0 },
              title: { display: true, text: "Relationships" },
            },
          },
        },
      };
    },

    history: function (data) {
      var datasets = [
        {
          label: "Score",
          data: data.score,
          borderColor: COLOURS.ink,
          backgroundColor: COLOURS.ink,
          borderWidth: 3,
          pointRadius: 3,
          tension: 0.2,
          order: 0,
        },
      ];
      ["impact", "attainment", "realisation", "continuity"].forEach(function (name) {
        var values = data.components[name] || [];
        if (!values.some(function (value) { return value !== null; })) {
          return;
        }
        datasets.push({
          label: name.charAt(0).toUpperCase() + name.slice(1) + " (%)",
          data: values,
          borderColor: COLOURS[name],
          backgroundColor: COLOURS[name],
          borderWidth: 1.5,
          borderDash: [5, 4],
          pointRadius: 0,
          tension: 0.2,
          spanGaps: false,
          order: 1,
        });
      });
      return {
        type: "line",
        data: { labels: data.labels, datasets: datasets },
        plugins: [tierBands],
        options: {
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12 } },
            tierBands: { bands: data.bands },
            tooltip: {
              callbacks: {
                label: function (item) {
                  return item.dataset.label + ": " + number(item.parsed.y, 1);
                },
              },
            },
          },
          scales: axes({ y: { min: 0, max: 100, ticks: { stepSize: 10 } } }),
        },
      };
    },

    kpis: function (data) {
      function tooltipLabel(item) {
        var index = item.dataIndex;
        var raw = item.datasetIndex === 0 ? data.raw_before[index] : data.raw_after[index];
        return item.dataset.label + ": " + number(raw, 2) + " " + data.units[index] + " (index " + number(item.parsed.x, 1) + ")";
      }
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: "Before", data: data.before, backgroundColor: COLOURS.before },
            {
              label: "After",
              data: data.after,
              backgroundColor: data.change.map(function (change) {
                return change > 0 ? COLOURS.better : change < 0 ? COLOURS.worse : COLOURS.muted;
              }),
            },
          ],
        },
        options: {
          indexAxis: "y",
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12 } },
            tooltip: { callbacks: { label: tooltipLabel } },
          },
          scales: {
            x: { beginAtZero: true, grid: { color: COLOURS.grid }, title: { display: true, text: "Index (before = 100)" } },
            y: {
              grid: { display: false },
              ticks: {
                callback: function (value) {
                  var label = this.getLabelForValue(value);
                  return label.length > 42 ? label.slice(0, 40) + "…" : label;
                },
              },
            },
          },
        },
      };
    },

    benefits: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: "Expected", data: data.expected, backgroundColor: COLOURS.expected },
            { label: "Realised", data: data.realised, backgroundColor: COLOURS.realised },
          ],
        },
        options: {
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: axes({
            x: {
              ticks: {
                callback: function (value) {
                  var label = this.getLabelForValue(value);
                  return label.length > 18 ? label.slice(0, 16) + "…" : label;
                },
              },
            },
            y: { ticks: { precision: 0 } },
          }),
        },
      };
    },
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.dataset.chart];
    var data = canvas.dataset.key.split(".").reduce(function (found, part) {
      return found ? found[part] : undefined;
    }, source(canvas.dataset.source));
    if (!build || !data) {
      return;
    }
    new Chart(canvas, build(data));
    canvas.dataset.rendered = "true";
  });
})();
