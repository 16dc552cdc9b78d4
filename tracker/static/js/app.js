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
// Project list on a phone: fold the filter panel (the HTML has it open, so it works without JS);
// keep it open on wider screens, also after the window is widened.
(function () {
  var panel = document.querySelector("details.filter-panel");
  if (!panel || !window.matchMedia) return;
  var phone = window.matchMedia("(max-width: 760px)");
  if (phone.matches) panel.open = false;
  var widen = function (ev) { if (!ev.matches) panel.open = true; };
  if (phone.addEventListener) phone.addEventListener("change", widen);
  else if (phone.addListener) phone.addListener(widen);
})();
