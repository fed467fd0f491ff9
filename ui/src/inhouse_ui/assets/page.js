// The chat page's small script. Buttons inside Gradio's HTML reach Python by writing a key to
// a hidden textbox and pressing a hidden button:
// - source buttons inside answers open the passage panel. Gradio's sanitizer keeps a button's
//   classes, so the turn and source number travel as class "cite-TURN-N" (a closest passage of
//   an abstention: "related-TURN-N");
// - the list of past conversations: "open-ID" reopens one, "delete-ID" deletes one (once the
//   reader confirms).
(() => {
  if (window.inhouse) return;
  const pattern = /^(cite|related)-\d+-\d+$/;
  const press = (box, button, key) => {
    const input = document.querySelector(`${box} textarea, ${box} input`);
    const go = document.querySelector(button);
    if (!input || !go) return false;
    input.value = key;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    go.click();
    return true;
  };
  document.addEventListener("click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest("button.cite-chip") : null;
    if (!chip) return;
    const key = [...chip.classList].find((name) => pattern.test(name));
    if (!key || !document.querySelector("#cite-open")) return;
    event.preventDefault();
    document.querySelectorAll("button.cite-chip[aria-pressed]").forEach((b) => b.removeAttribute("aria-pressed"));
    chip.setAttribute("aria-pressed", "true");
    press("#cite-key", "#cite-open", key);
  });
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("#conversation-list button[data-action]") : null;
    if (!button) return;
    const { action, conversation } = button.dataset;
    if (!/^(open|delete)$/.test(action) || !/^[0-9a-f]{32}$/.test(conversation)) return;
    event.preventDefault();
    const title = button.closest("li")?.querySelector(".conversation-title")?.textContent || "this conversation";
    if (action === "delete" && !window.confirm(`Delete “${title}”? This cannot be undone.`)) return;
    press("#conversation-key", "#conversation-go", `${action}-${conversation}`);
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
