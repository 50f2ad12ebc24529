// A relying party that registers itself with openid-client's
// dynamicClientRegistration (RFC 7591, found through discovery's
// registration_endpoint) and then signs a user in with the credentials it
// got: authorization code with PKCE, ID token checked, userinfo read.
// Driven by internal/server/noderp_test.go, which plays the browser.
//
// Environment: LATCHKEY_ISSUER, RP_REDIRECT_URI, RP_INITIAL_ACCESS_TOKEN
// (optional: registration gated by an initial access token).
//
// Conversation, one JSON object per line:
//   rp -> test  {"client_id": "...", "authorization_url": "..."}
//   test -> rp  {"callback_url": "..."}
//   rp -> test  {"id_token_claims": {...}, "userinfo": {...}}
// Any failure is one line {"error": "..."} and exit status 1.

import * as readline from 'node:readline'
import * as client from 'openid-client'

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function main() {
  const issuer = new URL(process.env.LATCHKEY_ISSUER)
  const redirectUri = process.env.RP_REDIRECT_URI
  // Without clientAuthentication the library authenticates with
  // client_secret_post and the secret the server issued.
  const config = await client.dynamicClientRegistration(issuer, {
    client_name: 'Node DCR client',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    scope: 'openid profile email',
  }, undefined, {
    execute: [client.allowInsecureRequests],
    initialAccessToken: process.env.RP_INITIAL_ACCESS_TOKEN || undefined,
  })
  const meta = config.clientMetadata()

  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  send({ client_id: meta.client_id, registration_client_uri: meta.registration_client_uri, authorization_url: url.href })

  const { value } = await lines.next()
  const { callback_url: callbackUrl } = JSON.parse(value)
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  })
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  send({ id_token_claims: claims, userinfo })
}

try {
  await main()
  process.exit(0)
} catch (err) {
  send({ error: String(err?.message ?? err), code: err?.code, oauth_error: err?.error, cause: err?.cause instanceof Error ? err.cause.message : undefined })
  process.exit(1)
}
