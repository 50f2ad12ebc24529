// Package registration is dynamic client registration (RFC 7591) and its
// management protocol (RFC 7592) at /register: self-registered clients are
// validated by oauth.ValidateClient and held to the operator's policy.
package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Path is where clients register; a client's configuration endpoint is
// Path + "/" + its id (RFC 7592 §1.1).
const Path = oauth.RegistrationPath

// maxBody bounds a registration request (SECURITY.md: 64 KiB for DCR).
const maxBody = 64 << 10

// Options configure a Handler.
type Options struct {
	Store  store.Store
	Scopes *oauth.Scopes
	Config config.RegistrationConfig
	Issuer string
	Now    func() time.Time
	Logger *slog.Logger
	// Audit records each registration, update and deletion as a
	// client.changed event (nil: none).
	Audit *audit.Log
}

// Handler serves /register and /register/{client_id}.
type Handler struct {
	o     Options
	keys  *jose.JSONWebKeySet
	limit *oauth.Throttle
}

// New builds the handler; it fails when the software statement keys cannot
// be read.
func New(o Options) (*Handler, error) {
	keys, err := loadStatementKeys(o.Config.SoftwareStatementKeys, o.Config.SoftwareStatementKeysFile)
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{o: o, keys: keys}
	if n := o.Config.PerAddressPerHour; n > 0 {
		h.limit = oauth.NewThrottle("registrations", n, time.Hour, 100_000)
	}
	return h, nil
}

// Routes mounts the endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+Path, anyOrigin(h.create))
	mux.HandleFunc("GET "+Path+"/{client_id}", anyOrigin(h.read))
	mux.HandleFunc("PUT "+Path+"/{client_id}", anyOrigin(h.update))
	mux.HandleFunc("DELETE "+Path+"/{client_id}", anyOrigin(h.delete))
	mux.HandleFunc("OPTIONS "+Path, preflight("POST"))
	mux.HandleFunc("OPTIONS "+Path+"/{client_id}", preflight("GET, PUT, DELETE"))
}

// anyOrigin lets a page of any origin read the answer: an agent or a
// developer tool in the browser registers itself (RFC 9700 §2.6 allows
// CORS here). Nothing rides on cookies: the request carries its own
// credentials (an initial or registration access token), or none.
func anyOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		next(w, r)
	}
}

// preflight answers a CORS preflight for methods.
func preflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	}
}

// audit records a change a client made to its own registration; the
// actor is the registration endpoint, the address the caller's.
func (h *Handler) audit(r *http.Request, clientID, detail string) {
	if h.o.Audit != nil {
		h.o.Audit.Emit(r.Context(), audit.Event{Name: audit.EventClientChanged, ClientID: clientID, Actor: "registration",
			Address: clientip.Of(r), Detail: detail})
	}
}

// response is the client information response (RFC 7591 §3.2.1, RFC 7592
// §3): the credentials and every registered field.
type response struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	Metadata
}

func (h *Handler) answer(c store.Client, clientSecret, accessToken string) response {
	r := response{ClientID: c.ID, ClientSecret: clientSecret, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationAccessToken: accessToken, RegistrationClientURI: h.o.Issuer + Path + "/" + c.ID, Metadata: metadataOf(c)}
	if clientSecret != "" {
		var never int64 // §3.2.1: 0 if it will not expire
		r.ClientSecretExpiresAt = &never
	}
	return r
}

