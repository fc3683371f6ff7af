// Sign-in through the OpenID Connect provider Keepsake trusts (served as /oidc-sign-in.js):
// the authorization code flow with PKCE, as a public client. `/sign-in.json` says where the
// provider is and which client to be; `{}` there means no provider, and the pages offer only
// a pasted token.
//
//   OidcSignIn.config()    the provider's settings ({} when there is none)
//   OidcSignIn.begin()     sends the browser to the provider's sign-in, keeping a fresh
//                          PKCE verifier and state in this tab's sessionStorage
//   OidcSignIn.complete()  back on the page with ?code=…&state=…: checks the state and
//                          exchanges the code and verifier for the access token; null when
//                          the address carries no answer from the provider
"use strict";
const OidcSignIn = (() => {
  const PENDING = "keepsake:oidc-pending";
  let loaded = null;
  const config = () => {
    loaded = loaded || fetch("/sign-in.json")
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({}));
    return loaded;
  };
  const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));
  // Back to this very page, with nothing after its path.
  const redirectUri = () => location.origin + location.pathname;

  async function begin() {
    const c = await config();
    if (!c.client_id) throw new Error("No identity provider is configured on this server.");
    const verifier = random(32);
    const state = random(16);
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
    const url = new URL(c.authorization_endpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", c.client_id);
    url.searchParams.set("redirect_uri", redirectUri());
    url.searchParams.set("scope", "openid email profile");
    url.searchParams.set("state", state);
    url.searchParams.set("code_challenge", challenge);
    url.searchParams.set("code_challenge_method", "S256");
    location.assign(url.toString());
  }

  async function complete() {
    const params = new URLSearchParams(location.search);
    if (!params.has("code") && !params.has("error")) return null;
    // The code is single-use and worthless without the verifier, but it leaves the address
    // bar (and the history) at once all the same.
    history.replaceState(null, "", location.pathname + location.hash);
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    sessionStorage.removeItem(PENDING);
    if (params.has("error")) {
      throw new Error(`the provider did not sign you in: ${params.get("error_description") || params.get("error")}`);
    }
    if (!pending || pending.state !== params.get("state")) {
      throw new Error("the answer from the provider is not the one this tab asked for; sign in again");
    }
    const c = await config();
    let response;
    try {
      response = await fetch(c.token_endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: params.get("code"),
          redirect_uri: redirectUri(),
          client_id: c.client_id,
          code_verifier: pending.verifier,
        }),
      });
    } catch (_) {
      throw new Error("cannot reach the provider's token endpoint");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token) {
      throw new Error(`the provider gave no token (${body.error_description || body.error || response.status})`);
    }
    return body.access_token;
  }

  return { config, begin, complete };
})();
