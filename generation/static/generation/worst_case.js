"use strict";
// Recomputes the worst-case figures (admin/settings.py worst_case) as the admin types,
// so the cost of a setting is seen before it is saved. A blank field follows the
// environment, as the service does, so blanks read the environment values from the
// page's JSON, which also carries the rule for a disabled service (no retries).
// Loaded as a file: the admin's Content-Security-Policy allows no inline script.

// admin/formatting.py seconds(), character for character: half up on whole hundredths.
function formatSeconds(value) {
  const hundredths = Math.floor(Math.max(value, 0) * 100 + 0.5);
  const whole = Math.floor(hundredths / 100);
  const fraction = hundredths % 100;
  const text = fraction ? `${whole}.${String(fraction).padStart(2, "0")}`.replace(/0$/, "") : `${whole}`;
  return text + " s";
}

if (typeof module !== "undefined") module.exports = { formatSeconds }; // for the tests, under node

(function () {
  if (typeof document === "undefined") return;
  const form = document.getElementById("generationsettings_form");
  const source = document.getElementById("generation-environment");
  if (!form || !source || !form.elements.max_retries) return; // read-only page: figures are the server's
  const env = JSON.parse(source.textContent);
  const figure = (name) => document.querySelector(`#generation-worst-case [data-figure="${name}"]`);
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
    const retries = enabled ? number("max_retries") : env.retries_when_disabled;
    const perModel = number("retry_delay") * (2 ** retries - 1);
    const maxWait = number("max_wait");
    const wait = Math.min(perModel * tried.length, maxWait);
    const calls = tried.length * (retries + 1);
    const longest = wait + calls * number("timeout");
    const totalTimeout = number("total_timeout");
    figure("per-model").textContent = formatSeconds(perModel);
    figure("uncapped").textContent = formatSeconds(perModel * tried.length);
    figure("total").textContent = formatSeconds(wait);
    figure("max-wait").textContent = formatSeconds(maxWait);
    figure("count").textContent = String(tried.length);
    figure("models").replaceChildren(...tried.map((m) => Object.assign(document.createElement("li"), { textContent: m })));
    figure("calls").textContent = String(calls);
    figure("longest").textContent = formatSeconds(Math.min(longest, totalTimeout));
    figure("longest-uncapped").textContent = formatSeconds(longest);
    figure("total-timeout").textContent = formatSeconds(totalTimeout);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
