// A relying party built on openid-client (panva, v6), driven by
// internal/server/noderp_test.go, which plays the user's browser.
//
// Environment: LATCHKEY_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET,
// RP_REDIRECT_URI, RP_POST_LOGOUT_URI, RP_LOGOUT_STATE; RP_DPOP=1 binds
// the tokens to a DPoP key of the client's (RFC 9449) at every step;
// RP_USE_PAR=1 pushes the authorization request first (RFC 9126) and sends
// the browser with its request_uri. RP_CLIENT_JWK (a private ES256 JWK)
// instead of RP_CLIENT_SECRET authenticates with private_key_jwt and
// expects ES256 ID tokens; RP_USE_JAR=1 then signs the authorization
// request as a request object (RFC 9101) with that key.
//
// Conversation, one JSON object per line:
//   rp -> test  {"authorization_url": "..."}
//   test -> rp  {"callback_url": "..."}
//   rp -> test  {"id_token_claims": {...}, "userinfo": {...},
//                "refresh": {...}, "end_session_url": "..."}
// Any failure is one line {"error": "...", "code": "...", "cause": ...}
// and exit status 1.

import * as readline from 'node:readline'
import * as client from 'openid-client'

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function env(name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}

function describe(err) {
  const out = { error: String(err?.message ?? err), code: err?.code, name: err?.name }
  if (err?.error) out.oauth_error = err.error
  if (err?.error_description) out.oauth_error_description = err.error_description
  if (err?.cause !== undefined) {
    const c = err.cause
    out.cause = c instanceof Error ? { message: c.message, code: c.code } : c
    // A Response cannot be serialised; its status says enough.
    if (typeof Response !== 'undefined' && c instanceof Response) out.cause = { status: c.status }
  }
  return out
}

// cnf returns the cnf claim of a JWT access token (null for another kind).
function cnf(token) {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).cnf ?? null
  } catch {
    return null
  }
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function receive() {
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed before the test answered')
  return JSON.parse(value)
}

async function main() {
  const issuer = new URL(env('LATCHKEY_ISSUER'))
  const redirectUri = env('RP_REDIRECT_URI')
  // The test server is http on 127.0.0.1: openid-client refuses that
  // unless told otherwise. Client authentication is client_secret_basic,
  // the default of OpenID Connect Registration §2, or private_key_jwt
  // with RP_CLIENT_JWK.
  let metadata, clientAuth, signingKey
  if (process.env.RP_CLIENT_JWK) {
    const jwk = JSON.parse(process.env.RP_CLIENT_JWK)
    const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
    signingKey = { key, kid: jwk.kid }
    metadata = { id_token_signed_response_alg: 'ES256' }
    clientAuth = client.PrivateKeyJwt(signingKey)
  } else {
    metadata = env('RP_CLIENT_SECRET')
    clientAuth = client.ClientSecretBasic(metadata)
  }
  const config = await client.discovery(issuer, env('RP_CLIENT_ID'), metadata, clientAuth,
    { execute: [client.allowInsecureRequests] })

  // RFC 9449: with RP_DPOP, one ES256 key for the whole session; the
  // library answers a use_dpop_nonce challenge by retrying with the nonce.
  const DPoP = process.env.RP_DPOP === '1' ? client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')) : undefined

  const codeVerifier = client.randomPKCECodeVerifier()
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
  const state = client.randomState()
  const nonce = client.randomNonce()
  let parameters = {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  }
  // buildAuthorizationUrlWithPAR posts the parameters to the discovered
  // pushed_authorization_request_endpoint, authenticated as at the token
  // endpoint, and returns the URL with client_id and request_uri only.
  // With RP_USE_JAR, buildAuthorizationUrlWithJAR signs them into a
  // request object, and only client_id and request go on.
  if (process.env.RP_USE_JAR === '1') {
    parameters = (await client.buildAuthorizationUrlWithJAR(config, parameters, signingKey)).searchParams
  }
  const authorizationUrl = process.env.RP_USE_PAR === '1'
    ? await client.buildAuthorizationUrlWithPAR(config, parameters, { DPoP })
    : client.buildAuthorizationUrl(config, parameters)
  send({ authorization_url: authorizationUrl.href })

  const { callback_url: callbackUrl } = await receive()
  // Checks state, iss (RFC 9207), the code exchange with PKCE, and the ID
  // token: signature against the issuer's JWKS, iss, aud, azp, exp, iat,
  // nonce, at_hash.
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  }, undefined, { DPoP })
  const claims = tokens.claims()
  const idTokenHeader = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString())

  // Core §5.3.2: the userinfo sub must equal the ID token's.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP })

  // Core §12.2: a refreshed ID token keeps iss, sub, aud and auth_time.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
  const refreshedClaims = refreshed.claims()

  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: env('RP_POST_LOGOUT_URI'),
    state: env('RP_LOGOUT_STATE'),
  })

  send({
    id_token_header: idTokenHeader,
    id_token_claims: claims,
    token_type: tokens.token_type,
    refreshed_token_type: refreshed.token_type,
    access_token_cnf: cnf(tokens.access_token),
    refreshed_access_token_cnf: cnf(refreshed.access_token),
    scope: tokens.scope,
    userinfo,
    refresh: {
      new_id_token: typeof refreshed.id_token === 'string' && refreshed.id_token !== tokens.id_token,
      id_token_claims: refreshedClaims ?? null,
      new_refresh_token: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    },
    pushed_request: authorizationUrl.searchParams.has('request_uri'),
    end_session_url: endSessionUrl.href,
  })
}

try {
  await main()
  process.exit(0)
} catch (err) {
  send(describe(err))
  process.exit(1)
}
