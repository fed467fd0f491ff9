// The chat page's small script: source buttons inside answers open the passage panel.
// Gradio's sanitizer keeps a button's classes, so the turn and source number travel as
// class "cite-TURN-N" (a closest passage of an abstention: "related-TURN-N"); this writes it
// to a hidden textbox and presses a hidden button.
(() => {
  if (window.inhouse) return;
  const pattern = /^(cite|related)-\d+-\d+$/;
  document.addEventListener("click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest("button.cite-chip") : null;
    if (!chip) return;
    const key = [...chip.classList].find((name) => pattern.test(name));
    const box = document.querySelector("#cite-key textarea, #cite-key input");
    const open = document.querySelector("#cite-open");
    if (!key || !box || !open) return;
    event.preventDefault();
    document.querySelectorAll("button.cite-chip[aria-pressed]").forEach((b) => b.removeAttribute("aria-pressed"));
    chip.setAttribute("aria-pressed", "true");
    box.value = key;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    open.click();
  });
  window.inhouse = {
    showPanel() {
      const panel = document.querySelector("#citation-panel");
      if (!panel) return;
      const heading = panel.querySelector("h2");
      const rect = panel.getBoundingClientRect();
      if (rect.top < 0 || rect.bottom > window.innerHeight) panel.scrollIntoView({ block: "start" });
      if (heading) heading.focus({ preventScroll: true });
      // The passage scrolls by itself (max-height): bring its first highlighted sentence into view.
      const box = panel.querySelector("blockquote.passage-text");
      const mark = box && box.querySelector("mark");
      if (mark) box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    },
    focusQuestion() {
      const box = document.querySelector("#question textarea");
      if (box) box.focus();
    },
  };
})();
