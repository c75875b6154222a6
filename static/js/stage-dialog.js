/* The stage dialog (project page and board): it arrives from the server into #stage-dialog-slot
   (again after a refused submit, with its errors); open it as a modal, focus the first field in
   error (or the first field), and on Back or Escape close it and return focus to the link that
   opened it. */
(function () {
  "use strict";

  var stageOpener = null;
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[hx-target='#stage-dialog-slot']");
    if (opener && opener.tagName === "A") {
      // A board card's "Move…" menu closes; focus returns to its summary afterwards.
      var menu = opener.closest("details");
      if (menu) { menu.open = false; }
      stageOpener = menu ? menu.querySelector("summary") : opener;
    }
    var back = event.target.closest && event.target.closest("[data-close-dialog]");
    var dialog = back && back.closest("dialog");
    if (dialog) { event.preventDefault(); dialog.close(); }
  });
  function openStageDialog(slot) {
    var dialog = slot.querySelector("dialog");
    if (!dialog) { return; }
    dialog.addEventListener("close", function () {
      slot.innerHTML = "";
      if (stageOpener) { stageOpener.focus(); }
    });
    if (!dialog.open) { dialog.showModal(); }
    var first = dialog.querySelector(".has-error input, .has-error textarea") ||
      dialog.querySelector("input:not([type=hidden]), textarea, button");
    if (first) { first.focus(); }
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "stage-dialog-slot") {
      openStageDialog(event.detail.target);
    }
  });

  // A refused request (the project changed hands, or the session ended) says so on the page.
  function showRefusal(event) {
    var target = event.detail && event.detail.target;
    var alert = document.getElementById("page-alert");
    if (!alert || !target || target.id !== "stage-dialog-slot") { return; }
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    alert.textContent = status === 0
      ? "The server could not be reached. Nothing was changed; check your connection and try again."
      : "This move was refused (error " + status + "): you may no longer change this project, or it " +
        "no longer exists. Nothing was changed; reload the page.";
    alert.hidden = false;
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }
  document.addEventListener("htmx:responseError", showRefusal);
  document.addEventListener("htmx:sendError", showRefusal);
})();
