// Reviewer workspace: keyboard shortcuts, the ? overlay, tidy filter URLs, htmx error handling.
(function () {
  "use strict";

  // Single-key shortcuts can be switched off (WCAG 2.1.4: speech input and some assistive
  // technology type letters); the choice stays in this browser. Buttons keep working.
  const SWITCH = "cc.single-key-shortcuts";
  function shortcutsOn() {
    try { return window.localStorage.getItem(SWITCH) !== "off"; } catch (e) { return true; }
  }
  function applySwitch() {
    document.documentElement.classList.toggle("no-shortcuts", !shortcutsOn());
    document.querySelectorAll("[data-shortcut-switch]").forEach((box) => { box.checked = shortcutsOn(); });
  }
  document.addEventListener("change", (event) => {
    const box = event.target.closest && event.target.closest("[data-shortcut-switch]");
    if (!box) return;
    try { window.localStorage.setItem(SWITCH, box.checked ? "on" : "off"); } catch (e) { /* private mode: this page only */ }
    applySwitch();
  });
  document.addEventListener("DOMContentLoaded", applySwitch);
  applySwitch();

  // The name a key press goes by in data-shortcut: the key itself, or "shift+<digit>" for
  // Shift with a digit (a classification's grades), whatever the keyboard layout prints.
  function keyName(event) {
    const digit = /^Digit([0-9])$/.exec(event.code || "");
    if (event.shiftKey && digit) return "shift+" + digit[1];
    return event.key;
  }

  if (window.htmx) {
    // A refused action (400: bad value, 409: someone else changed the example) comes back
    // as the page fragment with the message and the reviewer's input: swap it in.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|409)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  function editable(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function toggleShortcuts() {
    const dialog = document.getElementById("shortcuts");
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function openDetails(summary) {
    const details = summary.closest("details");
    if (!details) return;
    details.open = true;
    const field = details.querySelector("textarea, input:not([type=hidden]), select");
    if (field) {
      field.focus();
      if (field.setSelectionRange && field.value) field.setSelectionRange(field.value.length, field.value.length);
    }
  }

  function findShortcut(key) {
    const scope = document.getElementById("focus") || document;
    const all = Array.from(scope.querySelectorAll("[data-shortcut]")).concat(
      scope === document ? [] : Array.from(document.querySelectorAll("[data-shortcut]")));
    return all.find((el) => el.dataset.shortcut === key && !el.disabled &&
      (visible(el) || el.tagName === "SUMMARY"));
  }

  // Queue rows: j/k move a highlight, o or Enter opens the highlighted row.
  function moveRow(step) {
    const rows = Array.from(document.querySelectorAll("[data-row-list] [data-row]"));
    if (!rows.length) return false;
    let index = rows.findIndex((r) => r.classList.contains("selected"));
    if (index >= 0) rows[index].classList.remove("selected");
    index = Math.max(0, Math.min(rows.length - 1, index + step));
    rows[index].classList.add("selected");
    rows[index].scrollIntoView({ block: "nearest" });
    return true;
  }

  function openRow() {
    const row = document.querySelector("[data-row-list] [data-row].selected");
    if (row) window.location.href = row.dataset.href;
    return !!row;
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (editable(target)) {
      if (event.key === "Enter" && target.tagName === "SELECT" && target.hasAttribute("data-autosubmit") && target.form) {
        event.preventDefault();  // a select saves on Enter; arrow keys only move the choice
        target.form.requestSubmit();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
        event.preventDefault();
        target.form.requestSubmit();
      } else if (event.key === "Escape") {
        // Escape leaves the field. In a search box the browser would also clear it (and refilter the
        // queue under the reviewer's next keys): the search stays, as the shortcut help says.
        if (target.type === "search") event.preventDefault();
        const details = target.closest("details");
        if (details) {
          details.open = false;
          if (target.tagName === "TEXTAREA" && target.defaultValue !== undefined) target.value = target.defaultValue;
        }
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!shortcutsOn()) return;
    if (target.closest && target.closest(".heatmap") && /^Arrow/.test(event.key)) return;
    const key = keyName(event);
    if (key === "?") {
      event.preventDefault();
      toggleShortcuts();
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    if (!document.getElementById("focus")) {
      if ((key === "j" || key === "k") && moveRow(key === "j" ? 1 : -1)) return event.preventDefault();
      if ((key === "o" || key === "Enter") && openRow()) return event.preventDefault();
      if (key === "x") {
        const row = document.querySelector("[data-row-list] [data-row].selected");
        const box = row && row.querySelector('input[name="id"]');
        if (box) {
          box.checked = !box.checked;
          syncSelection();
          return event.preventDefault();
        }
      }
    }
    const el = findShortcut(key);
    if (!el) return;
    event.preventDefault();
    const how = el.dataset.shortcutAction;
    if (how === "open") openDetails(el);
    else if (how === "focus") el.focus();
    else {
      el.focus({ preventScroll: true });  // so focus can come back to it after the swap
      el.click();
    }
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-toggle-shortcuts]")) toggleShortcuts();
  });

  // Selects marked data-autosubmit (the tier) save when picked with the mouse or on Enter,
  // never while arrow keys walk through the options (each step would save and lose focus).
  let pointerPick = null;
  document.addEventListener("pointerdown", (event) => {
    pointerPick = event.target.closest && event.target.closest("select[data-autosubmit]");
  });
  document.addEventListener("keydown", () => { pointerPick = null; }, true);
  document.addEventListener("change", (event) => {
    const select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select && select === pointerPick && select.form) select.form.requestSubmit();
  });

  // After htmx swaps the focus view, keyboard focus goes back where it was (the same
  // control) or, on another example, to its heading: never to <body>.
  let lastFocus = null;
  function describe(el) {
    if (!el || el === document.body) return null;
    if (el.id) return `#${CSS.escape(el.id)}`;
    if (el.dataset && el.dataset.shortcut) return `[data-shortcut="${CSS.escape(el.dataset.shortcut)}"]`;
    if (el.name) return `[name="${CSS.escape(el.name)}"]${el.value ? `[value="${CSS.escape(el.value)}"]` : ""}`;
    return null;
  }
  document.addEventListener("htmx:beforeRequest", (event) => {
    const focus = document.getElementById("focus");
    if (!focus || !focus.contains(event.detail.elt)) return;
    lastFocus = { example: focus.dataset.example, selector: describe(document.activeElement) };
  });
  document.addEventListener("htmx:afterSettle", () => {
    const focus = document.getElementById("focus");
    if (!focus || !lastFocus) return;
    const remembered = lastFocus;
    lastFocus = null;
    const active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    let el = null;
    if (remembered.example === focus.dataset.example && remembered.selector) el = focus.querySelector(remembered.selector);
    if (el && visible(el)) el.focus({ preventScroll: true });
    if (document.activeElement !== el) {
      const heading = focus.querySelector("[data-focus-landing]");
      if (heading) heading.focus({ preventScroll: true });
    }
  });

  // The token heatmap is one tab stop; arrow keys walk its tokens (roving tabindex).
  document.addEventListener("keydown", (event) => {
    const tok = event.target.closest && event.target.closest(".heatmap .tok");
    if (!tok || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const tokens = Array.from(tok.closest(".heatmap").querySelectorAll(".tok"));
    const index = tokens.indexOf(tok);
    const next = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: tokens.length - 1 }[event.key];
    if (next < 0 || next >= tokens.length) return;
    event.preventDefault();
    tok.tabIndex = -1;
    tokens[next].tabIndex = 0;
    tokens[next].focus();
  });

  // Filter forms send only the fields that are set, so the URL stays short and shareable.
  document.addEventListener("htmx:configRequest", (event) => {
    const form = event.detail.elt.closest && event.detail.elt.closest("[data-clean-params]");
    const data = event.detail.formData;
    if (!form || !data) return;
    for (const key of Array.from(new Set(data.keys()))) {
      const kept = data.getAll(key).filter((v) => v !== "");
      data.delete(key);
      kept.forEach((v) => data.append(key, v));
    }
  });

  // Bulk forms show only the target their action needs (a tier for "Set tier", a stage for
  // "Move to stage"), and require it; the selection bar counts the ticked rows.
  function syncBulkForm(form) {
    const action = form.querySelector("[data-bulk-action]");
    if (!action) return;
    form.querySelectorAll("[data-for-action]").forEach((label) => {
      const needed = label.dataset.forAction === action.value;
      label.hidden = !needed;
      const select = label.querySelector("select");
      if (select) select.required = needed && label.dataset.forAction === "stage";
    });
  }
  function syncSelection() {
    const form = document.querySelector("[data-selection]");
    if (!form) return;
    const boxes = Array.from(document.querySelectorAll('input[name="id"][form="selection-form"]'));
    const ticked = boxes.filter((box) => box.checked).length;
    form.querySelector("[data-selected-count]").textContent = String(ticked);
    form.querySelector("[data-selection-submit]").disabled = ticked === 0;
    form.classList.toggle("active", ticked > 0);
    const all = document.querySelector("[data-select-all]");
    if (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }
  function syncAll() {
    document.querySelectorAll("[data-bulk-form]").forEach(syncBulkForm);
    syncSelection();
  }
  document.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest("[data-bulk-form]");
    if (form && event.target.matches("[data-bulk-action]")) syncBulkForm(form);
    if (event.target.matches && event.target.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="id"][form="selection-form"]').forEach((box) => { box.checked = event.target.checked; });
    }
    if (event.target.matches && event.target.matches('[data-select-all], input[name="id"][form="selection-form"]')) syncSelection();
  });
  document.addEventListener("DOMContentLoaded", syncAll);
  // On a phone the queue's filters start folded, so the rows come first.
  document.addEventListener("DOMContentLoaded", () => {
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    document.querySelectorAll("details[data-collapse-narrow]").forEach((d) => { d.open = false; });
  });
  document.addEventListener("htmx:afterSettle", syncAll);

  // A refused request that htmx does not swap (403, 500, network) must not fail silently.
  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : "";
    const text = status === 403 ? "You do not have the role for that action." : `The server answered ${status}; nothing was changed. Reload the page.`;
    let box = document.getElementById("htmx-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "htmx-error";
      box.className = "msg error toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = text;
  });
})();
