// A scenario (the order and the what-if parameters) in the page's address, so a link shows someone else
// exactly this: `#scenario=` and the scenario as base64url of its UTF-8 JSON. Nothing leaves the browser
// until the link is shared; the service never sees the fragment.

const KEY = "scenario";

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** The link to this scenario (the page's address with the scenario as its fragment). */
export function scenarioLink(order, parameters) {
  const scenario = Object.keys(parameters).length ? { order, parameters } : { order };
  const url = new URL(location.href);
  url.search = "";
  url.hash = `${KEY}=${toBase64Url(JSON.stringify(scenario))}`;
  return url.toString();
}

/** Keep the address bar showing the current scenario (without adding to the history). */
export function showScenario(order, parameters) {
  history.replaceState(null, "", scenarioLink(order, parameters));
}

/** The scenario in the address, or null; {error} when the fragment is there but cannot be read. */
export function readScenario() {
  const fragment = new URLSearchParams(location.hash.slice(1)).get(KEY);
  if (!fragment) return null;
  try {
    const scenario = JSON.parse(fromBase64Url(fragment));
    if (!scenario || typeof scenario.order !== "object" || Array.isArray(scenario.order)) throw new Error("no order");
    const parameters = scenario.parameters && typeof scenario.parameters === "object" ? scenario.parameters : {};
    return { order: scenario.order, parameters };
  } catch (error) {
    return { error: String(error) };
  }
}
