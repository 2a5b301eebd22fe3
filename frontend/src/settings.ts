// Small behaviours for the account and admin pages. The strict CSP forbids inline
// handlers, so forms and buttons opt in with data attributes instead.
//   <form data-confirm="Really?">   asks before submitting
//   <button data-copy="#selector">  copies the element's text to the clipboard

function confirmForms(root: ParentNode): void {
  root.querySelectorAll<HTMLFormElement>("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const question = form.dataset.confirm ?? "Are you sure?";
      if (!window.confirm(question)) {
        event.preventDefault();
      }
    });
  });
}

function copyButtons(root: ParentNode): void {
  root.querySelectorAll<HTMLButtonElement>("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = document.querySelector(button.dataset.copy ?? "");
      const text = target?.textContent?.trim() ?? "";
      if (!text) return;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy by hand";
      }
      window.setTimeout(() => {
        button.textContent = label;
      }, 1500);
    });
  });
}

export function initAccountPages(root: ParentNode = document): void {
  confirmForms(root);
  copyButtons(root);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => initAccountPages());
} else {
  initAccountPages();
}
