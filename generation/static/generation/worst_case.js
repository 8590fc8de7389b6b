"use strict";
// Recomputes the worst-case wait (policy.worst_case_wait) as the admin types,
// so the cost of a setting is seen before it is saved. A blank field follows
// the environment, as the service does, so blanks read the environment values.
(function () {
  const form = document.getElementById("generationsettings_form");
  const source = document.getElementById("generation-environment");
  if (!form || !source || !form.elements.max_retries) return; // read-only page: figures are the server's
  const env = JSON.parse(source.textContent);
  const figure = (name) => document.querySelector(`#generation-worst-case [data-figure="${name}"]`);
  const seconds = (value) => value.toFixed(1).replace(/\.0$/, "") + " s";
  const text = (name) => form.elements[name].value.trim();
  const number = (name) => {
    const value = Number(text(name));
    return text(name) === "" || !Number.isFinite(value) ? env[name] : value;
  };
  const models = (text) => text.split(",").map((m) => m.trim()).filter(Boolean);

  function update() {
    const enabled = { true: true, false: false }[form.elements.enabled.value] ?? env.enabled;
    const primary = text("model") || env.model;
    const fallbacks = text("fallback_models") ? models(text("fallback_models")) : env.fallback_models;
    const tried = enabled ? [primary, ...fallbacks.filter((m) => m !== primary)] : [primary];
    const retries = enabled ? number("max_retries") : 0;
    const perModel = number("retry_delay") * (2 ** retries - 1);
    const maxWait = number("max_wait");
    figure("per-model").textContent = seconds(perModel);
    figure("uncapped").textContent = seconds(perModel * tried.length);
    figure("total").textContent = seconds(Math.min(perModel * tried.length, maxWait));
    figure("max-wait").textContent = seconds(maxWait);
    figure("count").textContent = String(tried.length);
    figure("models").replaceChildren(...tried.map((m) => Object.assign(document.createElement("li"), { textContent: m })));
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
