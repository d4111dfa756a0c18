// Small, optional help: a form cannot be sent twice by a double click (the server also refuses).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  var answer = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); } else if (answer) { answer.focus(); }
  document.querySelectorAll("button[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
});
