// The trash's sign-in through an OpenID Connect provider, in headless Chromium against the
// real binary and a real provider (.ci/oidc-provider.mjs: oauth2-mock-server, whose login
// answers at once for the person the script names):
//   - /trash offers "Sign in with your provider"; the button goes to the provider, which sends
//     the browser back to /trash with a code; the page exchanges it (PKCE) and is signed in as
//     a new member made from the token's email and name, who sees "Recently deleted"; the code
//     leaves the address bar, the token is in sessionStorage only, and the API agrees who it is;
//   - Sign out forgets the token and offers the button again;
//   - a token that expires while the page is open signs the page out, saying to sign in again;
//   - the playground's "Sign in with your provider" puts the token in the headers pane;
//   - under the page's policy: any CSP violation, console error or uncaught exception fails.
//
//   node playground/oidc-e2e.mjs [path/to/keepsake]   (needs `npm ci` in playground/ and .ci/)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { checkPageHeaders, firstStart, watchPage } from "./page-checks.mjs";

const binary = process.argv[2] ?? "target/debug/keepsake";
const dir = mkdtempSync(join(tmpdir(), "keepsake-oidc-"));
const children = [];
const fail = (message) => {
  console.error(`FAIL: ${message}`);
  children.forEach((child) => child.kill());
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 120_000);
process.on("exit", () => children.forEach((child) => child.kill()));

// The provider, answering one JSON line per command.
const provider = spawn("node", ["oidc-provider.mjs"], {
  cwd: new URL("../.ci/", import.meta.url).pathname,
  stdio: ["pipe", "pipe", "inherit"],
});
children.push(provider);
const answers = createInterface({ input: provider.stdout })[Symbol.asyncIterator]();
const next = async () => JSON.parse((await answers.next()).value);
const { issuer } = await next();
const ask = async (command) => {
  provider.stdin.write(`${JSON.stringify(command)}\n`);
  const answer = await next();
  if (answer.error) fail(`the provider: ${answer.error}`);
  return answer;
};
const person = { sub: "mia-7", email: "Mia@Example.com", name: "Mia Member", email_verified: true, aud: "keepsake-api" };
await ask({ op: "login", claims: person });

const server = spawn(binary, ["serve", "--bind", "127.0.0.1:0"], {
  env: {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/oidc.db?mode=rwc`,
    KEEPSAKE_STORAGE: `file://${dir}/blobs`,
    RUST_LOG: "warn",
    KEEPSAKE_OIDC_ISSUER: issuer,
    KEEPSAKE_OIDC_AUDIENCE: "keepsake-api",
    KEEPSAKE_OIDC_CLIENT_ID: "keepsake-trash",
  },
  stdio: ["ignore", "pipe", "inherit"],
});
children.push(server);
const { trash: link } = await firstStart(server, "trash", fail);
const origin = new URL(link).origin;

