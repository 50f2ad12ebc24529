package main

import (
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/spf13/cobra"
)

func (a *app) remoteListKeys(cmd *cobra.Command, m *manageCmd) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	views, err := all[admin.KeyView](cmd.Context(), api, "/keys")
	if err != nil {
		return err
	}
	if views == nil {
		views = []admin.KeyView{}
	}
	return a.printKeys(m, views)
}

// remoteRotateKey rotates through the admin API, which takes the longest
// access token lifetime itself; the lifetime printed is the one the
// older keys of the algorithm were given (the latest retirement after the
// new key signs), zero when it has no older key.
func (a *app) remoteRotateKey(cmd *cobra.Command, m *manageCmd, alg string, publishDelay time.Duration) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	var nk admin.KeyView
	if err := api.do(cmd.Context(), http.MethodPost, "/keys/rotate",
		map[string]string{"algorithm": alg, "publish_delay": publishDelay.String()}, &nk); err != nil {
		return err
	}
	views, err := all[admin.KeyView](cmd.Context(), api, "/keys")
	if err != nil {
		return err
	}
	var lifetime time.Duration
	for _, v := range views {
		if v.Algorithm == nk.Algorithm && v.KID != nk.KID && v.RetireAt != nil {
			lifetime = max(lifetime, v.RetireAt.Sub(nk.ActiveAt))
		}
	}
	return a.printRotation(m, nk.KID, lifetime, views)
}

func (a *app) remoteRetireKey(cmd *cobra.Command, m *manageCmd, kid string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	if err := api.do(cmd.Context(), http.MethodPost, "/keys/"+url.PathEscape(kid)+"/retire", nil, nil); err != nil {
		return err
	}
	return a.printRetired(m, kid)
}
