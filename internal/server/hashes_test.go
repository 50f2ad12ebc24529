package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestRFC6819_5_1_4_1_3_OnlyHashesAreStored runs a full flow and then reads
// every byte of the SQLite database and its WAL: no code, token, client
// secret, password or PKCE verifier may appear in plain text (SECURITY.md T2).
func TestRFC6819_5_1_4_1_3_OnlyHashesAreStored(t *testing.T) {
	// Every t.TempDir of this test, the database's included, shares a parent.
	tmp := filepath.Dir(t.TempDir())
	e := newEnv(t, "sqlite")
	conf := e.oauth2Config(e.web, "notes.read", "offline_access")
	verifier := oauth2.GenerateVerifier()
	loc := e.authorize(e.browser(), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	code := loc.Query().Get("code")
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := refresh(context.Background(), conf, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	err = filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".db") {
			return err
		}
		b, err := os.ReadFile(path)
		dump.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if dump.Len() == 0 {
		t.Fatal("found no database file to inspect")
	}
	for name, plain := range map[string]string{
		"code": code, "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
		"rotated access token": tok2.AccessToken, "rotated refresh token": tok2.RefreshToken,
		"client secret": e.web.secret, "password": testPassword, "code_verifier": verifier,
	} {
		if strings.Contains(dump.String(), plain) {
			t.Errorf("the %s is stored in plain text", name)
		}
	}
}
