// The trash page's script (trash.html), served as /trash.js. A file of its own, not inline:
// the page's Content-Security-Policy runs scripts from Keepsake's origin only, never inline
// ones, so that nothing injected into the page can read the tokens it keeps.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { token: null, me: null, after: null };

function say(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = kind || "";
}

async function graphql(query, variables, token = state.token) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (_) {
    throw new Error("Cannot reach the Keepsake server.");
  }
  let body;
  try { body = await response.json(); } catch (_) { throw new Error(`The server answered ${response.status} without a readable body.`); }
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    const error = new Error(e.message || "The request failed.");
    error.code = e.extensions && e.extensions.code;
    error.data = body.data;
    throw error;
  }
  return body.data;
}

function show(section, visible) { $(section).classList.toggle("hidden", !visible); }

// The signed-out view: the sign-in form, and `note`. It forgets the session in this page
// only; which credentials this browser keeps is for the callers to decide (a failed sign-in
// keeps any it may still need, Sign out drops them all, asking first if one can undo).
function showSignIn(note, kind) {
  state.token = null; state.me = null; state.undo = null;
  clearInterval(state.undoTick);
  clearTimeout(state.expiry);
  OidcSignIn.config().then((c) => show("provider", Boolean(c.client_id)));
  ["who", "views", "log", "insights", "purge", "member", "account-undo"].forEach((s) => show(s, false));
  show("signin", true);
  $("entries").textContent = "";
  ["filters", "range", "purge-form"].forEach((f) => $(f).reset());
  clearInterval(state.tick);
  $("recent").textContent = "";
  show("purge-preview", false);
  $("purge-result").textContent = "";
  say(note, kind);
  $("token").value = "";
  $("token").focus();
}

// The undo credential this browser holds, if it can still undo. Deleting one's own account
// returns it once, and nothing else can undo that deletion (after it, only an admin's
// restore), so the page drops it only when it is spent, or when the member says so.
function heldUndo() {
  const held = localStorage.getItem("keepsake:undo");
  const c = held && claims(held);
  return c && c.undo && c.exp * 1000 > Date.now() ? held : null;
}

// The Sign out button: the session and any undo credential go. Losing a live undo credential
// loses the undo, so that takes a yes first; without one, it signs out at once.
function signOut() {
  if (heldUndo() && !confirm("Sign out and lose the undo? This browser holds the only credential that can undo your account's deletion; signing out drops it, and then only an admin can restore your account.")) return;
  localStorage.removeItem("keepsake:token");
  localStorage.removeItem("keepsake:undo");
  sessionStorage.removeItem(PROVIDER_TOKEN);
  showSignIn("Signed out.");
}

// A token from the identity provider lives in this tab's sessionStorage only, and the page
// signs out when it expires, saying so; a pasted token is kept in localStorage as before.
const PROVIDER_TOKEN = "keepsake:oidc-token";

function providerExpired() {
  sessionStorage.removeItem(PROVIDER_TOKEN);
  showSignIn("Your sign-in with your provider has expired: sign in again.", "bad");
}

async function signIn(pasted, fromProvider = false) {
  // `Bearer …` or the playground's headers JSON pasted whole: the token in it (token-paste.js).
  const token = tokenFrom(pasted);
  const undo = claims(token);
  if (undo && undo.undo) { showUndo(token); return; }
  state.token = token;
  try {
    const data = await graphql("{ me { id name email role } }");
    if (!data.me) throw new Error("That token signs no one in.");
    state.me = data.me;
  } catch (error) {
    const why = error.code === "UNAUTHENTICATED" ? `Sign-in failed: ${error.message}` : error.message;
    // A failed sign-in (a `#token=garbage` link, a deleted account's old bookmark) drops no
    // credential that may still be needed: never the undo credential, and the stored session
    // only if it is the token refused and no undo is held (while one is, the stored session
    // is the deleted account's: refused until the undo, then it signs in again).
    const held = heldUndo();
    if (!held && localStorage.getItem("keepsake:token") === state.token) localStorage.removeItem("keepsake:token");
    if (fromProvider) sessionStorage.removeItem(PROVIDER_TOKEN);
    if (held) {
      state.token = null; state.me = null;
      showUndo(held);
      say(why, "bad");
    } else {
      showSignIn(why, "bad");
    }
    return;
  }
  clearTimeout(state.expiry);
  if (fromProvider) {
    sessionStorage.setItem(PROVIDER_TOKEN, state.token);
    const exp = (claims(state.token) || {}).exp;
    if (exp) state.expiry = setTimeout(providerExpired, Math.min(Math.max(0, exp * 1000 - Date.now()), 2 ** 31 - 1));
  } else {
    localStorage.setItem("keepsake:token", state.token);
  }
  state.undo = null;
  clearInterval(state.undoTick);
  show("account-undo", false);
  show("signin", false);
  show("who", true);
  $("whoami").textContent = `${state.me.name} (${state.me.role.toLowerCase()})`;
  const staff = state.me.role !== "MEMBER";
  show("views", staff);
  show("member", !staff);
  if (!staff) await recentDeletions();
  document.querySelectorAll(".admin-only").forEach((e) => e.classList.toggle("hidden", state.me.role !== "ADMIN"));
  say("");
  if (staff) await view("log");
}

