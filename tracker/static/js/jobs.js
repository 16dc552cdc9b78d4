// Job page: poll the job's JSON status and update the progress bar and message; reload the page
// when the job has finished, so the server renders the download link or the error. Without
// JavaScript the page still works (its refresh link).
(function () {
  var box = document.getElementById("job");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-status-url");
  if (box.getAttribute("data-status") !== "queued" && box.getAttribute("data-status") !== "running") return;
  var bar = box.querySelector(".job-progress");
  var message = box.querySelector(".job-message");
  var status = box.querySelector(".job-status");
  var ahead = box.querySelector(".job-ahead");
  var delay = 700;
  var seen = box.getAttribute("data-status");

  function show(data) {
    if (bar) { bar.value = data.progress; bar.textContent = data.progress + "%"; }
    if (message && data.message) message.textContent = data.message;
    if (status) status.textContent = data.status_label;
    if (ahead && data.status !== "queued") ahead.textContent = "";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) {
        if (!resp.ok) throw new Error(resp.status);
        return resp.json();
      })
      .then(function (data) {
        show(data);
        if (data.finished) { window.location.reload(); return; }
        if (data.status !== seen) { seen = data.status; delay = 700; }
        delay = Math.min(delay * 1.25, 3000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, delay);
})();
