// Progressive enhancement only: every page works without this file.
document.addEventListener("click", function (ev) {
  var el = ev.target.closest("[data-confirm]");
  if (el && !window.confirm(el.getAttribute("data-confirm"))) {
    ev.preventDefault();
  }
});
// Auto-submit filter selects on change (the form still has a button for no-JS use).
document.addEventListener("change", function (ev) {
  var el = ev.target;
  if (el.matches && el.matches("form.filters select")) {
    el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
  }
});