// create registers a client (RFC 7591 §3.1).
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := h.o.Now()
	if h.limit != nil {
		if ok, wait := h.limit.Reserve(clientip.Of(r), now); !ok {
			h.o.Logger.WarnContext(ctx, "registration refused: too many from this address", "client", clientip.Of(r))
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			oauth.WriteJSON(w, http.StatusTooManyRequests, refusal{Code: "temporarily_unavailable",
				Description: "too many registrations from this address; try again later"})
			return
		}
	}
	gated := h.o.Config.Mode == config.RegistrationGated
	token, hasToken := bearer(r)
	if gated && !hasToken {
		unauthorized(w, "", "registration needs an initial access token (Authorization: Bearer)")
		return
	}
	raw, ref := readBody(w, r)
	if ref != nil {
		oauth.WriteJSON(w, ref.status, ref)
		return
	}
	c := store.Client{ID: oauth.NewClientID(), CreatedAt: now, UpdatedAt: now}
	clientSecret, ref := h.build(raw, &c, "")
	if ref != nil {
		h.o.Logger.InfoContext(ctx, "registration refused", "error", ref.Code, "description", ref.Description, "client", clientip.Of(r))
		oauth.WriteJSON(w, ref.status, ref)
		return
	}
	// The initial access token is spent only on a registration that will
	// be stored, so a client that fixes a refused request may try again.
	if gated {
		err := h.o.Store.UseRegistrationToken(ctx, secret.Hash(token), now)
		if errors.Is(err, store.ErrNotFound) {
			unauthorized(w, "invalid_token", "the initial access token is unknown, expired or used up")
			return
		}
		if err != nil {
			h.serverError(ctx, w, "use initial access token", err)
			return
		}
	}
	accessToken := secret.New(secret.PrefixRegistrationAccess)
	c.RegistrationTokenHash = secret.Hash(string(accessToken))
	if err := h.o.Store.CreateClient(ctx, c); err != nil {
		h.storeError(ctx, w, "create client", err)
		return
	}
	h.audit(r, c.ID, "registered itself")
	oauth.WriteJSON(w, http.StatusCreated, h.answer(c, clientSecret, string(accessToken)))
}

// read answers the client's registered metadata (RFC 7592 §2.1). The
// response must carry the registration access token (§3); Latchkey keeps
// only its hash, so it answers the one the client presented, which stays
// valid.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	c, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	token, _ := bearer(r)
	oauth.WriteJSON(w, http.StatusOK, h.answer(c, "", token))
}

// update replaces the client's metadata (RFC 7592 §2.2) and rotates its
// registration access token.
func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	raw, ref := readBody(w, r)
	if ref == nil {
		ref = checkUpdateFields(raw, c)
	}
	var clientSecret string
	if ref == nil {
		c.UpdatedAt = h.o.Now()
		clientSecret, ref = h.build(raw, &c, c.SecretHash)
	}
	if ref != nil {
		oauth.WriteJSON(w, ref.status, ref)
		return
	}
	accessToken := secret.New(secret.PrefixRegistrationAccess)
	c.RegistrationTokenHash = secret.Hash(string(accessToken))
	if err := h.o.Store.UpdateClient(ctx, c); err != nil {
		h.storeError(ctx, w, "update client", err)
		return
	}
	h.audit(r, c.ID, "updated its registration")
	oauth.WriteJSON(w, http.StatusOK, h.answer(c, clientSecret, string(accessToken)))
}

// delete removes the client with its grants and tokens (RFC 7592 §2.3).
func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if err := h.o.Store.DeleteClient(ctx, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.serverError(ctx, w, "delete client", err)
		return
	}
	h.audit(r, c.ID, "deleted its registration")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// checkUpdateFields applies RFC 7592 §2.2: client_id must be the
// client's, client_secret if sent must be its secret, and the
// server-assigned fields must not be sent.
func checkUpdateFields(raw map[string]json.RawMessage, c store.Client) *refusal {
	var id string
	if json.Unmarshal(raw["client_id"], &id) != nil || id != c.ID {
		return &refusal{Code: "invalid_request", Description: "client_id must be sent and be this client's id (RFC 7592 §2.2)", status: 400}
	}
	if v, ok := raw["client_secret"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil || c.SecretHash == "" || !secret.CheckClientSecret(c.SecretHash, s) {
			return &refusal{Code: "invalid_request", Description: "client_secret does not match the client's secret (RFC 7592 §2.2)", status: 400}
		}
	}
	for _, f := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
		if _, ok := raw[f]; ok {
			return &refusal{Code: "invalid_request", Description: f + " must not be sent in an update (RFC 7592 §2.2)", status: 400}
		}
	}
	delete(raw, "client_id")
	delete(raw, "client_secret")
	return nil
}

