package oauth

import (
	"strings"
	"unicode"
)

// DescribeDevice names the device or program behind a User-Agent for the
// user's device list ("Firefox on Linux", "Safari on iPhone", "curl"):
// short, printable, never the raw header.
func DescribeDevice(ua string) string {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	browser := firstMatch(ua, []namedMarker{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Version/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client", "a Go program"}, {"okhttp", "an Android app"}, {"python-requests", "a Python program"},
		{"Python-urllib", "a Python program"}, {"node-fetch", "a Node.js program"}, {"undici", "a Node.js program"},
	})
	os := firstMatch(ua, []namedMarker{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"Windows", "Windows"}, {"CrOS", "ChromeOS"},
		{"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"SmartTV", "a TV"}, {"SMART-TV", "a TV"}, {"Tizen", "a TV"},
		{"Web0S", "a TV"}, {"Linux", "Linux"},
	})
	if browser == "" {
		// The first product token, as the program names itself.
		name, _, _ := strings.Cut(strings.TrimSpace(ua), "/")
		name, _, _ = strings.Cut(name, " ")
		browser = printable(name, 40)
	}
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return "a browser on " + os
	}
	return "an unknown device"
}

type namedMarker struct{ marker, name string }

func firstMatch(ua string, markers []namedMarker) string {
	for _, m := range markers {
		if strings.Contains(ua, m.marker) {
			return m.name
		}
	}
	return ""
}

// printable keeps letters, digits and a few marks, at most n of them.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.", r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