const config = await (await fetch(`${origin}/sign-in.json`)).json();
if (config.client_id !== "keepsake-trash" || !config.authorization_endpoint?.startsWith(issuer)) {
  fail(`/sign-in.json: ${JSON.stringify(config)}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await watchPage(page, fail);
  const visited = [];
  page.on("request", (request) => { if (request.isNavigationRequest()) visited.push(request.url()); });

  checkPageHeaders(await page.goto(`${origin}/trash`), fail);
  const button = page.getByRole("button", { name: "Sign in with your provider" });
  await button.waitFor({ timeout: 20_000 });
  await button.click();
  await page.getByRole("heading", { name: "Recently deleted" }).waitFor({ timeout: 20_000 });
  if (!visited.some((url) => url.startsWith(`${issuer}/authorize`))) fail(`the provider's sign-in was not visited: ${visited.join(", ")}`);
  const who = await page.locator("#whoami").textContent();
  if (who !== "Mia Member (member)") fail(`signed in as "${who}"`);
  if (page.url() !== `${origin}/trash`) fail(`the code stayed in the address bar: ${page.url()}`);
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem("keepsake:oidc-token"),
    local: localStorage.getItem("keepsake:token"),
    pending: sessionStorage.getItem("keepsake:oidc-pending"),
  }));
  if (!stored.session || stored.local || stored.pending) fail(`storage after sign-in: ${JSON.stringify(stored)}`);
  // The API agrees: the provider's token is that member's.
  const me = await (await fetch(`${origin}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${stored.session}` },
    body: JSON.stringify({ query: "{ me { email name role } }" }),
  })).json();
  if (me.data?.me?.email !== "mia@example.com" || me.data.me.role !== "MEMBER") fail(`me: ${JSON.stringify(me)}`);
  console.log("ok: signed in through the provider as a new member, who sees Recently deleted");

  // A reload keeps this tab signed in.
  await page.reload();
  await page.getByRole("heading", { name: "Recently deleted" }).waitFor({ timeout: 20_000 });

  await page.getByRole("button", { name: "Sign out" }).click();
  await button.waitFor({ timeout: 10_000 });
  const after = await page.evaluate(() => sessionStorage.getItem("keepsake:oidc-token"));
  if (after) fail("Sign out left the provider's token in sessionStorage");
  if (!(await page.locator("#message").textContent()).includes("Signed out")) fail("no 'Signed out'");
  console.log("ok: Sign out forgets the token and offers the provider again");

  // A token that expires while the page is open.
  const soon = Math.floor(Date.now() / 1000) + 4;
  await ask({ op: "login", claims: { ...person, exp: soon } });
  await button.click();
  await page.getByRole("heading", { name: "Recently deleted" }).waitFor({ timeout: 20_000 });
  await page.getByText("Your sign-in with your provider has expired: sign in again.").waitFor({ timeout: 40_000 });
  await button.waitFor({ timeout: 5_000 });
  console.log("ok: an expired sign-in says so and offers the provider again");

  // The playground offers the same sign-in; the token lands in the headers pane.
  await ask({ op: "login", claims: person });
  const playground = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await watchPage(playground, fail);
  checkPageHeaders(await playground.goto(`${origin}/playground`), fail);
  await playground.getByRole("button", { name: "Sign in with your provider" }).click();
  await playground.getByText("Signed in with your provider").waitFor({ timeout: 20_000 });
  if (playground.url() !== `${origin}/playground`) fail(`the code stayed in the address bar: ${playground.url()}`);
  // GraphiQL mounts its editors after the page settles: wait until the query and the token are
  // in them, then run; a run that raced the mount (an empty result) is tried again, at most 4 times.
  await playground.locator(".graphiql-query-editor").getByText("email").waitFor({ timeout: 20_000 }).catch(async (error) => {
    const shot = join(tmpdir(), `keepsake-oidc-playground-${Date.now()}.png`);
    await playground.screenshot({ path: shot });
    const text = await playground.locator("body").innerText();
    fail(`the playground's query editor never showed the query (${error.message.split("\n")[0]}); screenshot ${shot}; the page said: ${text.slice(0, 2000)}`);
  });
  const result = playground.locator(".result-window");
  let answered = false;
  for (let attempt = 0; attempt < 4 && !answered; attempt++) {
    await playground.locator(".graphiql-execute-button").click();
    answered = await result.getByText("mia@example.com").waitFor({ timeout: 8_000 }).then(() => true, () => false);
  }
  if (!answered) fail(`the playground never answered as mia: ${await result.innerText()}`);
  if (!(await result.innerText()).includes('"MEMBER"')) fail(`the playground answered: ${await result.innerText()}`);
  console.log("ok: the playground signs in through the provider and runs { me } as that member");
} finally {
  await browser.close();
}
clearTimeout(timer);
children.forEach((child) => child.kill());
rmSync(dir, { recursive: true, force: true });
console.log("oidc e2e: all passed");
