// Command hotapp is a small Go service with a workload worth profiling, for
// trying profefe: CPU-bound request handlers (with goroutine labels), a
// cache whose live heap grows and shrinks, goroutines blocked on channels,
// and a contended mutex. It serves net/http/pprof, so profefe can scrape it,
// and can push its own profiles to profefe's /api/0 as well. With -drift the
// workers' request mix drifts over time (bench/corpus.sh runs three of them).
//
//	go build -o hotapp .
//	./hotapp -addr 127.0.0.1:6060
//	./hotapp -push http://127.0.0.1:10100 -service hotapp -labels env=dev
//
// Standard library only.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand"
	"net"
	"net/http"
	_ "net/http/pprof" // the /debug/pprof/ handlers profefe scrapes
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		addr         = flag.String("addr", "127.0.0.1:6060", "address of the HTTP server with /debug/pprof/ (port 0: any free port)")
		workers      = flag.Int("workers", 2, "CPU-bound request workers")
		load         = flag.Float64("load", 0.2, "share of one core each worker keeps busy (0..1)")
		cacheMiB     = flag.Int("cache-mib", 32, "peak size of the in-memory cache; the live heap swings between a quarter of it and all of it")
		background   = flag.Float64("background", 1, "pace of the background work (cache churn, pipeline, lock contention) against its design (1); tests that only need its profiles to be there run it at 0.1")
		blockRate    = flag.Int("block-rate", 10000, "runtime.SetBlockProfileRate: sample one blocking event per this many nanoseconds blocked")
		mutexFrac    = flag.Int("mutex-fraction", 5, "runtime.SetMutexProfileFraction: sample 1 in this many contention events")
		duration     = flag.Duration("duration", 0, "exit after this long (0: run until SIGINT/SIGTERM)")
		push         = flag.String("push", "", "profefe base URL to push profiles to, e.g. http://127.0.0.1:10100 (empty: no push)")
		service      = flag.String("service", "hotapp", "service name for pushed profiles")
		labels       = flag.String("labels", "", "labels for pushed profiles: k=v,k=v")
		pushInterval = flag.Duration("push-interval", 10*time.Second, "time between two pushes of every profile type")
		pushCPU      = flag.Duration("push-cpu", 2*time.Second, "length of each pushed CPU profile")
		drift        = flag.Duration("drift", 0, "drift the request mix: each worker request picks one of several handlers, with weights (and a recursion depth) that go round once per this period (0: the fixed checkout+search mix)")
		driftPhase   = flag.Float64("drift-phase", 0, "with -drift: where in the period this process starts (0..1), so that instances differ")
	)
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("hotapp: ")

	runtime.SetBlockProfileRate(*blockRate)
	runtime.SetMutexProfileFraction(*mutexFrac)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	if *background <= 0 || *background > 1 {
		log.Fatalf("-background %g: want a pace in (0, 1]", *background)
	}
	app := newApp(*cacheMiB)
	app.pace = *background
	app.drift, app.driftPhase = *drift, *driftPhase
	http.HandleFunc("/", app.index)
	http.HandleFunc("/checkout", app.checkoutHandler)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("serve: %v", err)
		}
	}()
	// Tests read the port from this line.
	log.Printf("serving pprof on http://%s/debug/pprof/", ln.Addr())

	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	for i := 0; i < *workers; i++ {
		id := i
		start(func(ctx context.Context) { app.worker(ctx, id, *load) })
	}
	start(app.cacheLoop)
	start(app.pipeline)
	start(app.contention)
	start(app.subscribers)
	if *push != "" {
		p, err := newPusher(*push, *service, *labels, *pushCPU)
		if err != nil {
			log.Fatalf("-push: %v", err)
		}
		start(func(ctx context.Context) { p.loop(ctx, *pushInterval) })
	}

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	wg.Wait()
	log.Printf("stopped after %d checkouts", app.checkouts.Load())
}

type app struct {
	checkouts atomic.Int64

	pace float64 // -background: the background's waits are divided by it

	drift      time.Duration // 0: the fixed mix
	driftPhase float64

	cacheMu   sync.Mutex
	cache     map[int][]byte
	cacheSize int
	cachePeak int

	statsMu sync.Mutex // the contended mutex
	stats   map[string]int
}

func newApp(cacheMiB int) *app {
	return &app{cache: map[int][]byte{}, cachePeak: cacheMiB << 20, stats: map[string]int{}}
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	fmt.Fprintf(w, "hotapp: %d checkouts so far; profiles under /debug/pprof/\n", a.checkouts.Load())
}

func (a *app) checkoutHandler(w http.ResponseWriter, r *http.Request) {
	var sum [32]byte
	pprof.Do(r.Context(), pprof.Labels("handler", "checkout", "source", "http"), func(context.Context) {
		sum = checkout(rand.New(rand.NewSource(time.Now().UnixNano())))
	})
	a.checkouts.Add(1)
	fmt.Fprintf(w, "order %x\n", sum[:8])
}

