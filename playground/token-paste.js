// What the trash's sign-in box makes of a pasted token (served as /token-paste.js, before
// /trash.js). A file of its own so that a plain `node --test` checks it
// (playground/token-paste.test.mjs): no page is needed.
"use strict";

// The token in `pasted`: the token alone, or with its `Bearer ` prefix (doubled too), in
// quotes, as a whole `Authorization: Bearer …` line, or as the playground's headers JSON
// (`{"Authorization": "Bearer …"}`). Text it cannot read is returned trimmed, for the server
// to refuse in words.
function tokenFrom(pasted) {
  let text = String(pasted ?? "").trim();
  if (text.startsWith("{")) {
    try {
      const headers = JSON.parse(text);
      const key = Object.keys(headers).find((k) => k.toLowerCase() === "authorization");
      if (key && typeof headers[key] === "string") text = headers[key];
    } catch {
      // Not JSON after all: read as typed, below.
    }
  }
  for (;;) {
    const next = text
      .trim()
      .replace(/^["']+|["',]+$/g, "")
      .trim()
      .replace(/^authorization(\s*:\s*|\s+)/i, "")
      .replace(/^bearer(\s*:\s*|\s+)/i, "");
    if (next === text) break;
    text = next;
  }
  // Still more than one word (a line of JSON without its braces, say): the one JWT in it.
  if (/[\s"'{}]/.test(text)) {
    const jwts = text.match(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g) ?? [];
    if (jwts.length === 1) return jwts[0];
  }
  return text;
}
