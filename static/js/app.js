// Our own small behaviours; htmx itself comes from the django-htmx package.

// "Copy" buttons: <button data-copy="#element-id">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => { button.textContent = "Copied"; });
});

// Formset rows (the distillation stages): "add" clones the <template> row with the
// next index and copies the settings of the last visible row; "remove" marks the row
// deleted and hides it. Without JavaScript both buttons submit and the server re-renders.
(function () {
  const COPIED = ["steps", "epochs", "lr", "warmup_steps", "temperature", "alpha", "divergence", "jsd_beta",
                  "replay_fraction", "gate_metric", "gate_threshold", "gate_patience"];

  function visibleRows(root) {
    return Array.from(root.querySelectorAll("tbody > tr")).filter((tr) => !tr.hidden);
  }

  function renumber(root) {
    visibleRows(root).forEach((tr, i) => {
      const cell = tr.querySelector(".stage-number");
      if (cell && cell.firstChild && cell.firstChild.nodeType === Node.TEXT_NODE) cell.firstChild.textContent = String(i + 1);
      else if (cell) cell.insertBefore(document.createTextNode(String(i + 1)), cell.firstChild);
    });
  }

  document.addEventListener("click", (event) => {
    const add = event.target.closest("[data-formset-add]");
    if (add) {
      const root = document.getElementById(add.dataset.formsetAdd);
      const total = root.querySelector('input[name$="-TOTAL_FORMS"]');
      const template = root.querySelector("template");
      if (!root || !total || !template) return;
      event.preventDefault();
      const index = Number(total.value);
      const previous = visibleRows(root).pop();
      root.querySelector("tbody").insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__prefix__", String(index)));
      total.value = String(index + 1);
      const row = root.querySelector("tbody").lastElementChild;
      if (previous) {
        for (const field of COPIED) {
          const from = previous.querySelector(`[name$="-${field}"]`);
          const to = row.querySelector(`[name$="-${field}"]`);
          if (from && to) to.value = from.value;
        }
      }
      renumber(root);
      const first = row.querySelector("select, input:not([type=hidden])");
      if (first) first.focus();
      return;
    }
    const remove = event.target.closest("[data-formset-remove]");
    if (remove) {
      const row = remove.closest("tr");
      const flag = row && row.querySelector('input[name$="-DELETE"]');
      if (!flag) return;
      event.preventDefault();
      flag.value = "on";
      row.hidden = true;
      renumber(row.closest("[id]"));
    }
  });
})();

// Bar widths and heights come as data-width / data-height (percent) and are set here, so the
// pages carry no style attributes and the Content-Security-Policy needs no 'unsafe-inline'.
function sizeBars(root) {
  root.querySelectorAll("[data-width]").forEach((el) => { el.style.width = `${parseFloat(el.dataset.width) || 0}%`; });
  root.querySelectorAll("[data-height]").forEach((el) => { el.style.height = `${parseFloat(el.dataset.height) || 0}%`; });
}
document.addEventListener("DOMContentLoaded", () => sizeBars(document));
document.addEventListener("htmx:load", (event) => sizeBars(event.target));

// Forms that ask first: <form data-confirm="Revoke this token?">.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
