// An MCP client's authorization, as the Model Context Protocol specifies it
// (2025-06-18, "Authorization"), done by the official TypeScript SDK's
// client/auth module: nothing here knows Latchkey. Driven by
// internal/server/mcp_test.go in JSON lines on stdin and stdout:
//
//   env API_URL       the protected API the agent wants to call
//   env REDIRECT_URI  the loopback redirect URI the agent registers
//
//   -> {"step":"challenge", status, resource_metadata, scope}   the API's 401
//   -> {"step":"authorize", url, client_id, registration}        after discovery and registration
//   <- {"callback": "<redirect URI with code, state and iss>"}   the browser's redirect
//   -> {"step":"called", status, body, token_type, scope}        the API called with the token
//   -> {"step":"refreshed", status}                              after a refresh and a second call
//
// Any failure prints {"error": "..."} and exits 1.
import * as readline from 'node:readline'
import { randomBytes } from 'node:crypto'
import { auth, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js'

const apiURL = process.env.API_URL
const redirectURI = process.env.REDIRECT_URI
const say = (v) => process.stdout.write(JSON.stringify(v) + '\n')
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const next = async () => {
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed')
  return JSON.parse(value)
}

// The agent's state, kept in memory for one run: what an MCP client would
// keep in its credential store.
const state = randomBytes(16).toString('base64url')
let clientInfo, tokens, verifier, discovery, authorizationURL
const provider = {
  get redirectUrl () { return redirectURI },
  get clientMetadata () {
    return {
      client_name: 'Latchkey MCP readiness test agent',
      redirect_uris: [redirectURI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none'
    }
  },
  state: () => state,
  clientInformation: () => clientInfo,
  saveClientInformation: (info) => { clientInfo = info },
  tokens: () => tokens,
  saveTokens: (t) => { tokens = t },
  redirectToAuthorization: (url) => { authorizationURL = url },
  saveCodeVerifier: (v) => { verifier = v },
  codeVerifier: () => verifier,
  saveDiscoveryState: (s) => { discovery = s },
  discoveryState: () => discovery
}

const callAPI = () => fetch(apiURL, { headers: tokens ? { Authorization: `Bearer ${tokens.access_token}` } : {} })

try {
  // 1. The agent knows only the API's URL; its 401 names the metadata.
  const first = await callAPI()
  const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(first)
  say({ step: 'challenge', status: first.status, resource_metadata: resourceMetadataUrl?.href ?? '', scope: scope ?? '' })
  if (first.status !== 401 || !resourceMetadataUrl) throw new Error('no 401 with resource_metadata')

  // 2. Discovery (RFC 9728, RFC 8414), registration (RFC 7591) and the
  //    authorization request with PKCE and a resource indicator (RFC 8707).
  const started = await auth(provider, { serverUrl: apiURL, resourceMetadataUrl, scope })
  if (started !== 'REDIRECT' || !authorizationURL) throw new Error(`auth answered ${started}, want REDIRECT`)
  say({ step: 'authorize', url: authorizationURL.href, client_id: clientInfo.client_id, registration: clientInfo })

  // 3. The browser comes back to the loopback redirect URI.
  const { callback } = await next()
  const back = new URL(callback)
  if (back.searchParams.get('state') !== state) throw new Error('state does not match')
  const code = back.searchParams.get('code')
  if (!code) throw new Error(`no code: ${back.search}`)
  const exchanged = await auth(provider, { serverUrl: apiURL, resourceMetadataUrl, authorizationCode: code })
  if (exchanged !== 'AUTHORIZED') throw new Error(`auth answered ${exchanged}, want AUTHORIZED`)

  // 4. The call the agent wanted to make.
  const called = await callAPI()
  say({ step: 'called', status: called.status, body: await called.text(), token_type: tokens.token_type, scope: tokens.scope ?? '' })

  // 5. The access token expires; the SDK refreshes it with the refresh token.
  const before = tokens.access_token
  const refreshed = await auth(provider, { serverUrl: apiURL, resourceMetadataUrl })
  if (refreshed !== 'AUTHORIZED' || tokens.access_token === before) throw new Error(`refresh answered ${refreshed}, token changed: ${tokens.access_token !== before}`)
  const again = await callAPI()
  say({ step: 'refreshed', status: again.status })
} catch (err) {
  say({ error: String(err?.stack ?? err) })
  process.exit(1)
}
process.exit(0)
