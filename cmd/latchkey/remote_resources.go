package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// issuer is the server's issuer from its metadata (RFC 8414), which
// names the introspection endpoint a resource is told about; the --server
// URL may differ (a node's own address behind the public name).
func (r *remoteAPI) issuer(ctx context.Context) (string, error) {
	if r.iss != "" {
		return r.iss, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.root+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return "", err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("server metadata: %w", err)
	}
	defer resp.Body.Close()
	var md struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&md) != nil || md.Issuer == "" {
		return "", fmt.Errorf("server metadata: %s has no issuer (%s)", r.root, resp.Status)
	}
	r.iss = md.Issuer
	return r.iss, nil
}

// resourceView completes a resource the admin API answered as the
// database path prints it.
func (r *remoteAPI) resourceView(ctx context.Context, v resourceView) (resourceView, error) {
	iss, err := r.issuer(ctx)
	if err != nil {
		return v, err
	}
	v.Scopes = nonNil(v.Scopes)
	v.IntrospectionEndpoint = strings.TrimRight(iss, "/") + "/introspect"
	return v, nil
}

// resourcePath is a resource's path: its URI escaped as one segment.
func resourcePath(uri string) string { return "/resources/" + url.PathEscape(uri) }

// remoteResourceCall sends method to one resource (uri) or, with uri
// empty, to /resources, and prints the resource answered.
func (a *app) remoteResourceCall(cmd *cobra.Command, m *manageCmd, method, uri string, body any) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	path := "/resources"
	if uri != "" {
		path = resourcePath(uri)
	}
	var v resourceView
	if err := api.do(cmd.Context(), method, path, body, &v); err != nil {
		return err
	}
	if v, err = api.resourceView(cmd.Context(), v); err != nil {
		return err
	}
	return m.printResource(cmd, v)
}

func (a *app) remoteListResources(cmd *cobra.Command, m *manageCmd) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	list, err := all[resourceView](cmd.Context(), api, "/resources")
	if err != nil {
		return err
	}
	views := make([]resourceView, len(list))
	for i, v := range list {
		if views[i], err = api.resourceView(cmd.Context(), v); err != nil {
			return err
		}
	}
	return m.printResources(cmd, views)
}

// remoteUpdateResource reads the resource and replaces its name and
// scopes with the flags given (the API's PUT replaces both).
func (a *app) remoteUpdateResource(cmd *cobra.Command, m *manageCmd, uri, name string, scopes []string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	var v resourceView
	if err := api.do(cmd.Context(), http.MethodGet, resourcePath(uri), nil, &v); err != nil {
		return err
	}
	if cmd.Flags().Changed("name") {
		v.Name = strings.TrimSpace(name)
	}
	if cmd.Flags().Changed("scope") {
		v.Scopes = cleanList(scopes, true)
	}
	return a.remoteResourceCall(cmd, m, http.MethodPut, uri, map[string]any{"name": v.Name, "scopes": nonNil(v.Scopes)})
}

func (a *app) remoteDeleteResource(cmd *cobra.Command, m *manageCmd, uri string) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	if err := api.do(cmd.Context(), http.MethodDelete, resourcePath(uri), nil, nil); err != nil {
		return err
	}
	return printDeletedResource(cmd, m, uri)
}
