// The playground, as a person uses it: start Keepsake on an empty database, take the admin
// token it prints, open /playground in headless Chromium, put the token in the headers pane,
// run `{ me { email role } }` and read the answer; then open the docs pane (built from the
// schema GraphiQL reads by introspection), find the User type and read its fields `email` and
// `attachments` (screenshot: /tmp/playground-docs.png). The page must come with its headers
// (a Content-Security-Policy with `script-src 'self'` and `frame-ancestors 'none'`, no
// referrer, nosniff) and work under that policy: any CSP violation, console error or uncaught
// exception fails the run (page-checks.mjs). Last, a `deletionEvents` subscription: run in
// the playground, it goes over a WebSocket to /graphql/ws with the headers pane's token, and a
// deletion made over HTTP shows in the result pane (screenshot:
// /tmp/playground-subscription.png); the stop button ends it. Run by .ci/run after
// `cargo test`.
//
//   node playground/e2e.mjs [path/to/keepsake]   (default: target/debug/keepsake)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { checkPageHeaders, firstStart, watchPage } from "./page-checks.mjs";

const binary = process.argv[2] ?? "target/debug/keepsake";
const dir = mkdtempSync(join(tmpdir(), "keepsake-e2e-"));
const server = spawn(binary, ["serve", "--bind", "127.0.0.1:0"], {
  env: { ...process.env, DATABASE_URL: `sqlite://${dir}/e2e.db?mode=rwc`, RUST_LOG: "warn" },
  stdio: ["ignore", "pipe", "inherit"],
});
const fail = (message) => {
  console.error(`FAIL: ${message}`);
  server.kill();
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 60_000);

