package oauth

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// resourceCacheTTL is how long the registered resources are served from
// memory; a change made by the CLI or another node is seen within it.
const resourceCacheTTL = 5 * time.Second

// resources is an immutable view of the registered resources.
type resources struct {
	byURI    map[string]store.Resource
	byClient map[string]string   // credentials client id -> resource URI
	owners   map[string][]string // scope -> URIs of the resources serving it, in URI order
	loaded   time.Time
}

// resourceRegistry keeps the registered resources in memory, reloading the
// whole list once it is older than resourceCacheTTL (a handful of rows, so
// one read serves every request in between).
type resourceRegistry struct {
	store store.ResourceStore
	now   func() time.Time
	mu    sync.Mutex // one reload at a time
	cur   atomic.Pointer[resources]
}

// fresh reports whether v can be served at now.
func (v *resources) fresh(now time.Time) bool {
	return v != nil && now.Sub(v.loaded) < resourceCacheTTL && !now.Before(v.loaded)
}

// get returns the current view, reloading it when stale (without a lock
// on the way of every request while it is fresh). A failed reload keeps
// serving the previous view; without one the error is returned.
func (r *resourceRegistry) get(ctx context.Context) (*resources, error) {
	if v := r.cur.Load(); v.fresh(r.now()) {
		return v, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	old := r.cur.Load()
	if old.fresh(now) {
		return old, nil // another request reloaded it meanwhile
	}
	list, err := r.store.ListResources(ctx)
	if err != nil {
		if old == nil {
			return nil, err
		}
		// Serve the last view for another period rather than send every
		// request to a database that just failed.
		kept := *old
		kept.loaded = now
		r.cur.Store(&kept)
		return &kept, nil
	}
	v := &resources{byURI: make(map[string]store.Resource, len(list)), byClient: make(map[string]string, len(list)),
		owners: make(map[string][]string), loaded: now}
	for _, res := range list { // in URI order
		v.byURI[res.URI] = res
		v.byClient[res.ClientID] = res.URI
		for _, s := range res.Scopes {
			v.owners[s] = append(v.owners[s], res.URI)
		}
	}
	r.cur.Store(v)
	return v, nil
}

// reachable reports whether client may ask tokens for res: it is on the
// client's list of resources, or, with no list, it serves one of the
// client's scopes.
func reachable(client store.Client, res store.Resource) bool {
	if len(client.Resources) > 0 {
		return slices.Contains(client.Resources, res.URI)
	}
	return slices.ContainsFunc(res.Scopes, func(s string) bool { return slices.Contains(client.Scopes, s) })
}

// ValidResourceURI reports whether uri can be a resource indicator. RFC
// 8707 §2: "Its value MUST be an absolute URI ... MUST NOT include a
// fragment component."
func ValidResourceURI(uri string) bool {
	u, err := url.Parse(uri)
	// strings.Contains, not u.Fragment: "https://a/#" has an empty one.
	return err == nil && u.IsAbs() && !strings.Contains(uri, "#") && len(uri) <= maxResourceLen
}

// maxResourceLen bounds a resource indicator.
const maxResourceLen = 1024

// target is where an access token may be used.
type target struct {
	// audience is the token's aud; nil means the server's default audience.
	audience []string
	// scopes are the scopes the access token carries: those its audience
	// serves.
	scopes []string
}

// targetFor decides the audience of an access token (RFC 8707) and the
// scopes it carries, for a request of scopes that named the resources
// requested. authorized are the resources an earlier authorization was
// given for (a code's or a refresh token's; nil for a new authorization).
//
// With resources named (requested, or else authorized), the token is for
// them: each must be registered, reachable by the client and, when an
// authorization came first, among authorized; the token carries the scopes
// they serve, at least one. Without, the audience follows from the scopes:
// each scope's owners (the registered resources that serve it and the
// client may reach), and the default audience (the issuer, for the OpenID
// scopes and /userinfo) for scopes no resource serves. A scope whose only
// owners the client may not reach is left out.
func (p *Provider) targetFor(ctx context.Context, client store.Client, scopes, requested, authorized []string) (target, *Error) {
	for _, r := range requested {
		if !ValidResourceURI(r) {
			return target{}, InvalidTarget("resource must be an absolute URI without a fragment (RFC 8707 §2)")
		}
	}
	reg, err := p.resources.get(ctx)
	if err != nil {
		return target{}, p.storeError(ctx, "list resources", err)
	}
	named := requested
	if len(named) == 0 {
		named = authorized
	}
	if len(named) > 0 {
		return p.namedTarget(reg, client, scopes, named, requested, authorized)
	}
	var t target
	unowned := false
	for _, s := range scopes {
		owners := reg.owners[s]
		if len(owners) == 0 {
			unowned = true
			t.scopes = append(t.scopes, s)
			continue
		}
		kept := false
		for _, uri := range owners {
			if reachable(client, reg.byURI[uri]) {
				kept = true
				if !slices.Contains(t.audience, uri) {
					t.audience = append(t.audience, uri)
				}
			}
		}
		if kept {
			t.scopes = append(t.scopes, s)
		}
	}
	if len(scopes) > 0 && len(t.scopes) == 0 {
		return target{}, InvalidTarget("the client may not ask for the resources that serve these scopes")
	}
	slices.Sort(t.audience) // the same scopes give the same aud in any order
	if len(t.audience) == 0 {
		t.audience = nil // every scope unowned: the default audience alone
	} else if unowned {
		t.audience = append(t.audience, p.audience()...)
	}
	return t, nil
}

func (p *Provider) namedTarget(reg *resources, client store.Client, scopes, named, requested, authorized []string) (target, *Error) {
	t := target{audience: make([]string, 0, len(named))}
	for _, uri := range named {
		res, ok := reg.byURI[uri]
		switch {
		case !ok:
			return target{}, InvalidTarget("the resource is not registered")
		case !reachable(client, res):
			return target{}, InvalidTarget("the client may not ask for this resource")
		case len(requested) > 0 && len(authorized) > 0 && !slices.Contains(authorized, uri):
			// RFC 8707 §2.2: a token request may narrow, never widen,
			// what the authorization was given for.
			return target{}, InvalidTarget("the authorization was not given for this resource")
		}
		if !slices.Contains(t.audience, uri) {
			t.audience = append(t.audience, uri)
		}
	}
	for _, s := range scopes {
		if slices.ContainsFunc(t.audience, func(uri string) bool { return slices.Contains(reg.byURI[uri].Scopes, s) }) {
			t.scopes = append(t.scopes, s)
		}
	}
	if len(scopes) > 0 && len(t.scopes) == 0 {
		return target{}, InvalidTarget("the resource serves none of the requested scopes")
	}
	return t, nil
}

// resourceOf returns the URI of the resource whose credentials clientID
// is, or "".
func (p *Provider) resourceOf(ctx context.Context, clientID string) (string, error) {
	reg, err := p.resources.get(ctx)
	if err != nil {
		return "", err
	}
	return reg.byClient[clientID], nil
}