// build validates the requested metadata and sets it on c: a software
// statement's claims first (they take precedence, RFC 7591 §2.3), then the
// policy, then oauth.ValidateClient. A confidential client without a
// secret (oldSecretHash empty) gets one, returned in plain once.
func (h *Handler) build(raw map[string]json.RawMessage, c *store.Client, oldSecretHash string) (string, *refusal) {
	var statementIss string
	if v, ok := raw["software_statement"]; ok {
		var jwt string
		if json.Unmarshal(v, &jwt) != nil {
			return "", &refusal{Code: "invalid_software_statement", Description: "software_statement must be a string", status: 400}
		}
		claims, iss, ref := verifyStatement(jwt, h.keys, h.o.Now())
		if ref != nil {
			return "", ref
		}
		for k, v := range claims {
			raw[k] = v
		}
		statementIss = iss
	}
	delete(raw, "software_statement")
	delete(raw, "client_id")
	delete(raw, "client_secret") // RFC 9700 §4.15.1: the server assigns credentials
	b, _ := json.Marshal(raw)
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return "", invalidMetadata("a metadata field has the wrong type: %s", jsonProblem(err))
	}
	m = m.withDefaults()
	if ref := m.checkShape(); ref != nil {
		return "", ref
	}
	scopes, e := oauth.ParseScope(m.Scope)
	if e != nil {
		return "", invalidMetadata("scope: %s", e.Description)
	}
	if len(scopes) == 0 {
		scopes = h.o.Config.Policy.Scopes
	}
	if ref := checkPolicy(h.o.Config.Policy, m, scopes, statementIss != ""); ref != nil {
		return "", ref
	}
	if err := m.apply(c, scopes, statementIss); err != nil {
		return "", invalidMetadata("the metadata cannot be stored")
	}
	var plain string
	switch {
	case c.Public || c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT:
		c.SecretHash = ""
	case oldSecretHash != "":
		c.SecretHash = oldSecretHash
	default:
		v, hash := oauth.NewClientSecret()
		plain, c.SecretHash = v.String(), hash
	}
	if err := oauth.ValidateClient(*c, h.o.Scopes); err != nil {
		return "", classify(*c, err)
	}
	return plain, nil
}

// authenticate checks the registration access token of the client named
// in the path (RFC 7592 §3). A wrong token and an unknown client get the
// same 401, after the same hash comparison, so the answer never tells
// whether the client exists.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (store.Client, bool) {
	ctx := r.Context()
	token, ok := bearer(r)
	if !ok {
		unauthorized(w, "", "this endpoint needs the client's registration access token (Authorization: Bearer)")
		return store.Client{}, false
	}
	c, err := h.o.Store.GetClient(ctx, r.PathValue("client_id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.serverError(ctx, w, "get client", err)
		return store.Client{}, false
	}
	stored := c.RegistrationTokenHash
	if stored == "" {
		stored = strings.Repeat("0", 64)
	}
	if !secret.Equal(secret.Hash(token), stored) || c.RegistrationTokenHash == "" || !c.SelfRegistered {
		unauthorized(w, "invalid_token", "the registration access token is not valid for this client")
		return store.Client{}, false
	}
	return c, true
}

// readBody reads a JSON object of at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, *refusal) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &refusal{Code: "invalid_request", Description: "the request body must be application/json (RFC 7591 §3.1)", status: 400}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		return nil, &refusal{Code: "invalid_request", Description: "the request body is larger than 64 KiB or unreadable", status: 400}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil || raw == nil {
		return nil, invalidMetadata("the request body is not a JSON object")
	}
	return raw, nil
}

// jsonProblem names the field of a type error without echoing input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be %s", te.Field, te.Type)
	}
	return "malformed value"
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// unauthorized answers 401 with a Bearer challenge (RFC 6750 §3).
func unauthorized(w http.ResponseWriter, code, description string) {
	challenge := `Bearer realm="registration"`
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	if code == "" {
		code = "invalid_request"
	}
	oauth.WriteJSON(w, http.StatusUnauthorized, refusal{Code: code, Description: description})
}

// storeError answers a failed write: a value the store cannot hold (a NUL
// byte, invalid UTF-8) is the client's invalid_client_metadata, anything
// else ours.
func (h *Handler) storeError(ctx context.Context, w http.ResponseWriter, op string, err error) {
	if errors.Is(err, store.ErrInvalid) {
		ref := invalidMetadata("a metadata value cannot be stored: text must be valid UTF-8 without NUL characters")
		oauth.WriteJSON(w, ref.status, ref)
		return
	}
	h.serverError(ctx, w, op, err)
}

func (h *Handler) serverError(ctx context.Context, w http.ResponseWriter, op string, err error) {
	h.o.Logger.ErrorContext(ctx, "registration: "+op, "err", err)
	// The store failed: unreachable or overloaded, which passes.
	w.Header().Set("Retry-After", "1")
	oauth.WriteJSON(w, http.StatusServiceUnavailable, refusal{Code: "temporarily_unavailable", Description: "the server could not complete the request now; try again"})
}
