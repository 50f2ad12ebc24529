package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment override.
const EnvPrefix = "LATCHKEY_"

// Load returns the configuration: Default(), then the YAML file at path (if
// path is not empty), then the LATCHKEY_* environment variables. Command-line
// flags, applied by the caller, come last.
func Load(path string) (Config, error) {
	return LoadWith(path, os.LookupEnv)
}

// LoadWith is Load with the environment read through lookupEnv (os.LookupEnv
// in production, a map in tests).
//
// The file is decoded strictly: an unknown key is an error that names it, so
// a typo never silently falls back to a default. Every scalar key is also
// settable as LATCHKEY_<SECTION>_<KEY> (for example LATCHKEY_ISSUER,
// LATCHKEY_TOKENS_ACCESS_TOKEN_TTL); lists (scopes, clients, users) are
// file-only. A variable that is set but empty is ignored. Every malformed
// variable is reported at once.
func LoadWith(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	cfg := Default()
	// Unset until the file and environment are read, so that the default
	// can follow the session.ttl they set (see applyDefaults).
	cfg.Session.IdleTTL = 0
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, prefixEach(path+": ", err)
		}
	}
	if lookupEnv != nil {
		if err := applyEnv(&cfg, lookupEnv); err != nil {
			return Config{}, err
		}
	}
	cfg.applyDefaults()
	return cfg, nil
}

// applyDefaults fills in the keys whose default depends on other keys:
// session.idle_ttl, unset or 0, becomes DefaultIdleTTL, or session.ttl if
// that is shorter (a session idle for its whole life simply expires).
func (c *Config) applyDefaults() {
	if c.Session.IdleTTL == 0 {
		c.Session.IdleTTL = DefaultIdleTTL
		if c.Session.TTL > 0 {
			c.Session.IdleTTL = min(DefaultIdleTTL, c.Session.TTL)
		}
	}
}

// decodeYAML decodes one YAML document into cfg, refusing unknown keys and
// further documents. An empty file leaves cfg unchanged.
func decodeYAML(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return cleanYAMLError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("the file must hold exactly one YAML document")
	}
	return nil
}

// unknownField matches yaml.v3's message for a key KnownFields refuses.
var unknownField = regexp.MustCompile(`^(line \d+): field (\S+) not found in type \S+$`)

// cleanYAMLError turns yaml.v3's multi-line "unmarshal errors" into one
// problem per line, joined, so each is reported on its own, in words about
// the file rather than about Go types.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	errs := make([]error, 0, len(te.Errors))
	for _, e := range te.Errors {
		e = unknownField.ReplaceAllString(e, `$1: unknown key "$2"`)
		if strings.HasSuffix(e, "into time.Duration") {
			e += " (write durations like 90s, 15m or 24h)"
		}
		errs = append(errs, errors.New(e))
	}
	return errors.Join(errs...)
}

// prefixEach prefixes every problem of a joined error, keeping them apart.
func prefixEach(prefix string, err error) error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("%s%w", prefix, err)
	}
	var errs []error
	for _, e := range j.Unwrap() {
		errs = append(errs, fmt.Errorf("%s%w", prefix, e))
	}
	return errors.Join(errs...)
}

// envVar is one scalar configuration key reachable from the environment.
type envVar struct {
	Name  string        // LATCHKEY_TOKENS_CODE_TTL
	Key   string        // tokens.code_ttl
	Value reflect.Value // settable field of the Config
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	stringsType  = reflect.TypeFor[[]string]()
)

// envVars lists the scalar keys and string lists of cfg in declaration
// order, named after their yaml tags. Lists of structures and maps are
// skipped: they are file-only.
func envVars(cfg *Config) []envVar {
	var out []envVar
	var walk func(v reflect.Value, name, key string)
	walk = func(v reflect.Value, name, key string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || tag == "-" || tag == "" {
				continue
			}
			fv := v.Field(i)
			n, k := name+strings.ToUpper(tag), key+tag
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				walk(fv, n+"_", k+".")
			case isScalar(f.Type), f.Type == stringsType:
				out = append(out, envVar{Name: n, Key: k, Value: fv})
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), EnvPrefix, "")
	return out
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// EnvNames returns the name of every environment variable Load reads, in
// the order of the Config struct (for documentation and `--help`).
func EnvNames() []string {
	cfg := Default()
	vars := envVars(&cfg)
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	return names
}

// applyEnv sets every key whose variable is set and not empty.
func applyEnv(cfg *Config, lookupEnv func(string) (string, bool)) error {
	var errs []error
	for _, v := range envVars(cfg) {
		raw, ok := lookupEnv(v.Name)
		if !ok || raw == "" {
			continue
		}
		if err := setScalar(v.Value, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// setScalar parses raw into the field v; a list of strings is
// comma-separated.
func setScalar(v reflect.Value, raw string) error {
	if v.Type() == stringsType {
		var list []string
		for _, item := range strings.Split(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list))
		return nil
	}
	if v.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want for example 90s, 15m or 24h)", raw)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid integer %q", raw)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(raw), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid unsigned integer %q", raw)
		}
		v.SetUint(n)
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}
