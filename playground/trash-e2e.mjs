// The trash (/trash), as the people who undo use it, in headless Chromium against the real
// binary on a fresh database (SQLite, or the empty one $TRASH_DATABASE_URL names, such as a
// PostgreSQL database made for this run):
//   - an admin opens the sign-in link the first start prints, filters the log by who deleted,
//     finds a user deleted with her
//     attachments by searching her email, restores her, and sees it done (and the API agrees);
//   - a restore refused with CONFLICT (the email is taken again) is explained, and nothing
//     changes; one refused with PARENT_DELETED links to the owner's deletion, which restores,
//     and then the file does;
//   - insights show deletionStats's figures; the purge preview is the dry run's, and the
//     purge then takes those rows;
//   - support sees the log but no Restore or Purge, and downloads a deleted file's bytes; a
//     member sees no log, only their own
//     recent deletion with the time left to undo it, and undoes it; then deletes their own
//     account, is signed out, is offered "Undo account deletion" with the time left (still
//     after a reload), undoes it, and is signed in again with their files back;
//   - the undo credential outlives what used to drop it: a `#token=garbage` link opened in
//     another tab, and the member's old bookmark (their session token, refused while the
//     account is deleted), each fail to sign in, yet Undo is still offered, also after a
//     reload; Sign out asks first, and dismissed keeps it; the undo then works. Without an
//     undo credential, Sign out asks nothing;
//   - the page fetches nothing from elsewhere, and the token leaves the address bar;
//   - the page comes with its headers (a Content-Security-Policy with `script-src 'self'` and
//     `frame-ancestors 'none'`, no referrer, nosniff) and works under that policy: any CSP
//     violation, console error or uncaught exception fails the run (page-checks.mjs).
// Screenshots of each view at 1280 and 390 px wide go to $TRASH_SHOTS (default
// /tmp/keepsake-trash-shots), printed at the end. Run by .ci/run after the playground's test.
//
//   node playground/trash-e2e.mjs [path/to/keepsake]   (default: target/debug/keepsake)
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { checkPageHeaders, firstStart, watchPage } from "./page-checks.mjs";

const binary = process.argv[2] ?? "target/debug/keepsake";
const shots = process.env.TRASH_SHOTS ?? "/tmp/keepsake-trash-shots";
mkdirSync(shots, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "keepsake-trash-"));
const databaseUrl = process.env.TRASH_DATABASE_URL || `sqlite://${dir}/trash.db?mode=rwc`;
console.log(`database: ${databaseUrl.split(":")[0]}`);
const server = spawn(binary, ["serve", "--bind", "127.0.0.1:0"], {
  env: { ...process.env, DATABASE_URL: databaseUrl, RUST_LOG: "warn" },
  stdio: ["ignore", "pipe", "inherit"],
});
const fail = (message) => {
  console.error(`FAIL: ${message}`);
  server.kill();
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 120_000);
// Whatever ends this script, the server goes with it.
process.on("exit", () => server.kill());

// The first start prints the admin's token and the trash's sign-in link.
const { token, trash: link } = await firstStart(server, "trash", fail);
if (!link.includes(`#token=${token}`)) fail(`the trash link carries no token: ${link}`);
const origin = new URL(link).origin;