// The first start prints the admin's token and the playground URL.
const { token, playground } = await firstStart(server, "playground", fail);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await watchPage(page, fail);
  const offsite = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(new URL(playground).origin)) offsite.push(request.url());
  });
  // GraphiQL keeps the headers pane in localStorage: this is what pasting the token leaves.
  await page.addInitScript((t) => {
    localStorage.setItem("graphiql:headers", JSON.stringify({ Authorization: `Bearer ${t}` }));
    localStorage.setItem("graphiql:query", "{ me { email role } }");
  }, token);
  checkPageHeaders(await page.goto(playground), fail);
  await page.locator(".graphiql-execute-button").click();
  const result = page.locator(".result-window");
  await result.getByText("admin@localhost").waitFor({ timeout: 20_000 });
  const text = await result.innerText();
  if (!text.includes('"ADMIN"')) fail(`unexpected answer: ${text}`);
  await page.screenshot({ path: join(dir, "..", "keepsake-playground.png") });
  console.log("ok: the playground answered { me { email role } } as admin@localhost, ADMIN");

  // The docs pane is built from the standard introspection query GraphiQL sends: open it,
  // search for the User type, open it and read its fields.
  await page.setViewportSize({ width: 1280, height: 1100 }); // room for the fields in the screenshot
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  const docs = page.locator(".graphiql-doc-explorer");
  const docsError = docs.locator(".graphiql-doc-explorer-error");
  await docs.getByText("Root Types").or(docsError).first().waitFor({ timeout: 20_000 });
  if (await docsError.count()) fail(`the docs pane shows an error: ${await docs.innerText()}`);
  await docs.locator(".graphiql-doc-explorer-search-input input").fill("User");
  await page.getByRole("option", { name: "User", exact: true }).click();
  await docs.locator(".graphiql-doc-explorer-title", { hasText: /^User$/ }).waitFor({ timeout: 10_000 });
  const fields = await docs.locator(".graphiql-doc-explorer-field-name").allInnerTexts();
  for (const field of ["email", "attachments"]) {
    if (!fields.includes(field)) fail(`the docs pane's User type lists no ${field}: ${fields.join(", ")}`);
  }
  await page.screenshot({ path: "/tmp/playground-docs.png" });
  if (offsite.length) fail(`the playground fetched from elsewhere: ${offsite.join(", ")}`);
  console.log(`ok: the docs pane shows the User type and its fields (${fields.join(", ")})`);

  // A subscription, in a page of its own (a fresh localStorage, as pasted): the playground
  // runs deletionEvents over a WebSocket to /graphql/ws, the headers pane's token in
  // connection_init; a deletion made over HTTP then shows in the result pane.
  const live = await browser.newPage();
  await watchPage(live, fail);
  const origin = new URL(playground).origin;
  const socketUrl = `${origin.replace(/^http/, "ws")}/graphql/ws`;
  const sockets = [];
  live.on("websocket", (socket) => {
    const frames = { sent: [], received: [] };
    socket.on("framesent", (frame) => frames.sent.push(JSON.parse(frame.payload)));
    socket.on("framereceived", (frame) => frames.received.push(JSON.parse(frame.payload)));
    sockets.push({ socket, frames });
  });
  await live.addInitScript((t) => {
    localStorage.setItem("graphiql:headers", JSON.stringify({ Authorization: `Bearer ${t}` }));
    localStorage.setItem(
      "graphiql:query",
      "subscription { deletionEvents { id type deletion { entity entityId reason } } }",
    );
  }, token);
  checkPageHeaders(await live.goto(playground), fail);
  await live.locator(".graphiql-execute-button").click();
  const subscribed = async () => {
    for (let i = 0; i < 100; i++) {
      const found = sockets.find((s) => s.frames.sent.some((m) => m.type === "subscribe"));
      if (found) return found;
      await live.waitForTimeout(100);
    }
    fail(`the playground sent no subscribe over a WebSocket within 10 s (sockets: ${sockets.map((s) => s.socket.url()).join(", ") || "none"})`);
  };
  const { socket, frames } = await subscribed();
  if (socket.url() !== socketUrl) fail(`the playground's socket went to ${socket.url()}, not ${socketUrl}`);
  const init = frames.sent.find((m) => m.type === "connection_init");
  if (init?.payload?.Authorization !== `Bearer ${token}`) fail(`connection_init carried ${JSON.stringify(init)}`);
  if (!frames.received.some((m) => m.type === "connection_ack")) fail("the server did not acknowledge the connection");
  const http = async (query, variables = {}) => {
    const response = await fetch(`${origin}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors?.length) fail(`${query}: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  const me = (await http("{ me { id } }")).me.id;
  const created = await http(
    'mutation ($owner: ID!) { createAttachment(input: {ownerId: $owner, filename: "seen-live.txt", contentType: "text/plain", sizeBytes: 1}) { id } }',
    { owner: me },
  );
  const attachment = created.createAttachment.id;
  await http('mutation ($id: ID!) { deleteAttachment(id: $id, reason: "seen in the playground") { id } }', { id: attachment });
  const liveResult = live.locator(".result-window");
  await liveResult.getByText(attachment).waitFor({ timeout: 10_000 });
  const event = await liveResult.innerText();
  for (const part of ['"deletion.created"', '"ATTACHMENT"', '"seen in the playground"']) {
    if (!event.includes(part)) fail(`the result pane shows no ${part}: ${event}`);
  }
  await live.screenshot({ path: "/tmp/playground-subscription.png" });
  console.log(`ok: the playground subscribed over ${socketUrl} (token in connection_init) and showed the deletion of ${attachment} made over HTTP`);
  // The execute button is a stop button while the subscription runs: it ends it.
  const closed = socket.isClosed() ? Promise.resolve() : socket.waitForEvent("close", { timeout: 10_000 });
  await live.locator(".graphiql-execute-button").click();
  await closed;
  if (!frames.sent.some((m) => m.type === "complete")) fail("stopping the subscription sent no complete");
  console.log("ok: the stop button ended the subscription (complete sent, socket closed)");
  console.log("ok: the page came with its CSP, no-referrer and nosniff, and nothing broke them");
} catch (err) {
  fail(err.message);
} finally {
  clearTimeout(timer);
  await browser.close();
  server.kill();
  rmSync(dir, { recursive: true, force: true });
}
