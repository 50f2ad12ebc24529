package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

// adminTokenEnv holds the admin API token when --token is not given.
const adminTokenEnv = "LATCHKEY_ADMIN_TOKEN"

// remoteFlags select the admin API of a running server instead of the
// database (--server URL, with a token of a latchkey:admin client).
type remoteFlags struct {
	server, token string
}

func (r *remoteFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.server, "server", "", "work through the admin API of the server at `URL` instead of on the database")
	fs.StringVar(&r.token, "token", "", "access `TOKEN` of a client with latchkey:admin, for --server (default $"+adminTokenEnv+")")
}

// on reports whether --server was given.
func (r *remoteFlags) on() bool { return r.server != "" }

// remoteAPI is a client of the admin API.
type remoteAPI struct {
	// root is the server's URL; base is the admin API's under it.
	root, base, token string
	http              *http.Client
	iss               string // the issuer, once read

}

// remote returns the admin API client of --server, with the token from
// --token or LATCHKEY_ADMIN_TOKEN.
func (a *app) remote(m *manageCmd) (*remoteAPI, error) {
	u, err := url.Parse(m.remote.server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--server must be the server's URL (https://id.example.com), got %q", m.remote.server)
	}
	tok := m.remote.token
	if tok == "" && a.lookupEnv != nil {
		tok, _ = a.lookupEnv(adminTokenEnv)
	}
	if tok == "" {
		return nil, fmt.Errorf("--server needs an access token: --token or %s (a client_credentials token with latchkey:admin)", adminTokenEnv)
	}
	root := strings.TrimRight(u.String(), "/")
	return &remoteAPI{root: root, base: root + admin.Prefix, token: tok, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiProblem is an RFC 9457 problem the admin API answered.
type apiProblem struct {
	Status int      `json:"status"`
	Title  string   `json:"title"`
	Detail string   `json:"detail"`
	Errors []string `json:"errors"`
}

// do sends method path with body as JSON (none when nil) and decodes the
// answer into out (ignored when nil). A problem becomes an error listing
// its errors, as the command line lists a validation's.
func (r *remoteAPI) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var p apiProblem
		if json.Unmarshal(data, &p) != nil || p.Title == "" {
			return fmt.Errorf("admin API: %s", resp.Status)
		}
		summary := p.Title
		if p.Detail != "" {
			summary += ": " + p.Detail
		}
		if len(p.Errors) == 0 {
			return fmt.Errorf("admin API: %s (%d)", summary, resp.StatusCode)
		}
		errs := make([]error, len(p.Errors))
		for i, e := range p.Errors {
			errs[i] = errors.New(e)
		}
		return problems(p.Title, errors.Join(errs...))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: the answer is not what was expected: %w", err)
	}
	return nil
}

