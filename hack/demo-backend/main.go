// Command demo-backend is the application behind the demo, the end-to-end tests and
// the benchmarks: like the Flask app of the classic nginx sticky-session demos, it
// counts visits per client session in its own memory, so the count only climbs while
// the client keeps landing on the same server.
//
//	GET /        -> "server: backend-1 | visits: 3"
//	GET /health  -> "ok"
//	GET /reset   -> forgets the caller's session
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

const sessionCookie = "demo_session"

type app struct {
	name   string
	mu     sync.Mutex
	visits map[string]int
}

// session identifies the client: the X-User-Id header when present (header affinity),
// else the app's own session cookie, issued on first visit.
func (a *app) session(w http.ResponseWriter, r *http.Request) string {
	if id := r.Header.Get("X-User-Id"); id != "" {
		return "user:" + id
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		return c.Value
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true})
	return id
}

func (a *app) serveHTTP(w http.ResponseWriter, r *http.Request) {
	id := a.session(w, r)
	a.mu.Lock()
	a.visits[id]++
	n := a.visits[id]
	a.mu.Unlock()
	w.Header().Set("X-Server-Id", a.name)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "server: %s | visits: %d\n", a.name, n)
}

func (a *app) reset(w http.ResponseWriter, r *http.Request) {
	id := a.session(w, r)
	a.mu.Lock()
	delete(a.visits, id)
	a.mu.Unlock()
	fmt.Fprintln(w, "session reset")
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	name := flag.String("name", "backend-1", "server id shown in responses")
	stateless := flag.Bool("stateless", false, "answer every request with \"server: NAME\", counting nothing and allocating nothing (for benchmarks: stateless.go)")
	flag.Parse()
	if *stateless {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("%s listening on %s (stateless)", *name, *listen)
		log.Fatal(serveStateless(ln, *name))
	}
	a := &app{name: *name, visits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", a.serveHTTP)
	mux.HandleFunc("/reset", a.reset)
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("%s listening on %s", *name, *listen)
	log.Fatal(srv.ListenAndServe())
}