// checkout is the CPU-bound part of a request: price a basket, sort it,
// and sign the result.
func checkout(rng *rand.Rand) [32]byte {
	type item struct {
		sku   string
		price float64
		qty   int
	}
	items := make([]item, 500+rng.Intn(1500))
	for i := range items {
		items[i] = item{sku: "sku-" + strconv.Itoa(rng.Intn(1e6)), price: rng.Float64() * 100, qty: 1 + rng.Intn(5)}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].sku < items[j].sku })
	var total float64
	for _, it := range items {
		total += it.price * float64(it.qty) * (1 + 0.2*math.Sin(it.price))
	}
	var b strings.Builder
	for _, it := range items[:50] {
		b.WriteString(it.sku)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%.2f", b.String(), total)))
	for i := 0; i < 200; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return sum
}

func search(rng *rand.Rand) int {
	words := make([]string, 2000)
	for i := range words {
		words[i] = strings.Repeat(string(rune('a'+rng.Intn(26))), 1+rng.Intn(12))
	}
	n := 0
	for _, w := range words {
		if strings.Contains(w, "eee") || strings.HasPrefix(w, "q") {
			n++
		}
	}
	return n
}

// worker keeps `load` of a core busy with labelled requests.
func (a *app) worker(ctx context.Context, id int, load float64) {
	if load <= 0 {
		return
	}
	if load > 1 {
		load = 1
	}
	rng := rand.New(rand.NewSource(int64(id) + time.Now().UnixNano()))
	labels := pprof.Labels("worker", strconv.Itoa(id))
	start := time.Now()
	for ctx.Err() == nil {
		t0 := time.Now()
		pprof.Do(ctx, labels, func(ctx context.Context) {
			if a.drift > 0 {
				h, depth := driftPick(rng, a.driftPhase+time.Since(start).Seconds()/a.drift.Seconds())
				pprof.Do(ctx, pprof.Labels("handler", h.name), func(context.Context) { h.run(rng, depth) })
				return
			}
			pprof.Do(ctx, pprof.Labels("handler", "checkout"), func(context.Context) { checkout(rng) })
			pprof.Do(ctx, pprof.Labels("handler", "search"), func(context.Context) { search(rng) })
		})
		a.checkouts.Add(1)
		busy := time.Since(t0)
		idle := time.Duration(float64(busy) * (1 - load) / load)
		select {
		case <-ctx.Done():
		case <-time.After(idle):
		}
	}
}

// ---- the drifting request mix (-drift) ----

type handler struct {
	name string
	run  func(rng *rand.Rand, depth int)
}

var driftHandlers = []handler{
	{"checkout", func(rng *rand.Rand, _ int) { checkout(rng) }},
	{"search", func(rng *rand.Rand, _ int) { search(rng) }},
	{"render", func(rng *rand.Rand, depth int) { _ = render(rng, depth) }},
	{"report", func(rng *rand.Rand, depth int) { _ = report(rng, depth) }},
	{"compress", func(rng *rand.Rand, depth int) { _ = compressPage(rng, depth) }},
}

// driftPick picks a handler at point x of the drift (in periods): handler
// i's weight is 1+cos(2*pi*(x-i/n)), so each has its turn as the main one,
// and the recursion depth (1..5) follows a wave of its own, so the stacks
// the heap profile sees change over time.
func driftPick(rng *rand.Rand, x float64) (handler, int) {
	n := len(driftHandlers)
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		w[i] = 1.05 + math.Cos(2*math.Pi*(x-float64(i)/float64(n)))
		sum += w[i]
	}
	depth := 1 + int(4.99*(0.5+0.5*math.Sin(2*math.Pi*x*1.7)))
	r := rng.Float64() * sum
	for i := range w {
		if r < w[i] {
			return driftHandlers[i], depth
		}
		r -= w[i]
	}
	return driftHandlers[n-1], depth
}

// render builds a page of nested sections, depth levels deep.
func render(rng *rand.Rand, depth int) string {
	var b strings.Builder
	renderSection(&b, rng, depth)
	return b.String()
}

func renderSection(b *strings.Builder, rng *rand.Rand, depth int) {
	fmt.Fprintf(b, "<section id=%q>", "s"+strconv.Itoa(rng.Intn(1e6)))
	for i := 0; i < 20+rng.Intn(40); i++ {
		fmt.Fprintf(b, "<p>%s %d</p>", strings.Repeat("lorem ", 1+rng.Intn(20)), rng.Int())
	}
	if depth > 1 {
		for i := 0; i < 2; i++ {
			renderSection(b, rng, depth-1)
		}
	}
	b.WriteString("</section>")
}

// report aggregates random events into a map and sorts its keys; each
// level of depth adds a finer breakdown.
func report(rng *rand.Rand, depth int) []string {
	agg := map[string][]int{}
	for i := 0; i < 3000; i++ {
		k := "region-" + strconv.Itoa(rng.Intn(8))
		for d := 1; d < depth; d++ {
			k += "/" + strconv.Itoa(rng.Intn(4))
		}
		agg[k] = append(agg[k], rng.Intn(1000))
	}
	return reportKeys(agg)
}

