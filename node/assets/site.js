// seednet progressive enhancements. Every page works without this file.
// What it does:
//   1. Moves keyboard focus to the error summary after a failed form, so
//      screen-reader and keyboard users land on the list of problems.
//   2. Asks for confirmation before revoking a peer link.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  var revokeButtons = document.querySelectorAll("button[data-action='revoke']");
  revokeButtons.forEach(function (button) {
    button.form.addEventListener("submit", function (event) {
      var label = button.textContent.trim();
      if (!window.confirm(label + "?")) {
        event.preventDefault();
      }
    });
  });
});

// 3. In the record form, Enter in the record search box of the relations
//    runs that search. Without this file Enter previews the record, as it
//    does everywhere in the form, and the search button still works.
document.addEventListener("DOMContentLoaded", function () {
  var query = document.getElementById("f-relation_search-q");
  var search = document.getElementById("relation-search-button");
  if (query && search) {
    query.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        search.click();
      }
    });
  }
});
