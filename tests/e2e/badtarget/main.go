// Command badtarget is a scrape target that misbehaves, for
// tests/e2e/scrape.sh. It serves:
//
//	/slow    never answers (until the client gives up)
//	/huge    an endless body
//	/html    an HTML page with status 200
//	/loop    a redirect to itself
//	(anything else outside /debug/pprof/ is a 404)
//	/debug/pprof/...  net/http/pprof with block and mutex profiling left
//	                  off, so those two profiles are valid but empty
//
// It prints "serving on http://ADDR/" once listening. Standard library only.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: any free port)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("badtarget: ")

	http.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Minute):
		}
	})
	http.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1<<14; i++ { // at most 1 GiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	http.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>...</form></body></html>\n"))
	})
	http.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	log.Printf("serving on http://%s/", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
