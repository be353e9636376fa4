package conformance

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveOn serves h on a loopback server speaking tr and returns its base
// URL. The server logs to a buffer of its own; t.Cleanup closes the server
// (waiting for its handlers), then fails the test if net/http logged a
// defect of the handler (a superfluous WriteHeader call, a panic that
// reached net/http) and logs anything else the server logged (an adapter
// reporting a recovered panic, say) with t.Logf.
func serveOn(t testing.TB, tr Transport, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	logs := new(logBuffer)
	srv.Config.ErrorLog = log.New(logs, "", 0)
	switch tr {
	case HTTP1:
		srv.Start()
	case H2:
		srv.EnableHTTP2 = true
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{testCert().cert}}
		srv.StartTLS()
	case H2C:
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = p
		srv.Start()
	default:
		srv.Close()
		t.Fatalf("conformance: unknown transport %q", tr)
	}
	t.Cleanup(func() {
		srv.Close()
		l := strings.TrimSpace(logs.String())
		switch {
		case l == "":
		case strings.Contains(l, "superfluous response.WriteHeader") || strings.Contains(l, "http: panic serving") ||
			strings.Contains(l, "http2: panic serving"):
			t.Errorf("conformance: net/http (%s) logged a defect of the handler:\n%s", tr, indent(shorten(l, 4000), "    "))
		default:
			t.Logf("conformance: the %s server logged:\n%s", tr, indent(shorten(l, 2000), "    "))
		}
	})
	return srv.URL
}

// newTransport returns a client transport that speaks tr only (a response
// over another protocol is an error), trusts the suite's certificate, asks
// for no compression and uses no proxy. Its idle connections are the
// caller's to close.
func newTransport(tr Transport) *http.Transport {
	t := &http.Transport{
		Proxy:              nil,
		DialContext:        (&net.Dialer{Timeout: DefaultTimeout}).DialContext,
		DisableCompression: true,
		MaxIdleConns:       10,
		IdleConnTimeout:    DefaultTimeout,
		// Headers leave before the first event (see the
		// headers-before-first-event scenario), so a stream whose headers
		// are late fails fast.
		ResponseHeaderTimeout: HeaderTimeout,
	}
	p := new(http.Protocols)
	switch tr {
	case H2:
		p.SetHTTP2(true)
		t.TLSClientConfig = &tls.Config{RootCAs: testCert().pool}
	case H2C:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	t.Protocols = p
	return t
}

// protoMajor is the major HTTP version a response over tr has.
func protoMajor(tr Transport) int {
	if tr == H2 || tr == H2C {
		return 2
	}
	return 1
}

// suiteCert is the certificate of the suite's TLS servers and the pool its
// clients trust.
type suiteCert struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// testCert returns a self-signed ECDSA certificate for 127.0.0.1, ::1 and
// localhost, made once per process.
var testCert = sync.OnceValue(func() suiteCert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("conformance: generating a test key: " + err.Error())
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"ssekit conformance"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("conformance: making a test certificate: " + err.Error())
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic("conformance: parsing the test certificate: " + err.Error())
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return suiteCert{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool: pool}
})

// logBuffer collects a server's log output from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
