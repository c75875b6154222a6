/* The project page: a small chart per KPI (from the data the page embeds), focus after inline
   edits, and a visible message when the server refuses an inline request. The stage dialog is
   stage-dialog.js (the board uses it too). */
(function () {
  "use strict";

  var DATE_TICK = function (value) { return new Date(value).toISOString().slice(0, 10); };
  // The page follows prefers-color-scheme; so do the charts' text, grid and lines.
  var DARK = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var LINE = DARK ? "#60a5fa" : "#1d4ed8";
  var TARGET = DARK ? "#4ade80" : "#15803d";
  if (typeof window.Chart !== "undefined" && DARK) {
    window.Chart.defaults.color = "#cbd5e1";
    window.Chart.defaults.borderColor = "rgba(255, 255, 255, 0.12)";
  }

  function drawCharts(root) {
    var source = document.getElementById("kpi-chart-data");
    if (!source || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var canvases = (root.querySelectorAll ? root : document).querySelectorAll("canvas[data-kpi-chart]");
    canvases.forEach(function (canvas) {
      var series = data[canvas.dataset.kpiChart];
      if (!series) { return; }
      var existing = window.Chart.getChart(canvas);
      if (existing) { existing.destroy(); }
      var points = [series.baseline].concat(series.points).map(function (point) {
        return { x: Date.parse(point.x), y: point.y };
      });
      var first = points[0].x;
      var last = Math.max(points[points.length - 1].x, first + 86400000);
      var datasets = [{
        label: series.label,
        data: points,
        borderColor: LINE,
        backgroundColor: LINE,
        pointRadius: 3,
        tension: 0
      }];
      if (series.target !== null) {
        datasets.push({
          label: "Target",
          data: [{ x: first, y: series.target }, { x: last, y: series.target }],
          borderColor: TARGET,
          borderDash: [6, 4],
          pointRadius: 0
        });
      }
      new window.Chart(canvas, {
        type: "line",
        data: { datasets: datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: {
            x: { type: "linear", min: first, max: last, ticks: { callback: DATE_TICK, maxTicksLimit: 4, maxRotation: 0 } },
            y: { title: { display: true, text: series.unit } }
          },
          plugins: {
            legend: { display: series.target !== null, labels: { boxHeight: 2 } },
            tooltip: { callbacks: { title: function (items) { return DATE_TICK(items[0].parsed.x); } } }
          }
        }
      });
    });
  }

  function focusAfterSwap() {
    var section = document.getElementById("kpi-section");
    if (!section) { return; }
    var target = section.querySelector("[aria-invalid=true]") ||
      section.querySelector(".conflict, .message.error") ||
      section.querySelector(".inline-edit input:not([type=hidden])") ||
      section.querySelector(".notice");
    if (target) {
      if (!target.matches("input, select, textarea, button, a")) { target.setAttribute("tabindex", "-1"); }
      target.focus();
    }
  }

  function showRefusal(event) {
    var alert = document.getElementById("page-alert");
    if (!alert) { return; }
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var reasons = {
      0: "The server could not be reached. Nothing was saved; check your connection and try again.",
      403: "This change was refused: you may not make it, or your sign-in has expired. Nothing was saved; your entries are still here.",
      404: "This item no longer exists (someone may have deleted it). Reload the page."
    };
    alert.textContent = reasons[status] ||
      ("The server could not save this change (error " + status + "). Nothing was saved; reload the page and try again.");
    alert.hidden = false;
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }

  function showAlert(html) {
    var alert = document.getElementById("page-alert");
    if (!alert) { return; }
    alert.innerHTML = html;
    alert.hidden = false;
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }

  // A signed-out session answers an inline save with the sign-in page: keep what the user typed
  // on screen instead of swapping the sign-in page in.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
      event.detail.shouldSwap = false;
      showAlert("Your session has ended, so this was not saved. Your entries are still here: " +
        "<a href=\"/accounts/login/\" target=\"_blank\" rel=\"noopener\">sign in again in a new tab</a>, then save again.");
    }
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "stage-dialog-slot") {
      return;  // the stage dialog (stage-dialog.js)
    }
    if (document.getElementById("kpi-section")) {
      drawCharts(document);
      focusAfterSwap();
      var alert = document.getElementById("page-alert");
      if (alert) { alert.hidden = true; }
    }
  });
  document.addEventListener("htmx:responseError", showRefusal);
  document.addEventListener("htmx:sendError", showRefusal);
})();
