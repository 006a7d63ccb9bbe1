// A real OpenID Provider for the end-to-end tests: panva's oidc-provider (npm), on loopback.
//
// Configured by environment (tests/e2e/idp_harness.py starts it):
//   IDP_PORT            port to listen on (127.0.0.1)
//   IDP_ISSUER          issuer URL, e.g. http://127.0.0.1:4000 (exactly what discovery reports)
//   IDP_CLIENT_ID       the gateway's client id
//   IDP_CLIENT_SECRET   its secret (HTTP Basic or form fields at /token, either is accepted);
//                       empty = a public client (token_endpoint_auth_method none, PKCE)
//   IDP_REDIRECT_URIS   comma list; the client is "native", so a loopback URI matches any port
//   IDP_AUDIENCE        `aud` of the JWT access tokens (resource server)
//   IDP_DOMAIN          mail domain of accounts whose login has no "@"
//   IDP_KEYS            path of a JSON file {"keys":[private JWKs with kid]}: the first signs
//
// Accounts (devInteractions: any login, any password): sub = login; email = login when it
// contains "@", else <login>@<IDP_DOMAIN>; email_verified is false when the login starts with
// "unverified". ID tokens carry the email claims (conformIdTokenClaims off); access tokens are
// JWTs with aud = IDP_AUDIENCE and the same email claims.
//
// Side endpoint: GET /__stats -> {"jwks": <number of GET /jwks served since start>}.
// Prints "ready <issuer>" on stdout once listening.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === "") {
    if (fallback === undefined) throw new Error(`idp.mjs: ${name} is required`);
    return fallback;
  }
  return v;
};

const port = Number(env("IDP_PORT"));
const issuer = env("IDP_ISSUER");
const clientId = env("IDP_CLIENT_ID");
const clientSecret = env("IDP_CLIENT_SECRET", "");
const audience = env("IDP_AUDIENCE");
const domain = env("IDP_DOMAIN");
const redirectUris = env("IDP_REDIRECT_URIS").split(",").map((s) => s.trim()).filter(Boolean);
const jwks = JSON.parse(readFileSync(env("IDP_KEYS"), "utf8"));

function claimsOf(login) {
  const email = login.includes("@") ? login : `${login}@${domain}`;
  return {
    sub: login,
    email,
    email_verified: !login.startsWith("unverified"),
    preferred_username: login,
    name: login,
  };
}

const client = {
  client_id: clientId,
  application_type: "native",
  redirect_uris: redirectUris,
  response_types: ["code"],
  grant_types: ["authorization_code", "refresh_token"],
  ...(clientSecret
    ? { client_secret: clientSecret, token_endpoint_auth_method: "client_secret_basic" }
    : { token_endpoint_auth_method: "none" }),
};

const provider = new Provider(issuer, {
  clients: [client],
  jwks,
  cookies: { keys: ["conduit-e2e-idp-cookie-key"] },
  conformIdTokenClaims: false,
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
  },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: async () => claimsOf(sub) }),
  extraTokenClaims: (_ctx, token) => {
    if (!token.accountId) return undefined;
    const { email, email_verified } = claimsOf(token.accountId);
    return { email, email_verified };
  },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "openid email profile",
        audience,
        accessTokenTTL: 600,
        accessTokenFormat: "jwt",
      }),
    },
  },
  pkce: { required: () => true },
});
// Tests run the IdP on plain HTTP loopback; nothing here sits behind a proxy.
provider.proxy = false;

let jwksFetches = 0;
provider.use(async (ctx, next) => {
  if (ctx.method === "GET" && ctx.path === "/__stats") {
    ctx.body = { jwks: jwksFetches };
    return;
  }
  if (ctx.path === "/jwks") jwksFetches += 1;
  await next();
});

provider.on("server_error", (_ctx, err) => console.error("idp server_error:", err));
// Refusals at /token and /auth, for the test logs (error codes and descriptions only).
for (const event of ["grant.error", "authorization.error"]) {
  provider.on(event, (_ctx, err) => console.error(`idp ${event}: ${err.error}: ${err.error_description} (${err.error_detail ?? ""})`));
}

const server = provider.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
