package oidc

import (
	"errors"
	"slices"
	"strings"
)

// Prompt values (Core §3.1.2.1).
const (
	PromptNone          = "none"
	PromptLogin         = "login"
	PromptConsent       = "consent"
	PromptSelectAccount = "select_account"
)

// Prompt is a parsed prompt parameter.
type Prompt []string

// ParsePrompt checks a prompt parameter: space-separated known values, none
// alone ("If this parameter contains none with any other value, an error is
// returned", Core §3.1.2.1).
func ParsePrompt(raw string) (Prompt, error) {
	var out Prompt
	for _, v := range strings.Fields(raw) {
		switch v {
		case PromptNone, PromptLogin, PromptConsent, PromptSelectAccount:
		default:
			return nil, errors.New("unknown prompt value")
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if slices.Contains(out, PromptNone) && len(out) > 1 {
		return nil, errors.New("prompt=none cannot be combined with other values")
	}
	return out, nil
}

// Has reports whether the prompt contains v.
func (p Prompt) Has(v string) bool { return slices.Contains(p, v) }

// String is the canonical form stored with a request.
func (p Prompt) String() string { return strings.Join(p, " ") }

// Display values (Core §3.1.2.1); Latchkey's pages suit them all.
var displayValues = []string{"page", "popup", "touch", "wap"}

// ValidDisplay reports whether d is empty or a defined display value.
func ValidDisplay(d string) bool { return d == "" || slices.Contains(displayValues, d) }
