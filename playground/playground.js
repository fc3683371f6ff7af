// Mounts GraphiQL (index.html), served as /playground/playground.js: a file, not inline, as
// the page's Content-Security-Policy runs scripts from Keepsake's origin only.
//
// Paste the token `keepsake serve` printed (or `keepsake token --user ID`) into the
// headers pane below the query. Queries and mutations go to /graphql over HTTP with those
// headers; a subscription (`subscription { deletionEvents { id type } }`) goes over a
// WebSocket to /graphql/ws, protocol graphql-transport-ws, with the pane's Authorization
// value as connection_init's payload (a browser cannot set headers on a WebSocket). Each
// event replaces the one before in the result pane; the stop button ends the subscription.
"use strict";

const httpFetcher = GraphiQL.createFetcher({ url: "/graphql" });

// Whether the operation GraphiQL is about to run is a subscription: the one named
// `operationName`, or the document's only one.
function isSubscription(params, documentAST) {
  if (documentAST) {
    const operations = documentAST.definitions.filter((d) => d.kind === "OperationDefinition");
    const operation = params.operationName
      ? operations.find((o) => o.name && o.name.value === params.operationName)
      : operations[0];
    return Boolean(operation) && operation.operation === "subscription";
  }
  // Not parsed (a document GraphiQL could not parse goes to the server, which says why).
  return /^\s*subscription\b/.test(String(params.query).replace(/#[^\n]*/g, ""));
}

// The headers pane's Authorization value, whatever its key's case.
function authorization(headers) {
  const key = Object.keys(headers || {}).find((k) => k.toLowerCase() === "authorization");
  return key ? headers[key] : undefined;
}

// One subscription over its own socket, as an observable GraphiQL understands
// (`subscribe({ next, error, complete })` returning `{ unsubscribe }`): connection_init →
// connection_ack → subscribe → next… → complete (graphql-transport-ws). A refusal, an error
// message or a socket that closes early shows in the result pane as `errors`.
function subscription(params, headers) {
  return {
    subscribe(observer) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(`${scheme}//${location.host}/graphql/ws`, "graphql-transport-ws");
      const id = "1";
      let acknowledged = false;
      let done = false;
      const send = (message) => socket.send(JSON.stringify(message));
      const finish = (errors) => {
        if (done) return;
        done = true;
        if (errors) observer.next({ errors });
        observer.complete();
        if (socket.readyState <= WebSocket.OPEN) socket.close(1000, "done");
      };
      socket.onopen = () => {
        const token = authorization(headers);
        send({ type: "connection_init", payload: token === undefined ? {} : { Authorization: token } });
      };
      socket.onmessage = (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return finish([{ message: `the server sent what is not JSON: ${String(message.data).slice(0, 200)}` }]);
        }
        switch (data.type) {
          case "connection_ack":
            acknowledged = true;
            send({
              type: "subscribe",
              id,
              payload: { query: params.query, variables: params.variables, operationName: params.operationName },
            });
            break;
          case "ping":
            send({ type: "pong" });
            break;
          case "next":
            if (data.id === id && !done) observer.next(data.payload);
            break;
          case "error":
            if (data.id === id) finish(data.payload);
            break;
          case "complete":
            if (data.id === id) finish();
            break;
        }
      };
      socket.onclose = (event) => {
        if (done) return;
        const why = event.reason ? `: ${event.reason}` : "";
        const stage = acknowledged ? "the subscription's socket closed" : "the server refused the connection";
        finish([{ message: `${stage} (${event.code})${why}` }]);
      };
      return {
        unsubscribe() {
          if (done) return;
          done = true;
          if (acknowledged && socket.readyState === WebSocket.OPEN) send({ type: "complete", id });
          socket.close(1000, "stopped");
        },
      };
    },
  };
}

function fetcher(params, options) {
  const headers = (options && options.headers) || {};
  if (isSubscription(params, options && options.documentAST)) return subscription(params, headers);
  return httpFetcher(params, options);
}

// With an identity provider configured (/sign-in.json), a bar above GraphiQL offers to sign in
// through it (oidc-sign-in.js: authorization code with PKCE, back to /playground); the token
// it brings goes into the headers pane for this visit, not into GraphiQL's saved headers.
async function start() {
  let token = null;
  let note = "";
  try {
    token = await OidcSignIn.complete();
  } catch (error) {
    note = `Sign-in failed: ${error.message}`;
  }
  const provider = await OidcSignIn.config();
  if (provider.client_id) {
    document.getElementById("provider-bar").hidden = false;
    document.getElementById("provider-signin").addEventListener("click", () => {
      OidcSignIn.begin().catch((error) => {
        document.getElementById("provider-note").textContent = `Sign-in failed: ${error.message}`;
      });
    });
  }
  if (token) note = "Signed in with your provider: the token is in the headers pane.";
  document.getElementById("provider-note").textContent = note;
  const me = "{\n  me {\n    email\n    role\n  }\n}\n";
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: me,
      defaultHeaders: '{\n  "Authorization": "Bearer <paste your token here>"\n}',
      // GraphiQL opens a tab of its own for headers given this way (unless one holds the same
      // query and headers); without the query too, that tab would be empty.
      query: token ? me : undefined,
      headers: token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : undefined,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: !token,
    }),
  );
}

start();
