// Mounts GraphiQL (index.html), served as /playground/playground.js: a file, not inline, as
// the page's Content-Security-Policy runs scripts from Keepsake's origin only.
//
// Paste the token `keepsake serve` printed (or `keepsake token --user ID`) into the
// headers pane below the query.
const fetcher = GraphiQL.createFetcher({ url: "/graphql" });
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: "{\n  me {\n    email\n    role\n  }\n}\n",
    defaultHeaders: '{\n  "Authorization": "Bearer <paste your token here>"\n}',
    defaultEditorToolsVisibility: "headers",
    shouldPersistHeaders: true,
  }),
);