func reportKeys(agg map[string][]int) []string {
	keys := make([]string, 0, len(agg))
	for k, v := range agg {
		sort.Ints(v)
		keys = append(keys, fmt.Sprintf("%s p50=%d", k, v[len(v)/2]))
	}
	sort.Strings(keys)
	return keys
}

// compressPage renders a page and gzips it.
func compressPage(rng *rand.Rand, depth int) int {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = io.WriteString(zw, render(rng, depth))
	_ = zw.Close()
	return buf.Len()
}

// wait scales one of the background's waits by -background.
func (a *app) wait(d time.Duration) time.Duration {
	return time.Duration(float64(d) / a.pace)
}

// cacheLoop keeps a cache whose target size follows a slow wave, so the
// live heap moves between profiles: entries are added, and random ones
// evicted when over the target.
func (a *app) cacheLoop(ctx context.Context) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t0 := time.Now()
	next := 0
	tick := time.NewTicker(a.wait(5 * time.Millisecond))
	defer tick.Stop()
	pprof.Do(ctx, pprof.Labels("component", "cache"), func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			phase := math.Sin(2 * math.Pi * time.Since(t0).Seconds() / 60)
			target := int(float64(a.cachePeak) * (0.625 + 0.375*phase))
			a.cacheMu.Lock()
			for i := 0; i < 8; i++ {
				v := make([]byte, 1024+rng.Intn(64<<10))
				v[0] = byte(i)
				a.cache[next] = v
				a.cacheSize += len(v)
				next++
			}
			for k, v := range a.cache { // map order is random: random eviction
				if a.cacheSize <= target {
					break
				}
				a.cacheSize -= len(v)
				delete(a.cache, k)
			}
			a.cacheMu.Unlock()
		}
	})
}

// pipeline: a producer feeds slow consumers through an unbuffered
// channel, so both sides spend time blocked (the block profile).
func (a *app) pipeline(ctx context.Context) {
	jobs := make(chan int)
	results := make(chan int, 4)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("component", "pipeline", "stage", "consume"), func(ctx context.Context) {
			defer wg.Done()
			for j := range jobs {
				time.Sleep(a.wait(time.Duration(1+j%3) * time.Millisecond))
				select {
				case results <- j:
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-results:
			case <-ctx.Done():
				return
			}
		}
	}()
	for i := 0; ctx.Err() == nil; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
}

// contention: goroutines update shared stats under one mutex, holding it
// long enough to contend (the mutex profile).
func (a *app) contention(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		key := "shard-" + strconv.Itoa(i)
		go pprof.Do(ctx, pprof.Labels("component", "stats"), func(ctx context.Context) {
			defer wg.Done()
			for ctx.Err() == nil {
				a.statsMu.Lock()
				a.stats[key]++
				spin := time.Now().Add(20 * time.Microsecond)
				for time.Now().Before(spin) {
				}
				a.statsMu.Unlock()
				time.Sleep(a.wait(500 * time.Microsecond))
			}
		})
	}
	wg.Wait()
}

// subscribers: idle goroutines parked on a channel that only closes at
// shutdown (they fill the goroutine profile).
func (a *app) subscribers(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
		}()
	}
	wg.Wait()
}

// ---- push to profefe ----

type pusher struct {
	base    string
	service string
	labels  string
	cpu     time.Duration
	client  *http.Client
}

func newPusher(base, service, labels string, cpu time.Duration) (*pusher, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", base)
	}
	if service == "" {
		return nil, errors.New("-service is empty")
	}
	return &pusher{base: strings.TrimRight(base, "/"), service: service, labels: labels, cpu: cpu,
		client: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (p *pusher) loop(ctx context.Context, every time.Duration) {
	for {
		p.pushAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (p *pusher) pushAll(ctx context.Context) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		log.Printf("push cpu: %v", err) // e.g. a scrape holds the CPU profiler
	} else {
		select {
		case <-ctx.Done():
		case <-time.After(p.cpu):
		}
		pprof.StopCPUProfile()
		p.push(ctx, "cpu", buf.Bytes())
	}
	for _, t := range []string{"heap", "allocs", "block", "mutex", "goroutine", "threadcreate"} {
		buf.Reset()
		if err := pprof.Lookup(t).WriteTo(&buf, 0); err != nil {
			log.Printf("push %s: %v", t, err)
			continue
		}
		p.push(ctx, t, buf.Bytes())
	}
}

func (p *pusher) push(ctx context.Context, typ string, body []byte) {
	q := url.Values{"service": {p.service}, "type": {typ}}
	if p.labels != "" {
		q.Set("labels", p.labels)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/0/profiles?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		log.Printf("push %s: %v", typ, err)
		return
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			log.Printf("push %s: %v", typ, err)
		}
		return
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		log.Printf("push %s: %s: %s", typ, resp.Status, strings.TrimSpace(string(reply)))
	}
}
