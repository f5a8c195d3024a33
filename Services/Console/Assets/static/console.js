// Shows an action's outcome when its answering event arrives: polls /actions/{id} while the
// action is waiting, then reloads the page (which shows the new state).
(function () {
  const note = document.querySelector("p.action[data-pending='1']");
  if (!note) return;
  const id = note.getAttribute("data-action");
  let tries = 0;
  const poll = function () {
    tries += 1;
    fetch("/actions/" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (answer && answer.status !== "sent") { window.location.reload(); return; }
        if (tries < 120) setTimeout(poll, 1000);
      })
      .catch(function () { if (tries < 120) setTimeout(poll, 2000); });
  };
  setTimeout(poll, 500);
})();

// The manifests' print button (the print stylesheet leaves only the lists).
(function () {
  const button = document.getElementById("print-button");
  if (button) button.addEventListener("click", function () { window.print(); });
})();
