/* Searchable choices in list filters ([data-picker]): typing fetches matching names from the
   server (in the signed-in person's scope) into the field's datalist; choosing one puts its id in
   the hidden field the form sends. Text that matches no suggestion sends no filter. */
(function () {
  "use strict";

  function setUp(box) {
    var input = box.querySelector("input[type=search]");
    var hidden = box.querySelector("input[type=hidden]");
    var list = box.querySelector("datalist");
    var url = box.getAttribute("data-picker");
    var known = {};
    var timer = null;
    list.querySelectorAll("option").forEach(function (option) {
      known[option.value] = option.getAttribute("data-id");
    });

    function match() {
      var text = input.value.trim();
      hidden.value = Object.prototype.hasOwnProperty.call(known, text) ? known[text] : "";
    }

    function fetchSuggestions(text) {
      fetch(url + "?q=" + encodeURIComponent(text), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : { results: [] };
      }).then(function (data) {
        list.innerHTML = "";
        data.results.forEach(function (item) {
          var option = document.createElement("option");
          option.value = item.label;
          option.setAttribute("data-id", item.id);
          list.appendChild(option);
          known[item.label] = String(item.id);
        });
        match();
      }).catch(function () { /* suggestions are a help; typing still works without them */ });
    }

    input.addEventListener("input", function () {
      match();
      clearTimeout(timer);
      var text = input.value.trim();
      if (text) { timer = setTimeout(function () { fetchSuggestions(text); }, 200); }
    });
    input.addEventListener("change", match);
  }

  document.querySelectorAll("[data-picker]").forEach(setUp);
})();
