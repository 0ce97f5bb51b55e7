// Our own small behaviours; htmx itself comes from the django-htmx package.

// "Copy" buttons: <button data-copy="#element-id">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => { button.textContent = "Copied"; });
});