// all follows the cursors of a list from its first page.
func all[T any](ctx context.Context, r *remoteAPI, path string) ([]T, error) {
	var out []T
	cursor := ""
	for {
		var page struct {
			Items      []T    `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := r.do(ctx, http.MethodGet, path+"?limit=200&cursor="+url.QueryEscape(cursor), nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			return out, nil
		}
	}
}

// remoteClient is a client as the admin API answers it.
func remoteClient(v admin.ClientView) store.Client {
	c, _ := v.ToClient(store.Client{ID: v.ID, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt})
	return c
}

// remoteCreateClient registers c through the admin API; secret, when not
// empty, is imported.
func (a *app) remoteCreateClient(cmd *cobra.Command, m *manageCmd, c store.Client, secret string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	var v admin.ClientView
	if err := api.do(cmd.Context(), http.MethodPost, "/clients", admin.ClientInput{ClientBody: admin.ClientMetadata(c), Secret: secret}, &v); err != nil {
		return err
	}
	return m.printClient(cmd, remoteClient(v), v.Secret)
}

// remoteClientCall runs method on one client's path (suffix after the id)
// and prints the client answered.
func (a *app) remoteClientCall(cmd *cobra.Command, m *manageCmd, method, id, suffix string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	var v admin.ClientView
	if err := api.do(cmd.Context(), method, "/clients/"+url.PathEscape(id)+suffix, nil, &v); err != nil {
		return err
	}
	return m.printClient(cmd, remoteClient(v), v.Secret)
}

func (a *app) remoteListClients(cmd *cobra.Command, m *manageCmd) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	list, err := all[admin.ClientView](cmd.Context(), api, "/clients")
	if err != nil {
		return err
	}
	views := make([]clientView, len(list))
	for i, v := range list {
		views[i] = newClientView(remoteClient(v), "")
	}
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), views)
	}
	return writeClientTable(cmd.OutOrStdout(), views)
}

func (a *app) remoteDeleteClient(cmd *cobra.Command, m *manageCmd, id string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	if err := api.do(cmd.Context(), http.MethodDelete, "/clients/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	return printDeletedClient(cmd, m, id)
}

func (a *app) remoteListUsers(cmd *cobra.Command, m *manageCmd) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	list, err := all[userView](cmd.Context(), api, "/users")
	if err != nil {
		return err
	}
	if list == nil {
		list = []userView{}
	}
	if m.out.json() {
		return writeJSON(cmd.OutOrStdout(), list)
	}
	return writeUserTable(cmd.OutOrStdout(), list)
}

// remoteUser opens the admin API of --server and finds the user of
// username there, for the API names users by id.
func (a *app) remoteUser(ctx context.Context, m *manageCmd, username string) (*remoteAPI, userView, error) {
	api, err := a.remote(m)
	if err != nil {
		return nil, userView{}, err
	}
	users, err := all[userView](ctx, api, "/users")
	if err != nil {
		return nil, userView{}, err
	}
	for _, u := range users {
		if u.Username == username {
			return api, u, nil
		}
	}
	return nil, userView{}, fmt.Errorf("user %q not found", username)
}

// remoteSetDisabled disables or enables the user of username through the
// admin API.
func (a *app) remoteSetDisabled(cmd *cobra.Command, m *manageCmd, username string, disabled bool) error {
	api, u, err := a.remoteUser(cmd.Context(), m, username)
	if err != nil {
		return err
	}
	var out userView
	if err := api.do(cmd.Context(), http.MethodPatch, "/users/"+url.PathEscape(u.ID), map[string]bool{"disabled": disabled}, &out); err != nil {
		return err
	}
	return printDisabled(cmd, m, out)
}

func (a *app) remoteCreateUser(cmd *cobra.Command, m *manageCmd, in map[string]any) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	var v userView
	if err := api.do(cmd.Context(), http.MethodPost, "/users", in, &v); err != nil {
		return err
	}
	return m.printUserView(cmd, v)
}

func (a *app) remoteGetUser(cmd *cobra.Command, m *manageCmd, username string) error {
	_, u, err := a.remoteUser(cmd.Context(), m, username)
	if err != nil {
		return err
	}
	return m.printUserView(cmd, u)
}

func (a *app) remoteDeleteUser(cmd *cobra.Command, m *manageCmd, username string) error {
	api, u, err := a.remoteUser(cmd.Context(), m, username)
	if err != nil {
		return err
	}
	if err := api.do(cmd.Context(), http.MethodDelete, "/users/"+url.PathEscape(u.ID), nil, nil); err != nil {
		return err
	}
	return printDeletedUser(cmd, m, u.Username, u.ID)
}

func (a *app) remoteSetPassword(cmd *cobra.Command, m *manageCmd, username, password string) error {
	api, u, err := a.remoteUser(cmd.Context(), m, username)
	if err != nil {
		return err
	}
	var out struct {
		SessionsEnded int `json:"sessions_ended"`
	}
	if err := api.do(cmd.Context(), http.MethodPost, "/users/"+url.PathEscape(u.ID)+"/password", map[string]string{"password": password}, &out); err != nil {
		return err
	}
	return printPasswordSet(cmd, m, u.Username, u.ID, out.SessionsEnded)
}

// remoteUpdateClient reads the client, applies the update flags as the
// database path does and replaces it (PUT); the server generates the
// secret of a public client made confidential.
func (a *app) remoteUpdateClient(cmd *cobra.Command, m *manageCmd, f *clientFlags, id string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	path := "/clients/" + url.PathEscape(id)
	var v admin.ClientView
	if err := api.do(cmd.Context(), http.MethodGet, path, nil, &v); err != nil {
		return err
	}
	c := remoteClient(v)
	if _, err := f.apply(&c, cmd.Flags().Changed, false); err != nil {
		return err
	}
	// A fresh answer: fields it leaves out (false, empty) must not keep
	// the values read before.
	var out admin.ClientView
	if err := api.do(cmd.Context(), http.MethodPut, path, admin.ClientMetadata(c), &out); err != nil {
		return err
	}
	return m.printClient(cmd, remoteClient(out), out.Secret)
}
