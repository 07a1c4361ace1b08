// Live feedback for the assessment form: as facts are entered, post the form to
// /form/feedback and show what the server says (errors beside their fields, SINS / Genant /
// ESCC per level, the provisional disposition). Everything is computed on the server; with
// scripting off, the "Check the scores so far" button shows the same feedback.
"use strict";
(function () {
  const form = document.getElementById("assess-form");
  if (!form) return;
  let timer = null;
  let seq = 0;

  function fields() {
    const data = new FormData(form);
    data.delete("patient"); // the JSON box is not part of the structured form
    return data;
  }

  function show(answer) {
    for (const el of form.querySelectorAll("[data-error-for]")) {
      const reason = answer.errors[el.dataset.errorFor] || "";
      el.textContent = reason;
      el.hidden = !reason;
      const box = el.closest(".q");
      if (box) box.classList.toggle("invalid", Boolean(reason));
    }
    for (const el of form.querySelectorAll("[data-feedback]")) {
      const key = el.dataset.feedback;
      el.textContent = key === "summary" ? answer.summary : answer.levels[key] || "";
    }
  }

  async function ask() {
    const mine = ++seq;
    const r = await fetch("/form/feedback", { method: "POST", body: new URLSearchParams(fields()) });
    if (r.ok && mine === seq) show(await r.json());
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(ask, 300);
  }

  form.addEventListener("change", (e) => { if (e.target.name !== "patient") soon(); });
  form.addEventListener("input", (e) => { if (e.target.type === "text") soon(); });
})();
