package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// userView is a user as the API answers it: never the password hash.
type userView struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	Name          string     `json:"name,omitempty"`
	Email         string     `json:"email,omitempty"`
	EmailVerified bool       `json:"email_verified"`
	Disabled      bool       `json:"disabled"`
	DisabledAt    *time.Time `json:"disabled_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

func newUserView(u store.User) userView {
	v := userView{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if !u.DisabledAt.IsZero() {
		v.Disabled, v.DisabledAt = true, &u.DisabledAt
	}
	return v
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ caller) {
	// Paged by username, the order the store lists them in.
	listPage(a, w, r, "users", a.o.Store.ListUsers, func(u store.User) string { return u.Username }, newUserView)
}

func (a *API) user(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	return lookup(a, w, r, "user", "no user with this id", a.o.Store.GetUser, r.PathValue("id"))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ caller) {
	if u, ok := a.user(w, r); ok {
		writeJSON(w, http.StatusOK, newUserView(u))
	}
}

type userInput struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// createUser creates a user with the password given (never answered).
func (a *API) createUser(w http.ResponseWriter, r *http.Request, who caller) {
	var in userInput
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	var errs []error
	if err := config.ValidateUsername(in.Username); err != nil {
		errs = append(errs, errors.New("username: "+err.Error()))
	}
	if err := oauth.CheckPassword(in.Password); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, oauth.ValidateEmail(in.Email), oauth.ValidateName(in.Name))
	if in.EmailVerified && in.Email == "" {
		errs = append(errs, errors.New("email_verified needs an email"))
	}
	if err := errors.Join(errs...); err != nil {
		writeProblem(w, invalid("user", err))
		return
	}
	now := a.o.Now()
	u := store.User{ID: secret.RandomString(16), Username: in.Username, PasswordHash: secret.HashPassword(in.Password),
		Name: in.Name, Email: in.Email, EmailVerified: in.EmailVerified, CreatedAt: now, UpdatedAt: now}
	if err := a.o.Store.CreateUser(r.Context(), u); errors.Is(err, store.ErrConflict) {
		writeProblem(w, conflict("a user with this username exists"))
		return
	} else if err != nil {
		a.serverError(w, r, "create user", err)
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventUserChanged, UserID: u.ID, Detail: "created"})
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, newUserView(u))
}

// userPatch changes the fields it names (JSON merge patch, RFC 7396,
// of the profile fields). Disabled true disables the account: the user
// can no longer sign in, their sessions end and their grants are revoked
// (with every token); false enables it again (nothing revoked comes back).
type userPatch struct {
	Name          *string `json:"name"`
	Email         *string `json:"email"`
	EmailVerified *bool   `json:"email_verified"`
	Disabled      *bool   `json:"disabled"`
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, who caller) {
	var in userPatch
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	u, ok := a.user(w, r)
	if !ok {
		return
	}
	if in.Name != nil {
		u.Name = strings.TrimSpace(*in.Name)
	}
	if in.Email != nil {
		if *in.Email != u.Email {
			u.EmailVerified = false
		}
		u.Email = *in.Email
	}
	if in.EmailVerified != nil {
		u.EmailVerified = *in.EmailVerified
	}
	errs := []error{oauth.ValidateEmail(u.Email), oauth.ValidateName(u.Name)}
	if u.EmailVerified && u.Email == "" {
		errs = append(errs, errors.New("email_verified needs an email"))
	}
	if err := errors.Join(errs...); err != nil {
		writeProblem(w, invalid("user", err))
		return
	}
	u.UpdatedAt = a.o.Now()
	if err := a.o.Store.UpdateUser(r.Context(), u); err != nil {
		a.serverError(w, r, "update user", err)
		return
	}
	detail := "updated"
	if in.Disabled != nil {
		var changed bool
		var err error
		if u, changed, err = oauth.SetDisabled(r.Context(), a.o.Store, u.ID, *in.Disabled, a.o.Now()); err != nil {
			a.serverError(w, r, "disable user", err)
			return
		}
		if changed && *in.Disabled {
			detail = "disabled"
		} else if changed {
			detail = "enabled"
		}
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventUserChanged, UserID: u.ID, Detail: detail})
	writeJSON(w, http.StatusOK, newUserView(u))
}

// deleteUser removes a user with their grants, tokens and sessions.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, who caller) {
	id := r.PathValue("id")
	if !a.storeOK(w, r, "delete user", "no user with this id", a.o.Store.DeleteUser(r.Context(), id)) {
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventUserChanged, UserID: id, Detail: "deleted"})
	w.WriteHeader(http.StatusNoContent)
}

// resetPassword sets a new password and ends every session of the user:
// whoever knew the old one is signed out.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request, who caller) {
	var in struct {
		Password string `json:"password"`
	}
	if p := readJSON(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	if err := oauth.CheckPassword(in.Password); err != nil {
		writeProblem(w, invalid("password", err))
		return
	}
	u, ok := a.user(w, r)
	if !ok {
		return
	}
	u.PasswordHash, u.UpdatedAt = secret.HashPassword(in.Password), a.o.Now()
	if err := a.o.Store.UpdateUser(r.Context(), u); err != nil {
		a.serverError(w, r, "update user", err)
		return
	}
	n, err := a.o.Store.DeleteUserSessions(r.Context(), u.ID)
	if err != nil {
		a.serverError(w, r, "delete sessions", err)
		return
	}
	// The user sees it on the account page, as the command line records it.
	if err := a.o.Store.AddActivity(r.Context(), []store.Activity{{UserID: u.ID, Kind: store.ActivityPassword,
		Detail: "set by an administrator", At: a.o.Now()}}); err != nil {
		a.serverError(w, r, "record activity", err)
		return
	}
	a.audit(r.Context(), who, audit.Event{Name: audit.EventPasswordChanged, UserID: u.ID, Detail: "reset by an administrator"})
	writeJSON(w, http.StatusOK, struct {
		SessionsEnded int `json:"sessions_ended"`
	}{n})
}