async function api(query, variables, as = token) {
  const response = await fetch(`${origin}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${as}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}
const tokenOf = (email) =>
  execFileSync(binary, ["token", "--email", email], { env: { ...process.env, DATABASE_URL: databaseUrl } })
    .toString()
    .trim()
    .split("\n")
    .pop();
const createUser = async (email, role = "MEMBER") =>
  (await api(`mutation($i: CreateUserInput!) { createUser(input: $i) { id } }`, {
    i: { email, name: email.split("@")[0].replace(/^./, (c) => c.toUpperCase()), role },
  })).createUser.id;
const attach = async (ownerId, filename) =>
  (await api(`mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { id } }`, {
    i: { ownerId, filename, contentType: "text/plain", sizeBytes: 42 },
  })).createAttachment.id;
const deleteUser = async (id, reason) =>
  (await api(`mutation($id: ID!, $r: String) { deleteUser(id: $id, reason: $r) { id } }`, { id, r: reason })).deleteUser.id;

// The world: Ada deleted with her two files, Carol deleted and her email taken again, a file
// of Bob's deleted on its own, and Grace of support.
const ada = await createUser("ada@example.com");
await attach(ada, "notes.txt");
await attach(ada, "thesis.pdf");
const bob = await createUser("bob@example.com");
const report = await attach(bob, "report.pdf");
await api(`mutation($id: ID!) { deleteAttachment(id: $id, reason: "duplicate") { id } }`, { id: report });
await deleteUser(ada, "left the team");
const carol = await createUser("carol@example.com");
const carolGone = await deleteUser(carol, "asked to be removed");
await createUser("carol@example.com");
await createUser("grace@example.com", "SUPPORT");
const grace = tokenOf("grace@example.com");
const bobToken = tokenOf("bob@example.com");
const dave = await createUser("dave@example.com");
const daveToken = tokenOf("dave@example.com");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
let page;
try {
  // A context of its own, so that a second tab (sharing localStorage) can open beside it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  const offsite = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(origin)) offsite.push(request.url());
  });
  // Every dialog is accepted, unless a step asks to dismiss the next one; each is kept.
  const dialogs = [];
  let dismissNext = false;
  page.on("dialog", (dialog) => {
    dialogs.push(dialog);
    const answer = dismissNext ? dialog.dismiss() : dialog.accept();
    dismissNext = false;
    return answer;
  });
  // A script error, a console error or a CSP violation on the page is a failure, whatever the
  // page shows.
  await watchPage(page, fail);
  const articles = page.locator("article.deletion");
  const shot = async (name) => page.screenshot({ path: join(shots, name), fullPage: true });

  // The admin's sign-in link: the log, newest first; the token leaves the address bar.
  checkPageHeaders(await page.goto(link), fail);
  await page.getByRole("heading", { name: "Deletion log" }).waitFor({ timeout: 20_000 });
  await articles.first().waitFor();
  if ((await articles.count()) !== 3) fail(`expected 3 deletions, saw ${await articles.count()}`);
  if (page.url().includes("token")) fail(`the token stayed in the address bar: ${page.url()}`);
  await shot("admin-log-1280.png");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("admin-log-390.png");
  await page.setViewportSize({ width: 1280, height: 900 });
  console.log("ok: the sign-in link opens the log (3 deletions) and the token leaves the address bar");

  // Who deleted: all three were the admin's; nobody else's.
  const byWhom = page.getByLabel("Deleted by (name or email)");
  await byWhom.fill("nobody@example.com");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("0 deletions", { exact: true }).waitFor();
  await byWhom.fill("ADMIN@localhost");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("3 deletions", { exact: true }).waitFor();
  await byWhom.fill("");
  console.log("ok: the log filters by who deleted");

  // Search her email: one deletion, her and her two attachments; restore it.
  await page.getByLabel("Search names, emails, filenames").fill("ada@example.com");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("1 deletion", { exact: true }).waitFor();
  const found = await articles.first().locator("h3").innerText();
  if (!found.includes("ada@example.com") || !found.includes("2 attachments")) fail(`the search found: ${found}`);
  await shot("search-1280.png");
  await articles.first().getByRole("button", { name: /^Restore / }).click();
  await articles.first().getByText(/^Restored /).waitFor({ timeout: 10_000 });
  await shot("restored-1280.png");
  const back = await api(`query($id: ID!) { user(id: $id) { id attachments { totalCount } } }`, { id: ada });
  if (!back.user || back.user.attachments.totalCount !== 2) fail(`after the restore the API says ${JSON.stringify(back)}`);
  console.log("ok: the search finds Ada's deletion; Restore brings her and her 2 attachments back");

  // Carol's email is someone else's now: the refusal is explained, and nothing changes.
  await page.getByLabel("Search names, emails, filenames").fill("carol");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("1 deletion", { exact: true }).waitFor();
  await articles.first().getByRole("button", { name: /^Restore / }).click();
  const outcome = articles.first().locator(".outcome");
  await outcome.getByText(/Nothing was restored/).waitFor({ timeout: 10_000 });
  const said = await outcome.innerText();
  if (!said.includes("carol@example.com") || !said.includes("Carol") || /\{|\}/.test(said)) fail(`the refusal reads: ${said}`);
  await shot("refused-1280.png");
  const still = await api(`query($id: ID!) { deletion(id: $id) { restoredAt } }`, { id: carolGone });
  if (still.deletion.restoredAt !== null) fail("a refused restore changed something");
  console.log(`ok: the refused restore says why ("${said}") and changes nothing`);

  // PARENT_DELETED: Eve's file, deleted on its own, cannot come back while Eve is deleted;
  // the refusal links to Eve's deletion, which restores, and then the file does.
  const eve = await createUser("eve@example.com");
  const eveFile = await attach(eve, "eve-notes.txt");
  await api(`mutation($id: ID!) { deleteAttachment(id: $id, reason: "cleanup") { id } }`, { id: eveFile });
  await deleteUser(eve, "left");
  await page.getByLabel("Search names, emails, filenames").fill("eve-notes");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("1 deletion", { exact: true }).waitFor();
  await articles.first().getByRole("button", { name: /^Restore / }).click();
  const toOwner = articles.first().getByRole("button", { name: "Show the deletion of eve@example.com" });
  await toOwner.waitFor({ timeout: 10_000 });
  await shot("parent-deleted-1280.png");
  await toOwner.click();
  await page.getByText("1 deletion", { exact: true }).waitFor();
  const eveEntry = await articles.first().locator("h3").innerText();
  if (!eveEntry.includes("eve@example.com")) fail(`the link led to: ${eveEntry}`);
  await articles.first().getByRole("button", { name: /^Restore / }).click();
  await articles.first().getByText(/^Restored /).waitFor({ timeout: 10_000 });
  await page.getByLabel("Search names, emails, filenames").fill("eve-notes");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("1 deletion", { exact: true }).waitFor();
  await articles.first().getByRole("button", { name: /^Restore / }).click();
  await articles.first().getByText(/^Restored /).waitFor({ timeout: 10_000 });
  const eveBack = await api(`query($id: ID!) { attachment(id: $id) { id } }`, { id: eveFile });
  if (!eveBack.attachment) fail("Eve's file did not come back after Eve");
  console.log("ok: PARENT_DELETED links to the owner's deletion; the owner, then the file, come back");

  // Insights: the figures are deletionStats's.
  await page.getByRole("button", { name: "Insights" }).click();
  await page.locator("#per-day li").first().waitFor({ timeout: 10_000 });
  const stats = (await api(`{ deletionStats { days { deletions restores } topReasons { reason } } }`)).deletionStats;
  const deleted = stats.days.reduce((n, d) => n + d.deletions, 0);
  const restored = stats.days.reduce((n, d) => n + d.restores, 0);
  const perDay = await page.locator("#per-day").innerText();
  if (!perDay.includes(`${deleted} deleted · ${restored} restored`)) fail(`insights show ${perDay}, the API ${deleted}/${restored}`);
  const reasons = await page.locator("#reasons").innerText();
  for (const r of stats.topReasons) if (!reasons.includes(r.reason ?? "(no reason given)")) fail(`reason ${r.reason} missing: ${reasons}`);
  if ((await page.locator("#median").innerText()) === "—") fail("no median time to restore");
  await shot("insights-1280.png");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("insights-390.png");
  await page.setViewportSize({ width: 1280, height: 900 });
  console.log(`ok: insights show ${deleted} deletions and ${restored} restores, as deletionStats does`);

  // Purge: the preview is the dry run's, and the purge does what it said.
  await page.getByRole("button", { name: "Purge", exact: true }).click();
  await page.getByLabel(/Deleted more than/).fill("0s");
  await page.getByRole("button", { name: "Preview" }).click();
  const dry = (await api(`mutation { purgeDeleted(olderThan: "0s", dryRun: true) { users attachments } }`)).purgeDeleted;
  const preview = page.locator("#purge-text");
  await preview.getByText(/would archive/).waitFor({ timeout: 10_000 });
  const previewText = await preview.innerText();
  const counts = `${dry.users} user${dry.users === 1 ? "" : "s"} and ${dry.attachments} attachment${dry.attachments === 1 ? "" : "s"}`;
  if (!previewText.includes(counts)) fail(`the preview says "${previewText}", the dry run ${counts}`);
  await shot("purge-preview-1280.png");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("purge-preview-390.png");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole("button", { name: "Purge now" }).click();
  await page.locator("#purge-result").getByText(/^Purged /).waitFor({ timeout: 10_000 });
  const after = (await api(`mutation { purgeDeleted(olderThan: "0s", dryRun: true) { users attachments } }`)).purgeDeleted;
  if (after.users + after.attachments !== 0) fail(`rows remain after the purge: ${JSON.stringify(after)}`);
  await shot("purged-1280.png");
  console.log(`ok: the purge preview matches the dry run (${counts}), and the purge took them`);
  await page.getByRole("button", { name: "Deletion log" }).click();

  // A deleted file with bytes: support sees its size and downloads it.
  const scan = await attach(dave, "scan.txt");
  const bytes = "the scanned page, as text\n".repeat(100);
  const put = await fetch(`${origin}/attachments/${scan}/content`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/plain" },
    body: bytes,
  });
  if (!put.ok) fail(`uploading the scan: ${put.status} ${await put.text()}`);
  await api(`mutation($id: ID!) { deleteAttachment(id: $id, reason: "scanned twice") { id } }`, { id: scan });

  // Support reads the log; nothing to restore with.
  await page.getByRole("button", { name: "Sign out" }).click();
  // Pasted as the playground's headers JSON: the box finds the token in it.
  await page.getByLabel(/Bearer token/).fill(`{"Authorization": "Bearer ${grace}"}`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await articles.first().waitFor({ timeout: 10_000 });
  if ((await page.getByRole("button", { name: /^Restore / }).count()) !== 0) fail("support sees a Restore button");
  if (await page.getByRole("button", { name: "Purge", exact: true }).isVisible()) fail("support sees Purge");
  await shot("support-1280.png");
  console.log("ok: support sees the log and no Restore button");
  // Restored and purged entries hide nothing now, yet still name what they deleted.
  for (const [name, kind] of [["User Ada <ada@example.com> with 2 attachments", "restored"], ["User Carol <carol@example.com>", "purged"], ["An attachment (report.pdf)", "purged"]]) {
    if ((await articles.filter({ hasText: name }).count()) !== 1) fail(`the ${kind} entry does not read "${name}"`);
  }
  console.log("ok: restored and purged entries still name their user or file");
  const scanned = articles.filter({ hasText: "scan.txt" }).first();
  const sizeShown = await scanned.locator("h3").innerText();
  if (!sizeShown.includes("scan.txt (2.6 KB)")) fail(`the deleted file's size is not shown: ${sizeShown}`);
  const [saved] = await Promise.all([
    page.waitForEvent("download", { timeout: 10_000 }),
    scanned.getByRole("button", { name: /^Download scan\.txt/ }).click(),
  ]);
  const { readFileSync } = await import("node:fs");
  const got = readFileSync(await saved.path(), "utf8");
  if (saved.suggestedFilename() !== "scan.txt" || got !== bytes) fail(`the download was ${saved.suggestedFilename()}, ${got.length} bytes`);
  console.log("ok: support downloads a deleted file (scan.txt, 2.6 KB), byte for byte");

  // A member: their own recent deletion with the time left, and Undo; nobody else's; no log.
  // (After the purge, which would have taken them.) Bob deletes a draft of his own; Dave
  // deletes one of his, which is not Bob's business.
  const draft = await attach(bob, "draft.txt");
  await api(`mutation($id: ID!) { deleteAttachment(id: $id, reason: "oops") { id } }`, { id: draft }, bobToken);
  const daves = await attach(dave, "daves.txt");
  await api(`mutation($id: ID!) { deleteAttachment(id: $id) { id } }`, { id: daves }, daveToken);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel(/Bearer token/).fill(bobToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Recently deleted" }).waitFor({ timeout: 10_000 });
  if (await page.getByRole("heading", { name: "Deletion log" }).isVisible()) fail("a member sees the log");
  const mine = page.locator("#recent article");
  await mine.first().waitFor({ timeout: 10_000 });
  if ((await mine.count()) !== 1) fail(`Bob sees ${await mine.count()} recent deletions, not his one`);
  const named = await mine.first().locator("h3").innerText();
  if (named !== "draft.txt") fail(`Bob's recent deletion reads "${named}", not the file's name`);
  const clock = await mine.first().locator(".status").innerText();
  if (!/left to undo/.test(clock)) fail(`no time left shown: ${clock}`);
  await shot("member-1280.png");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("member-390.png");
  await mine.first().getByRole("button", { name: /^Undo/ }).click();
  await mine.first().getByText(/^Undone:/).waitFor({ timeout: 10_000 });
  const draftNow = await api(`query($id: ID!) { attachment(id: $id) { id } }`, { id: draft });
  if (!draftNow.attachment) fail("Undo did not bring Bob's draft back");
  await shot("member-undone-390.png");
  console.log(`ok: a member sees only their own recent deletion ("${clock}"), undoes it, and sees no log`);

  // Bob deletes his own account on the page: signed out at once, offered the undo with the
  // time left, which survives a reload; Undo brings him and his file back and signs him in.
  await page.getByLabel("Why (optional)").fill("trying it out");
  await page.getByRole("button", { name: "Delete my account" }).click();
  const undoHeading = page.getByRole("heading", { name: "Your account is deleted" });
  await undoHeading.waitFor({ timeout: 10_000 });
  const undoClock = await page.locator("#account-undo-clock").innerText();
  if (!/left to undo/.test(undoClock)) fail(`no time left shown for the account: ${undoClock}`);
  const refused = await fetch(`${origin}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${bobToken}` },
    body: JSON.stringify({ query: "{ me { id } }" }),
  }).then((r) => r.json());
  if (refused.errors?.[0]?.extensions?.code !== "UNAUTHENTICATED") fail(`Bob's session outlived his account: ${JSON.stringify(refused)}`);
  if ((await api(`query($id: ID!) { user(id: $id) { id } }`, { id: bob })).user) fail("Bob's account is still live");
  await shot("account-undo-1280.png");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("account-undo-390.png");
  await page.reload();
  await undoHeading.waitFor({ timeout: 10_000 });
  const undoButton = page.getByRole("button", { name: "Undo account deletion" });
  await undoButton.waitFor({ timeout: 10_000 });

  // The undo credential is the only way back; nothing but the undo, or a Sign out the member
  // confirms, may drop it. (a) A `#token=garbage` link opened in another tab fails to sign in
  // and offers the undo right there; after a reload here, it is still offered.
  const heldUndo = (p) => p.evaluate(() => localStorage.getItem("keepsake:undo"));
  const credential = await heldUndo(page);
  if (!credential) fail("the page keeps no undo credential after the account's deletion");
  const stillOffered = async (after) => {
    await page.reload();
    await undoButton.waitFor({ timeout: 10_000 });
    if ((await heldUndo(page)) !== credential) fail(`${after} changed the undo credential`);
  };
  const tab = await context.newPage();
  await watchPage(tab, fail);
  await tab.goto(`${origin}/trash#token=garbage`);
  await tab.getByText(/^Sign-in failed/).waitFor({ timeout: 10_000 });
  await tab.getByRole("button", { name: "Undo account deletion" }).waitFor({ timeout: 10_000 });
  await tab.close();
  await stillOffered("a #token=garbage link");
  console.log("ok: a #token=garbage link fails to sign in, and Undo account deletion is still offered");

  // (b) The member's old bookmark: their session token, refused while the account is deleted.
  await page.goto("about:blank");
  await page.goto(`${origin}/trash#token=${bobToken}`);
  await page.getByText(/^Sign-in failed/).waitFor({ timeout: 10_000 });
  await undoButton.waitFor({ timeout: 10_000 });
  await shot("account-undo-after-refused-link-390.png");
  await stillOffered("the old bookmark");
  console.log("ok: the deleted account's old bookmark is refused, and Undo account deletion is still offered");

  // (c) Sign out asks first, saying the undo would be lost; dismissed, nothing changes.
  dismissNext = true;
  const [asked] = await Promise.all([
    page.waitForEvent("dialog", { timeout: 10_000 }),
    page.getByRole("button", { name: "Sign out" }).click(),
  ]);
  if (asked.type() !== "confirm" || !/lose the undo/.test(asked.message())) fail(`Sign out asked: ${asked.type()} "${asked.message()}"`);
  await undoButton.waitFor({ timeout: 10_000 });
  if (await page.getByRole("button", { name: "Sign in" }).isVisible()) fail("a dismissed Sign out signed out");
  await stillOffered("a dismissed Sign out");
  console.log(`ok: Sign out asks first ("${asked.message()}"), and dismissed keeps the undo`);

  // (d) The undo still works: the account and its file are back, and the page signs in again.
  await undoButton.click();
  await page.getByText("Your account is back, with your attachments.").waitFor({ timeout: 10_000 });
  await page.getByRole("heading", { name: "Recently deleted" }).waitFor({ timeout: 10_000 });
  const bobBack = await api(`query($id: ID!) { user(id: $id) { id attachments { nodes { id } } } }`, { id: bob });
  if (!bobBack.user || bobBack.user.attachments.nodes.map((a) => a.id).join() !== draft) fail(`after the undo the API says ${JSON.stringify(bobBack)}`);
  await shot("account-undone-390.png");
  await page.setViewportSize({ width: 1280, height: 900 });
  console.log(`ok: a member deletes their account ("${undoClock}"), is signed out, and undoes it from the page`);

  // A bad token is refused in words. With no undo credential held, Sign out asks nothing.
  const asks = dialogs.length;
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel(/Bearer token/).waitFor({ timeout: 10_000 });
  if (dialogs.length !== asks) fail(`Sign out asked with no undo credential held: "${dialogs.at(-1).message()}"`);
  if (await heldUndo(page)) fail("the spent undo credential is still kept");
  await page.getByLabel(/Bearer token/).fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(/Sign-in failed/).waitFor({ timeout: 10_000 });
  await shot("signin-refused-390.png");

  if (offsite.length) fail(`the trash fetched from elsewhere: ${offsite.join(", ")}`);
  console.log("ok: the page came with its CSP, no-referrer and nosniff, and nothing broke them");
  console.log(`ok: nothing fetched from elsewhere; screenshots: ${shots}`);
} catch (err) {
  // What the page showed when it failed, beside the other screenshots.
  await page?.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  fail(`${err.message} (the page then: ${join(shots, "failure.png")})`);
} finally {
  clearTimeout(timer);
  await browser.close();
  server.kill();
  rmSync(dir, { recursive: true, force: true });
}
