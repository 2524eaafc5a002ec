/* The copy button of a command to run (portal/partials/card_command.html): shown only where the browser
   can write to the clipboard. A static file, so that the Content-Security-Policy can forbid inline scripts. */
(function () {
  "use strict";
  document.querySelectorAll("[data-action=copy-command]").forEach(function (button) {
    var block = button.closest(".card-command");
    var source = block && block.querySelector("[data-command]");
    var status = block && block.querySelector("[data-copied]");
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.dataset.command).then(function () {
        if (status) { status.textContent = status.dataset.copied; }
      });
    });
  });
})();
