// Command badtarget is a scrape target that misbehaves, for
// tests/e2e/scrape.sh. It serves:
//
//	/slow    never answers (until the client gives up)
//	/huge    an endless body
//	/html    an HTML page with status 200
//	/loop    a redirect to itself
//	(anything else outside /debug/pprof/ and /auth/ is a 404)
//	/debug/pprof/...  net/http/pprof with block and mutex profiling left
//	                  off, so those two profiles are valid but empty
//	/auth/debug/pprof/heap  the heap profile, only with basic auth u:p or
//	                  the bearer token "tok", and only with ?gc=1
//
// With -tls-cert FILE it also serves all this over TLS on a second port,
// with a self-signed certificate for "profefe.test" only (not its address, so
// a client must verify that name: tls_config.server_name) that it
// writes to FILE (PEM) for the scraper's ca_file.
//
// It prints "serving on http://ADDR/" (and "serving tls on https://ADDR/")
// once listening. Standard library only.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"log"
	"math/big"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: any free port)")
	certOut := flag.String("tls-cert", "", "also serve TLS; write the self-signed certificate here")
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
	http.HandleFunc("/auth/debug/pprof/heap", func(w http.ResponseWriter, r *http.Request) {
		u, p, basic := r.BasicAuth()
		if !(basic && u == "u" && p == "p") && r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("gc") != "1" {
			http.Error(w, "want gc=1 (params)", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		pprof.Lookup("heap").WriteTo(w, 0)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	log.Printf("serving on http://%s/", ln.Addr())
	if *certOut != "" {
		cert, err := selfSigned(*certOut)
		if err != nil {
			log.Fatalf("certificate: %v", err)
		}
		tln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			log.Fatalf("listen tls: %v", err)
		}
		log.Printf("serving tls on https://%s/", tln.Addr())
		go func() { log.Fatal(http.Serve(tln, nil)) }()
	}
	log.Fatal(http.Serve(ln, nil))
}

// selfSigned makes a certificate for profefe.test and writes
// it (PEM) to path.
func selfSigned(path string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "profefe.test"},
		DNSNames:              []string{"profefe.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, pemBytes, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
