// A real OpenID Connect provider for the tests (oauth2-mock-server: discovery, a JWK set,
// authorization code with PKCE), on 127.0.0.1 at a free port. It prints
// {"issuer": URL} on its first line, then answers one JSON line per command read on stdin:
//   {"op":"token","kid":K,"claims":{...},"expiresIn":S}  a token signed by key K (rsa-1,
//        ec-1, ed-1, or one made by "rotate"), with these claims (null removes one)
//   {"op":"rotate"}             a new RS256 key, published in the JWK set: {"kid": K}
//   {"op":"foreign","kid":K}    a token signed by a key that is not published, under kid K
//   {"op":"hs256","kid":K}      an HS256 token whose secret is key K's public JWK
//   {"op":"none","kid":K}       an unsigned token (alg none)
//   {"op":"login","claims":{}}  claims added to the tokens of the browser's code flow
//   {"op":"count"}              {"jwks": how many times the JWK set was fetched}
//   {"op":"stop"}               stops serving (the process stays, to answer "count")
// tests/api/helpers/provider_rs.rs is the same provider in Rust (all but "login": no browser
// flow), the tests' default; keep the two answering alike.
import http from 'node:http';
import readline from 'node:readline';
import { generateKeyPair, SignJWT, exportJWK } from 'jose';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256', { kid: 'rsa-1' });
await issuer.keys.generate('ES256', { kid: 'ec-1' });
await issuer.keys.generate('EdDSA', { kid: 'ed-1', crv: 'Ed25519' });
const service = new OAuth2Service(issuer);
let jwks = 0;
let rotated = 1;
let loginClaims = {};
service.on('beforeTokenSigning', (token) => Object.assign(token.payload, loginClaims));

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/jwks')) jwks += 1;
  service.requestHandler(req, res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
issuer.url = `http://127.0.0.1:${server.address().port}`;
console.log(JSON.stringify({ issuer: issuer.url }));

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const apply = (payload, claims) => {
  for (const [name, value] of Object.entries(claims ?? {})) {
    if (value === null) delete payload[name];
    else payload[name] = value;
  }
};
const basePayload = (claims) => {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: issuer.url, iat: now, nbf: now - 10, exp: now + 3600 };
  apply(payload, claims);
  return payload;
};

async function answer(command) {
  switch (command.op) {
    case 'token':
      return {
        token: await issuer.buildToken({
          kid: command.kid,
          expiresIn: command.expiresIn,
          scopesOrTransform: (_header, payload) => apply(payload, command.claims),
        }),
      };
    case 'rotate': {
      rotated += 1;
      const kid = `rsa-${rotated}`;
      await issuer.keys.generate('RS256', { kid });
      return { kid };
    }
    case 'foreign': {
      const { privateKey } = await generateKeyPair('RS256');
      const token = await new SignJWT(basePayload(command.claims))
        .setProtectedHeader({ alg: 'RS256', kid: command.kid, typ: 'JWT' })
        .sign(privateKey);
      return { token };
    }
    case 'hs256': {
      const jwk = issuer.keys.toJSON().find((key) => key.kid === command.kid);
      const secret = new TextEncoder().encode(JSON.stringify(jwk));
      const token = await new SignJWT(basePayload(command.claims))
        .setProtectedHeader({ alg: 'HS256', kid: command.kid, typ: 'JWT' })
        .sign(secret);
      return { token };
    }
    case 'none':
      return {
        token: `${b64({ alg: 'none', kid: command.kid, typ: 'JWT' })}.${b64(basePayload(command.claims))}.`,
      };
    case 'login':
      loginClaims = command.claims ?? {};
      return { ok: true };
    case 'count':
      return { jwks };
    case 'stop':
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      return { stopped: true };
    default:
      return { error: `unknown op ${command.op}` };
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    console.log(JSON.stringify(await answer(JSON.parse(line))));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err?.stack ?? err) }));
  }
}
process.exit(0);
