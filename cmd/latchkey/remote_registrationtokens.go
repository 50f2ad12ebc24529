package main

import (
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/spf13/cobra"
)

func (a *app) remoteCreateRegistrationToken(cmd *cobra.Command, m *manageCmd, in map[string]any) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	var v admin.RegistrationTokenView
	if err := api.do(cmd.Context(), http.MethodPost, "/registration-tokens", in, &v); err != nil {
		return err
	}
	return m.printRegistrationToken(cmd, v)
}

func (a *app) remoteListRegistrationTokens(cmd *cobra.Command, m *manageCmd) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	list, err := all[admin.RegistrationTokenView](cmd.Context(), api, "/registration-tokens")
	if err != nil {
		return err
	}
	if list == nil {
		list = []admin.RegistrationTokenView{}
	}
	return m.printRegistrationTokens(cmd, list)
}

func (a *app) remoteDeleteRegistrationToken(cmd *cobra.Command, id string, m *manageCmd) error {
	api, err := a.remote(m)
	if err != nil {
		return err
	}
	if err := api.do(cmd.Context(), http.MethodDelete, "/registration-tokens/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	return printDeletedRegistrationToken(cmd, id)
}
