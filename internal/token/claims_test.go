package token

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestRFC7519_4_1_3_Audience: aud is a string for one audience and an
// array otherwise, and reads back from either form.
func TestRFC7519_4_1_3_Audience(t *testing.T) {
	marshal := []struct {
		name string
		aud  Audience
		want string
	}{
		{"one_is_a_string", Audience{"https://notes.example.com"}, `"https://notes.example.com"`},
		{"two_are_an_array", Audience{"a", "b"}, `["a","b"]`},
		{"none_is_an_empty_array", nil, `[]`},
		{"empty_is_an_empty_array", Audience{}, `[]`},
		{"escaped", Audience{`"<x>"`}, `"\"\u003cx\u003e\""`},
	}
	for _, tc := range marshal {
		t.Run("marshal/"+tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.aud)
			if err != nil || string(b) != tc.want {
				t.Errorf("Marshal(%q) = %s, %v; want %s", tc.aud, b, err, tc.want)
			}
		})
	}
	unmarshal := []struct {
		name, in string
		want     Audience
		ok       bool
	}{
		{"string", `"a"`, Audience{"a"}, true},
		{"array", `["a","b"]`, Audience{"a", "b"}, true},
		{"array_of_one", `["a"]`, Audience{"a"}, true},
		{"empty_array", `[]`, Audience{}, true},
		{"null", `null`, nil, true},
		{"number", `1`, nil, false},
		{"object", `{"a":1}`, nil, false},
		{"array_of_numbers", `[1]`, nil, false},
		{"bool", `true`, nil, false},
	}
	for _, tc := range unmarshal {
		t.Run("unmarshal/"+tc.name, func(t *testing.T) {
			var c struct {
				Aud Audience `json:"aud"`
			}
			err := json.Unmarshal([]byte(`{"aud":`+tc.in+`}`), &c)
			if (err == nil) != tc.ok {
				t.Fatalf("Unmarshal(%s) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if tc.ok && !reflect.DeepEqual(c.Aud, tc.want) {
				t.Errorf("Unmarshal(%s) = %#v, want %#v", tc.in, c.Aud, tc.want)
			}
		})
	}
	if !(Audience{"a", "b"}).Contains("b") || (Audience{"a"}).Contains("A") || Audience(nil).Contains("") {
		t.Error("Contains is wrong")
	}
}

// TestRFC9068_2_2_AccessClaims: the claim names of RFC 9068 §2.2, optional
// ones omitted when empty.
func TestRFC9068_2_2_AccessClaims(t *testing.T) {
	c := AccessClaims{Issuer: "https://as", Subject: "u", Audience: Audience{"rs"}, ClientID: "c", Expiry: 2, IssuedAt: 1, JTI: "j"}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"iss":"https://as","sub":"u","aud":"rs","client_id":"c","exp":2,"iat":1,"jti":"j"}`; string(b) != want {
		t.Errorf("minimal claims = %s\nwant %s", b, want)
	}
	c.Scope, c.NotBefore, c.AuthTime, c.GrantID, c.Audience = "a b", 1, 1, "g", Audience{"rs1", "rs2"}
	b, _ = json.Marshal(c)
	want := `{"iss":"https://as","sub":"u","aud":["rs1","rs2"],"client_id":"c","scope":"a b","exp":2,"iat":1,"nbf":1,"jti":"j","auth_time":1,"lk_gid":"g"}`
	if string(b) != want {
		t.Errorf("full claims = %s\nwant %s", b, want)
	}
	var back AccessClaims
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}
