package oauth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestRFC9101_4_RequestObjectClaimsBecomeParameters: each claim becomes
// the parameter the same request would have as a query; JWT claims are
// not parameters; shapes no parameter has are refused.
func TestRFC9101_4_RequestObjectClaimsBecomeParameters(t *testing.T) {
	raw := `{"iss":"c","aud":"https://as","exp":1,"nbf":0,"iat":0,"jti":"j","sub":"c",
		"response_type":"code","max_age":3600,"state":"","nonce":null,
		"claims":{ "id_token": {"email": {"essential": true}} },
		"resource":["https://a.example","https://b.example"]}`
	var claims map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &claims); err != nil {
		t.Fatal(err)
	}
	q, err := requestObjectParams(claims)
	if err != nil {
		t.Fatal(err)
	}
	want := params{
		"response_type": "code", "max_age": "3600",
		"claims":   `{"id_token":{"email":{"essential":true}}}`,
		"resource": "https://a.example\nhttps://b.example",
	}
	if fmt.Sprint(q) != fmt.Sprint(want) {
		t.Fatalf("params %v, want %v", q, want)
	}
	for name, body := range map[string]string{
		"RFC9101_4/request_inside":      `{"request":"x"}`,
		"RFC9101_4/request_uri_inside":  `{"request_uri":"x"}`,
		"a_fraction":                    `{"max_age":1.5}`,
		"a_boolean":                     `{"prompt":true}`,
		"an_object_that_is_not_claims":  `{"scope":{"a":1}}`,
		"an_array_that_is_not_resource": `{"scope":["a","b"]}`,
		"resource_array_of_numbers":     `{"resource":[1,2]}`,
		"resource_with_a_line_break":    `{"resource":["https://a.example\nx"]}`,
	} {
		var c map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			t.Fatal(err)
		}
		if q, err := requestObjectParams(c); err == nil {
			t.Errorf("%s: accepted as %v", name, q)
		}
	}
	many := map[string]json.RawMessage{}
	for i := range maxParamCount + 1 {
		many[fmt.Sprintf("p%d", i)] = json.RawMessage(`"v"`)
	}
	if _, err := requestObjectParams(many); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("%d claims: %v", len(many), err)
	}
}

// FuzzRequestObjectParams: no claims object makes the conversion panic,
// and whatever it accepts survives the round trip through the pushed
// request's encoding (encodeParams, parseParams) unchanged.
func FuzzRequestObjectParams(f *testing.F) {
	f.Add(`{"scope":"a b","max_age":10,"resource":["https://a"],"claims":{"userinfo":{}}}`)
	f.Add(`{"resource":"https://a","nonce":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		var c map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &c) != nil {
			return
		}
		q, err := requestObjectParams(c)
		if err != nil {
			return
		}
		back, _, e := parseParams(encodeParams(q))
		if e != nil || fmt.Sprint(back) != fmt.Sprint(q) {
			t.Fatalf("%v did not survive the round trip: %v (%v)", q, back, e)
		}
	})
}
