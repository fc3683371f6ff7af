// What the browser tests (e2e.mjs, trash-e2e.mjs, oidc-e2e.mjs) share: what the server's first
// start prints (`firstStart`), and what they check of the pages they open, besides what
// the pages do: that a page goes out with the headers src/app/pages.rs gives it (a
// Content-Security-Policy that runs scripts from Keepsake's origin only and lets no site
// frame the page, no referrer, no sniffing), and that under that policy nothing is refused
// and nothing goes wrong: no CSP violation, no console error, no uncaught exception, no
// script without a JavaScript type. A page that works only because the policy is loose fails
// on the headers; a page the policy quietly breaks fails on the violation.

import { createInterface } from "node:readline";

/**
 * The `key: value` lines a server's first start prints on stdout (the admin's token, the
 * playground's URL, the trash's sign-in link), read up to the one named `last`; stdout is then
 * drained for as long as the server runs. Fails unless `token` and `last` were printed.
 */
export async function firstStart(server, last, fail) {
  const printed = {};
  const lines = createInterface({ input: server.stdout });
  for await (const line of lines) {
    const [key, value] = line.trim().split(/:\s+/, 2);
    printed[key] = value;
    if (key === last) break;
  }
  if (!printed.token || !printed[last]) fail(`the first start printed no token or ${last}`);
  lines.on("line", () => {}); // keep draining stdout
  return printed;
}

/** From now on, fails (`fail(message)`) on anything `page` reports as gone wrong. */
export async function watchPage(page, fail) {
  // A refused script, style, font or fetch raises `securitypolicyviolation` on the document.
  // The listener goes in before any of the page's own scripts run (an init script is not
  // subject to the page's policy) and reports out through a binding.
  await page.exposeBinding("keepsakeViolation", (_source, what) => fail(`CSP violation: ${what}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.keepsakeViolation(
        `${e.effectiveDirective} refused ${e.blockedURI || "an inline script or style"} in ${e.sourceFile || e.documentURI}:${e.lineNumber}`,
      ),
    );
  });
  // Chromium also logs each violation as a console error; any other console error (a failed
  // load, a script's console.error) is a failure as well.
  page.on("console", (message) => {
    if (message.type() === "error") fail(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => fail(`the page threw: ${error.message}`));
  // nosniff runs a script only when its Content-Type says JavaScript: say it of every one.
  page.on("response", (response) => {
    if (response.request().resourceType() !== "script") return;
    const type = response.headers()["content-type"] ?? "";
    if (!type.startsWith("text/javascript")) fail(`${response.url()} is served as "${type}"`);
    if (response.headers()["x-content-type-options"] !== "nosniff") fail(`${response.url()} lacks nosniff`);
  });
}

/** Fails unless `response` (a page's, from `page.goto`) carries the pages' headers. */
export function checkPageHeaders(response, fail) {
  const headers = response.headers();
  const csp = headers["content-security-policy"] ?? "";
  const directives = new Map(
    csp
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...values]) => [name.toLowerCase(), values.join(" ")]),
  );
  // Exactly 'self': no 'unsafe-inline', no 'unsafe-eval', no other source.
  if (directives.get("script-src") !== "'self'") fail(`${response.url()}: the policy's script-src is not 'self' alone: "${csp}"`);
  if (directives.get("frame-ancestors") !== "'none'") fail(`${response.url()}: the policy lets other sites frame the page: "${csp}"`);
  if (headers["referrer-policy"] !== "no-referrer") fail(`${response.url()}: Referrer-Policy is "${headers["referrer-policy"]}"`);
  if (headers["x-content-type-options"] !== "nosniff") fail(`${response.url()}: X-Content-Type-Options is "${headers["x-content-type-options"]}"`);
}
