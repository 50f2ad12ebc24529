// Package photos is the seeds' photo-album API: a resource server that
// lists a user's photos and serves their images to apps holding
// photos.read. The demo user's photos are generated pictures.
package photos

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/latchkey/latchkey/rs"
)

// ScopeRead lets an app see the user's photos.
const ScopeRead = "photos.read"

// Photo is one picture of a user's album.
type Photo struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Image is the path of its PNG on this API.
	Image string `json:"image"`
	png   []byte
}

// API keeps the albums in memory, per user (the token's subject).
type API struct {
	guard  *rs.Guard
	mu     sync.Mutex
	albums map[string][]Photo
}

// New returns the API behind guard; each subject in seed gets the demo
// album.
func New(guard *rs.Guard, seed []string) *API {
	a := &API{guard: guard, albums: make(map[string][]Photo)}
	for _, sub := range seed {
		a.albums[sub] = DemoAlbum()
	}
	return a
}

// DemoAlbum generates the demo user's photos: a sunset, the sea and a
// meadow, drawn as gradients so the demo needs no image files.
func DemoAlbum() []Photo {
	scenes := []struct {
		title      string
		sky, earth color.RGBA
	}{
		{"Sunset over Lisbon", color.RGBA{250, 140, 60, 255}, color.RGBA{60, 40, 90, 255}},
		{"The beach in May", color.RGBA{120, 190, 240, 255}, color.RGBA{235, 210, 150, 255}},
		{"Grandma's meadow", color.RGBA{170, 215, 250, 255}, color.RGBA{70, 150, 60, 255}},
	}
	album := make([]Photo, len(scenes))
	for i, s := range scenes {
		id := strconv.Itoa(i + 1)
		album[i] = Photo{ID: id, Title: s.title, Width: 480, Height: 320, Image: "/photos/" + id + "/image",
			png: scene(480, 320, s.sky, s.earth, float64(i))}
	}
	return album
}

// scene draws a sky over a horizon with a sun.
func scene(w, h int, sky, earth color.RGBA, seed float64) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	sunX, sunY, sunR := float64(w)*(0.25+0.25*seed), float64(h)*0.35, float64(h)/9
	for y := 0; y < h; y++ {
		horizon := float64(h)*0.62 + 12*math.Sin(float64(y)/40+seed)
		for x := 0; x < w; x++ {
			c := sky
			if float64(y) > horizon+8*math.Sin(float64(x)/35+seed) {
				c = earth
			}
			shade := 1 - 0.35*float64(y)/float64(h)
			c = color.RGBA{uint8(float64(c.R) * shade), uint8(float64(c.G) * shade), uint8(float64(c.B) * shade), 255}
			if math.Hypot(float64(x)-sunX, float64(y)-sunY) < sunR {
				c = color.RGBA{255, 235, 120, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// Handler serves the API and its protected resource metadata (RFC 9728).
func (a *API) Handler() http.Handler {
	read := a.guard.Require(ScopeRead)
	mux := http.NewServeMux()
	mux.Handle("GET /photos", read(http.HandlerFunc(a.list)))
	mux.Handle("GET /photos/{id}/image", read(http.HandlerFunc(a.image)))
	path := "/.well-known/oauth-protected-resource"
	if u, err := url.Parse(a.guard.MetadataURL()); err == nil && u.Path != "" {
		path = u.Path
	}
	mux.Handle("GET "+path, a.guard.MetadataHandler())
	return mux
}

func (a *API) album(r *http.Request) []Photo {
	t, _ := rs.FromContext(r.Context())
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.albums[t.Subject]
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	album := a.album(r)
	if album == nil {
		album = []Photo{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(album)
}

func (a *API) image(w http.ResponseWriter, r *http.Request) {
	album := a.album(r)
	i := slices.IndexFunc(album, func(p Photo) bool { return p.ID == r.PathValue("id") })
	if i < 0 {
		http.Error(w, "no such photo", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(album[i].png)
}
