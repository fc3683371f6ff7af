// `node --test playground/token-paste.test.mjs`: the trash's sign-in box reads a token
// however it was pasted (token-paste.js, loaded as the page loads it: a plain script).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const page = {};
vm.runInNewContext(readFileSync(new URL("./token-paste.js", import.meta.url), "utf8"), page);
const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJWWE5sY2pveCJ9.c2lnbmF0dXJl";

test("a token is read however it was pasted", () => {
  for (const pasted of [
    jwt,
    `  ${jwt}\n`,
    `Bearer ${jwt}`,
    `bearer ${jwt}`,
    `Bearer Bearer ${jwt}`,
    `"Bearer ${jwt}"`,
    `Authorization: Bearer ${jwt}`,
    `{"Authorization": "Bearer ${jwt}"}`,
    `{ "authorization": "${jwt}" }`,
    `"Authorization": "Bearer ${jwt}"`,
  ]) {
    assert.equal(page.tokenFrom(pasted), jwt, pasted);
  }
});

test("what holds no token is left for the server to refuse", () => {
  assert.equal(page.tokenFrom("  not-a-token "), "not-a-token");
  assert.equal(page.tokenFrom(""), "");
  assert.equal(page.tokenFrom("{not json"), "{not json");
});