// The legal hold on a deletion's user (or its attachments' owner): what keeps it from a purge.
const HOLD = "legalHold { reason placedAt placedBy(includeDeleted: true) { name email } }";

const NODE = `id entity entityId subject reason deletedAt cascadeCount restoredAt restoreReason purgeStartedAt purgedAt
      actor(includeDeleted: true) { name email }
      restoredBy(includeDeleted: true) { name email }
      user(includeDeleted: true) { id name email ${HOLD} erasure { erasedAt } }
      attachments(includeDeleted: true, first: 5) { totalCount nodes { id filename sizeBytes sha256 owner { id name email ${HOLD} erasure { erasedAt } } } }`;

const LOG = `query($first: Int, $after: String, $entity: DeletedEntity, $actor: String, $search: String, $reason: String, $since: DateTime, $until: DateTime) {
  deletions(first: $first, after: $after, entity: $entity, actor: $actor, search: $search, reason: $reason, since: $since, until: $until) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { ${NODE} }
  }
}`;

const ONE = `query($id: ID!) { deletion(id: $id) { ${NODE} } }`;

// A date input's day as an instant: its local midnight, or the next one (`next`) for an
// inclusive "until"; null when the input is empty.
function day(value, next) {
  if (!value) return null;
  const d = new Date(`${value}T00:00:00`);
  if (next) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

function filters() {
  return {
    entity: $("entity").value || null,
    search: $("search").value.trim() || null,
    actor: $("actor").value.trim() || null,
    reason: $("reason").value.trim() || null,
    since: day($("since").value, false),
    until: day($("until").value, true),
  };
}

async function load(fresh) {
  if (fresh) { state.after = null; $("entries").textContent = ""; }
  try {
    const data = await graphql(LOG, { first: 20, after: state.after, ...filters() });
    const page = data.deletions;
    $("count").textContent = `${page.totalCount} deletion${page.totalCount === 1 ? "" : "s"}`;
    page.nodes.forEach((d) => $("entries").appendChild(entry(d)));
    state.after = page.pageInfo.endCursor;
    show("more", page.pageInfo.hasNextPage);
  } catch (error) {
    say(error.message, "bad");
  }
}

function person(p) { return p ? `${p.name} <${p.email ?? "email hidden"}>` : "someone no longer visible"; }

// A byte count for people: 512 B, 1.2 KB, 3.4 MB.
function size(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let n = bytes / 1000, u = 0;
  while (n >= 1000 && u < units.length - 1) { n /= 1000; u += 1; }
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[u]}`;
}

// The erasure of the user this deletion hid (or of the owner of its attachments), if any:
// their personal data is gone, the entry can never be restored.
function erasure(d) {
  if (d.user && d.user.erasure) return d.user.erasure;
  const owned = d.attachments.nodes.find((a) => a.owner && a.owner.erasure);
  return owned ? owned.owner.erasure : null;
}

function what(d) {
  const files = d.attachments;
  const names = files.nodes.map((a) => `${a.filename} (${size(a.sizeBytes)})`);
  const more = files.totalCount > names.length ? ` and ${files.totalCount - names.length} more` : "";
  if (d.entity === "USER") {
    const n = d.cascadeCount;
    const files = n ? ` with ${n} attachment${n === 1 ? "" : "s"}` : "";
    // Once restored or purged a deletion hides nothing; its subject still names the user.
    if (d.user && d.user.erasure) return `An erased user${files}`;
    if (d.user) return `User ${d.user.name} <${d.user.email}>${files}`;
    return d.subject ? `User ${d.subject}${files}` : `A user (${d.entityId})${files}`;
  }
  if (names.length) return `${files.totalCount} attachment${files.totalCount === 1 ? "" : "s"}: ${names.join(", ")}${more}`;
  const n = d.cascadeCount + 1;
  const first = d.subject ?? d.entityId;
  return n === 1 ? `An attachment (${first})` : `${n} attachments (the first: ${first})`;
}

function status(d) {
  const erased = erasure(d);
  if (erased) return ["erased", `Erased ${new Date(erased.erasedAt).toLocaleString()}: personal data gone, cannot be restored`];
  if (d.purgedAt) return ["purged", `Purged ${new Date(d.purgedAt).toLocaleString()}`];
  if (d.purgeStartedAt) return ["purged", "Being purged"];
  if (d.restoredAt) return ["restored", `Restored ${new Date(d.restoredAt).toLocaleString()} by ${person(d.restoredBy)}`];
  return ["in-force", "Deleted"];
}

// The person whose legal hold covers deletion `d`: its user, or its attachments' owner.
function heldPerson(d) {
  return d.user || d.attachments.nodes[0]?.owner || null;
}

// Places (`place`) or releases the legal hold on `who`, asking for the reason first, then
// shows entry `d` again as it is now.
async function hold(d, who, place, button, outcome) {
  const verb = place ? "Place a legal hold on" : "Release the legal hold on";
  const reason = prompt(`${verb} ${person(who)}? ${place ? "Until it is released, no purge removes anything of theirs." : "Purges may then remove their deleted rows."} Reason (required):`);
  if (reason === null) return;
  if (!reason.trim()) {
    outcome.textContent = "Nothing changed: a reason is required.";
    outcome.className = "outcome bad";
    return;
  }
  button.disabled = true;
  const mutation = place
    ? `mutation($u: ID!, $r: String!) { placeLegalHold(userId: $u, reason: $r) { id } }`
    : `mutation($u: ID!, $r: String!) { releaseLegalHold(userId: $u, reason: $r) { id } }`;
  try {
    await graphql(mutation, { u: who.id, r: reason.trim() });
    const done = place ? `Held: ${person(who)}.` : `Hold released: ${person(who)}.`;
    const data = await graphql(ONE, { id: d.id }).catch(() => null);
    if (data && data.deletion) {
      const fresh = entry(data.deletion);
      fresh.querySelector(".outcome").textContent = done;
      fresh.querySelector(".outcome").classList.add("good");
      button.closest("article").replaceWith(fresh);
    } else {
      outcome.textContent = done;
      outcome.className = "outcome good";
    }
    say(done, "good");
  } catch (error) {
    button.disabled = false;
    outcome.textContent = `Nothing changed: ${error.message}`;
    outcome.className = "outcome bad";
    say(`Nothing changed: ${error.message}`, "bad");
  }
}

function entry(d) {
  const article = document.createElement("article");
  article.className = "card deletion";
  article.dataset.id = d.id;
  const title = document.createElement("h3");
  title.textContent = what(d);
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = `Deleted ${new Date(d.deletedAt).toLocaleString()} by ${person(d.actor)}` + (d.reason ? ` — “${d.reason}”` : " — no reason given");
  const row = document.createElement("div");
  row.className = "row";
  const [kind, text] = status(d);
  const badge = document.createElement("span");
  badge.className = `status ${kind}`;
  badge.textContent = text;
  row.appendChild(badge);
  const who = heldPerson(d);
  const held = who && who.legalHold;
  if (held) {
    const flag = document.createElement("span");
    flag.className = "status held";
    flag.textContent = `Legal hold — “${held.reason}”`;
    flag.title = `Placed ${new Date(held.placedAt).toLocaleString()} by ${person(held.placedBy)}; no purge removes it until released`;
    row.appendChild(flag);
  }
  const outcome = document.createElement("p");
  outcome.className = "outcome";
  outcome.setAttribute("aria-live", "polite");
  if (state.me.role === "ADMIN" && kind === "in-force") {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Restore";
    button.setAttribute("aria-label", `Restore ${what(d)}`);
    button.addEventListener("click", () => restore(d, button, outcome));
    row.appendChild(button);
  }
  if (state.me.role === "ADMIN" && who && who.id && !d.purgedAt) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = held ? "Release hold" : "Place hold";
    button.setAttribute("aria-label", `${held ? "Release the legal hold on" : "Place a legal hold on"} ${person(who)}`);
    button.addEventListener("click", () => hold(d, who, !held, button, outcome));
    row.appendChild(button);
  }
  const downloads = d.attachments.nodes.filter((a) => a.sha256);
  if (downloads.length) {
    const files = document.createElement("div");
    files.className = "row files";
    downloads.forEach((a) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = `Download ${a.filename}`;
      button.setAttribute("aria-label", `Download ${a.filename} (${size(a.sizeBytes)}), deleted`);
      button.addEventListener("click", () => download(a, outcome));
      files.appendChild(button);
    });
    article.append(title, meta, files, row, outcome);
  } else {
    article.append(title, meta, row, outcome);
  }
  return article;
}

// A deleted file's bytes, fetched with the token (a plain link could not send it) and saved
// under its name.
async function download(a, outcome) {
  try {
    const response = await fetch(`/attachments/${encodeURIComponent(a.id)}/content?includeDeleted=true`, {
      headers: { Authorization: `Bearer ${state.token}` },
    });
    if (!response.ok) {
      let message = `The server answered ${response.status}.`;
      try { message = (await response.json()).errors[0].message; } catch (_) { /* keep the status */ }
      throw new Error(message);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = a.filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    outcome.textContent = `Not downloaded: ${error.message}`;
    outcome.className = "outcome bad";
  }
}

async function restore(d, button, outcome) {
  const back = what(d);
  if (!confirm(`Restore ${back}? Everything this deletion hid comes back exactly as it was.`)) return;
  button.disabled = true;
  try {
    await graphql(`mutation($id: ID!) { restore(deletionId: $id) { id } }`, { id: d.id });
    const data = await graphql(ONE, { id: d.id }).catch(() => null);
    const fresh = data && data.deletion ? entry(data.deletion) : null;
    if (fresh) {
      fresh.querySelector(".outcome").textContent = `Restored: ${back}.`;
      fresh.querySelector(".outcome").classList.add("good");
      button.closest("article").replaceWith(fresh);
      fresh.querySelector("h3").setAttribute("tabindex", "-1");
      fresh.querySelector("h3").focus();
    } else {
      outcome.textContent = `Restored: ${back}.`;
      outcome.className = "outcome good";
      button.remove();
    }
    say(`Restored: ${back}.`, "good");
  } catch (error) {
    button.disabled = false;
    const why = {
      CONFLICT: "Nothing was restored: ",
      PARENT_DELETED: "Nothing was restored: ",
      FORBIDDEN: "Not allowed: ",
    }[error.code] || "Nothing was restored: ";
    outcome.textContent = why + error.message;
    outcome.className = "outcome bad";
    say(why + error.message, "bad");
    if (error.code === "PARENT_DELETED") await linkOwnersDeletion(d, outcome);
  }
}

// PARENT_DELETED: the attachments' owner is deleted by another deletion, to restore first.
// Find it (the hidden attachments' owner, and the deletion hiding that owner) and offer it.
async function linkOwnersDeletion(d, outcome) {
  const data = await graphql(`query($id: ID!) { deletion(id: $id) {
      attachments(includeDeleted: true, first: 1) { nodes { owner { email deletion { id } } } } } }`, { id: d.id }).catch(() => null);
  const owner = data?.deletion?.attachments?.nodes?.[0]?.owner;
  if (!owner || !owner.deletion) return;
  const show = document.createElement("button");
  show.type = "button";
  show.className = "secondary";
  show.textContent = `Show the deletion of ${owner.email}`;
  show.addEventListener("click", async () => {
    $("filters").reset();
    $("search").value = owner.email;
    await view("log");
    $("search").focus();
  });
  outcome.append(" ", show);
}

async function view(name) {
  say("");
  for (const v of ["log", "insights", "purge"]) show(v, v === name);
  document.querySelectorAll("#views button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === name)));
  if (name === "log") await load(true);
  if (name === "insights") await insights();
}

const STATS = `query($since: DateTime, $until: DateTime) { deletionStats(since: $since, until: $until) {
  since until medianSecondsToRestore
  days { day entity deletions restores medianSecondsToRestore }
  topReasons { reason count } } }`;

function duration(seconds) {
  if (seconds == null) return "no restores in this period";
  const s = Math.round(seconds);
  const parts = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
  const out = [];
  let left = s;
  for (const [size, unit] of parts) {
    const n = Math.floor(left / size);
    if (n && out.length < 2) out.push(`${n} ${unit}`);
    left -= n * size;
  }
  return out.length ? out.join(" ") : "under a second";
}

function bar(parts, max) {
  const wrap = document.createElement("span");
  wrap.className = "bar";
  for (const [kind, n] of parts) {
    if (!n) continue;
    const piece = document.createElement("span");
    piece.className = kind;
    piece.style.width = `${(100 * n) / max}%`;
    wrap.appendChild(piece);
  }
  return wrap;
}

async function insights() {
  try {
    const data = await graphql(STATS, { since: day($("stats-since").value, false), until: day($("stats-until").value, true) });
    const stats = data.deletionStats;
    $("median").textContent = duration(stats.medianSecondsToRestore);
    const days = new Map();
    for (const d of stats.days) {
      const e = days.get(d.day) || { users: 0, attachments: 0, restores: 0, waits: [] };
      const kind = d.entity === "USER" ? "users" : "attachments";
      e[kind] += d.deletions;
      e.restores += d.restores;
      if (d.medianSecondsToRestore != null) e.waits.push(`${kind} ${duration(d.medianSecondsToRestore)}`);
      days.set(d.day, e);
    }
    const list = $("per-day");
    list.textContent = "";
    const max = Math.max(1, ...[...days.values()].map((e) => Math.max(e.users + e.attachments, e.restores)));
    if (!days.size) list.textContent = "No deletions in this period.";
    for (const [d, e] of days) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = d;
      const waited = e.waits.length ? `; median time to restore: ${e.waits.join(", ")}` : "";
      const text = `${d}: ${e.users} user and ${e.attachments} attachment deletions, ${e.restores} restores${waited}`;
      item.setAttribute("aria-label", text);
      item.title = text;
      const bars = document.createElement("span");
      bars.style.display = "grid";
      bars.style.gap = "2px";
      bars.append(bar([["users", e.users], ["attachments", e.attachments]], max), bar([["restores", e.restores]], max));
      const numbers = document.createElement("span");
      numbers.className = "meta";
      numbers.textContent = `${e.users + e.attachments} deleted · ${e.restores} restored${e.waits.length ? ` · median ${e.waits.join(", ")}` : ""}`;
      bars.appendChild(numbers);
      item.append(label, bars);
      list.appendChild(item);
    }
    const reasons = $("reasons");
    reasons.textContent = "";
    const top = Math.max(1, ...stats.topReasons.map((r) => r.count));
    if (!stats.topReasons.length) reasons.textContent = "No deletions in this period.";
    for (const r of stats.topReasons) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = r.reason ?? "(no reason given)";
      const value = document.createElement("span");
      value.style.display = "grid";
      value.append(bar([["users", r.count]], top));
      const n = document.createElement("span");
      n.className = "meta";
      n.textContent = `${r.count}`;
      value.appendChild(n);
      item.append(label, value);
      reasons.appendChild(item);
    }
  } catch (error) {
    say(error.message, "bad");
  }
}

// What a member's deletion hid, in words: the files' names (what Undo brings back), or,
// mid-sentence (`inSentence`), the same with a lower-case start where it is not a name.
function plainWhat(d, inSentence) {
  const generic = (text) => (inSentence ? text[0].toLowerCase() + text.slice(1) : text);
  if (d.entity === "USER") return generic("Your account");
  const names = d.attachments.nodes.map((a) => a.filename);
  const more = d.attachments.totalCount - names.length;
  if (!names.length) return generic(d.cascadeCount ? `${d.cascadeCount + 1} attachments` : "An attachment");
  return names.join(", ") + (more > 0 ? ` and ${more} more` : "");
}

function left(until) {
  const ms = new Date(until) - Date.now();
  if (ms <= 0) return null;
  const s = Math.ceil(ms / 1000);
  const m = Math.floor(s / 60);
  return m ? `${m} min ${String(s % 60).padStart(2, "0")} s left to undo` : `${s} s left to undo`;
}

async function recentDeletions() {
  const list = $("recent");
  list.textContent = "";
  clearInterval(state.tick);
  try {
    const data = await graphql(`{ recentDeletions(first: 100) { id entity cascadeCount reason deletedAt undoUntil
      attachments(includeDeleted: true, first: 5) { totalCount nodes { filename } } } }`);
    if (!data.recentDeletions.length) {
      list.innerHTML = '<p class="card">Nothing you deleted can still be undone here.</p>';
      return;
    }
    for (const d of data.recentDeletions) {
      const article = document.createElement("article");
      article.className = "card deletion";
      const title = document.createElement("h3");
      title.textContent = plainWhat(d);
      const meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = `Deleted ${new Date(d.deletedAt).toLocaleString()}` + (d.reason ? ` — “${d.reason}”` : "");
      const row = document.createElement("div");
      row.className = "row";
      const clock = document.createElement("span");
      clock.className = "status in-force";
      clock.dataset.until = d.undoUntil;
      clock.textContent = left(d.undoUntil) ?? "The undo window has passed";
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Undo";
      button.setAttribute("aria-label", `Undo: ${plainWhat(d, true)} deleted ${new Date(d.deletedAt).toLocaleString()}`);
      const outcome = document.createElement("p");
      outcome.className = "outcome";
      outcome.setAttribute("aria-live", "polite");
      button.addEventListener("click", () => undo(d, button, outcome, clock));
      row.append(clock, button);
      article.append(title, meta, row, outcome);
      list.appendChild(article);
    }
    // The countdown: each second, the time left; at zero the button goes, with the reason.
    state.tick = setInterval(() => {
      document.querySelectorAll("#recent [data-until]").forEach((clock) => {
        const text = left(clock.dataset.until);
        clock.textContent = text ?? "The undo window has passed; ask an admin to restore it";
        const button = clock.parentElement.querySelector("button");
        if (!text && button) button.remove();
      });
    }, 1000);
  } catch (error) {
    say(error.message, "bad");
  }
}

async function undo(d, button, outcome, clock) {
  const what = plainWhat(d, true);
  if (!confirm(`Undo the deletion of ${what}? It comes back exactly as it was.`)) return;
  button.disabled = true;
  try {
    await graphql(`mutation($id: ID!) { restore(deletionId: $id) { id } }`, { id: d.id });
    outcome.textContent = `Undone: ${what} ${d.cascadeCount ? "are" : "is"} back.`;
    outcome.className = "outcome good";
    delete clock.dataset.until;
    clock.className = "status restored";
    clock.textContent = "Undone";
    button.remove();
    say(`Undone: ${what} ${d.cascadeCount ? "are" : "is"} back.`, "good");
  } catch (error) {
    button.disabled = false;
    outcome.textContent = `Not undone: ${error.message}`;
    outcome.className = "outcome bad";
  }
}

// A token's claims. Not a secret and not checked here: the server checks the signature.
function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (_) {
    return null;
  }
}

async function deleteAccount() {
  if (!confirm("Delete your account and all your attachments? You are signed out at once; this page lets you undo it for a while.")) return;
  const reason = $("account-reason").value.trim() || null;
  try {
    const data = await graphql(`mutation($id: ID!, $r: String) { deleteUser(id: $id, reason: $r) { id undoToken } }`, { id: state.me.id, r: reason });
    // The session token is kept: once the account is back, it signs in again.
    showUndo(data.deleteUser.undoToken);
    say("Your account is deleted. You can still undo it.");
  } catch (error) {
    say(`Your account was not deleted: ${error.message}`, "bad");
  }
}

// The undo view: what an undo credential can do (restore that one deletion), and until when.
function showUndo(undoToken) {
  const c = claims(undoToken);
  state.undo = { token: undoToken, deletion: c.undo, until: new Date(c.exp * 1000).toISOString() };
  localStorage.setItem("keepsake:undo", undoToken);
  ["signin", "views", "log", "insights", "purge", "member"].forEach((s) => show(s, false));
  clearInterval(state.tick);
  show("who", true);
  $("whoami").textContent = "Deleted account";
  show("account-undo", true);
  $("account-undo-outcome").textContent = "";
  const button = $("account-undo-button");
  const clock = $("account-undo-clock");
  const tick = () => {
    const text = left(state.undo.until);
    clock.textContent = text ?? "The undo window has passed; an admin can still restore your account";
    button.classList.toggle("hidden", !text);
    if (!text) clearInterval(state.undoTick);
  };
  clearInterval(state.undoTick);
  tick();
  state.undoTick = setInterval(tick, 1000);
  button.disabled = false;
  button.focus();
}

async function undoAccount() {
  const button = $("account-undo-button");
  button.disabled = true;
  try {
    await graphql(`mutation($id: ID!) { restore(deletionId: $id) { id } }`, { id: state.undo.deletion }, state.undo.token);
  } catch (error) {
    button.disabled = false;
    $("account-undo-outcome").textContent = `Not undone: ${error.message}`;
    $("account-undo-outcome").className = "outcome bad";
    return;
  }
  localStorage.removeItem("keepsake:undo");
  state.undo = null;
  clearInterval(state.undoTick);
  show("account-undo", false);
  const session = localStorage.getItem("keepsake:token");
  if (session) {
    await signIn(session);
    if (state.me) { say("Your account is back, with your attachments.", "good"); return; }
  }
  showSignIn("Your account is back, with your attachments. Sign in again with your token.", "good");
}

const PURGE = `mutation($older: String!, $dry: Boolean!) { purgeDeleted(olderThan: $older, dryRun: $dry) { users attachments archived held dryRun } }`;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

async function previewPurge() {
  const older = $("older-than").value.trim();
  $("purge-result").textContent = "";
  try {
    const report = (await graphql(PURGE, { older, dry: true })).purgeDeleted;
    state.purge = { older, report };
    $("purge-text").textContent = `A purge now would archive, then erase for good, ${plural(report.users, "user")} and ${plural(report.attachments, "attachment")} deleted more than ${older} ago` + (report.held ? `; ${plural(report.held, "row")} under a legal hold would be kept.` : ".");
    $("purge-now").disabled = report.users + report.attachments === 0;
    show("purge-preview", true);
  } catch (error) {
    show("purge-preview", false);
    $("purge-result").textContent = `No preview: ${error.message}`;
    $("purge-result").className = "outcome bad";
  }
}

async function purgeNow() {
  const { older, report } = state.purge;
  if (!confirm(`Purge ${plural(report.users, "user")} and ${plural(report.attachments, "attachment")} deleted more than ${older} ago? They are archived, then erased, and can no longer be restored.`)) return;
  $("purge-now").disabled = true;
  try {
    const done = (await graphql(PURGE, { older, dry: false })).purgeDeleted;
    $("purge-result").textContent = `Purged ${plural(done.users, "user")} and ${plural(done.attachments, "attachment")}; ${plural(done.archived, "row")} archived` + (done.held ? `; ${plural(done.held, "row")} kept under a legal hold.` : ".");
    $("purge-result").className = "outcome good";
    show("purge-preview", false);
  } catch (error) {
    $("purge-now").disabled = false;
    $("purge-result").textContent = `Nothing was purged: ${error.message}`;
    $("purge-result").className = "outcome bad";
  }
}

document.querySelectorAll("#views button").forEach((b) => b.addEventListener("click", () => view(b.dataset.view)));
$("range").addEventListener("submit", (e) => { e.preventDefault(); insights(); });
$("purge-form").addEventListener("submit", (e) => { e.preventDefault(); previewPurge(); });
$("purge-now").addEventListener("click", purgeNow);
$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
$("signout").addEventListener("click", () => signOut());
$("delete-account-form").addEventListener("submit", (e) => { e.preventDefault(); deleteAccount(); });
$("account-undo-button").addEventListener("click", undoAccount);
$("filters").addEventListener("submit", (e) => { e.preventDefault(); load(true); });
$("more").addEventListener("click", () => load(false));

// A sign-in link carries the token in the fragment, which never reaches the server's logs;
// it is kept in this browser and taken out of the address bar.
$("provider-signin").addEventListener("click", () => {
  OidcSignIn.begin().catch((error) => say(`Sign-in failed: ${error.message}`, "bad"));
});

// Back from the provider (?code=…), the code is exchanged for its token first; otherwise a
// sign-in link, an undo credential, this tab's provider token, or the pasted one kept.
(async () => {
  let returned;
  try {
    returned = await OidcSignIn.complete();
  } catch (error) {
    showSignIn(`Sign-in failed: ${error.message}`, "bad");
    return;
  }
  if (returned) { signIn(returned, true); return; }
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) history.replaceState(null, "", location.pathname);
  const undo = localStorage.getItem("keepsake:undo");
  const provided = sessionStorage.getItem(PROVIDER_TOKEN);
  if (!fromLink && !undo && provided) { signIn(provided, true); return; }
  const saved = fromLink || undo || localStorage.getItem("keepsake:token");
  if (saved) signIn(saved); else showSignIn("Sign in with a bearer token.");
})();
