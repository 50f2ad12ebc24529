package main

// The load generator: one goroutine per keep-alive connection, each writing
// a prepared HTTP/1.1 request and reading the answer with a minimal parser,
// so that the generator's own cost per request stays a fraction of the
// server's (net/http's client costs about as much per request as the bare
// reference handler, which would make the generator the bottleneck).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection.
type rawConn struct {
	c    net.Conn
	br   *bufio.Reader
	body []byte
	// location is the Location header of the last response (empty if it
	// had none); valid until the next call.
	location []byte
	// closed: the server answered "Connection: close".
	closed bool
}

func dialRaw(addr string, deadline time.Time) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	// One deadline for the whole run instead of one per request: a hung
	// server still ends the run, and no timer is armed per request.
	c.SetDeadline(deadline)
	return &rawConn{c: c, br: bufio.NewReaderSize(c, 16<<10), body: make([]byte, 0, 4096)}, nil
}

func (c *rawConn) Close() { c.c.Close() }

var errMalformed = errors.New("malformed HTTP response")

// roundTrip writes req and reads one response. The body is valid until the
// next call.
func (c *rawConn) roundTrip(req []byte) (status int, body []byte, err error) {
	if _, err := c.c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, errMalformed
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	length, chunked := -1, false
	c.location = c.location[:0]
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return 0, nil, errMalformed
			}
			length = n
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			c.closed = asciiEqualFold(value, "close")
		case asciiEqualFold(name, "location"):
			c.location = append(c.location, value...)
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		for {
			line, err := c.br.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
			if err != nil {
				return 0, nil, errMalformed
			}
			if size == 0 {
				for { // trailers, then the empty line
					line, err := c.br.ReadSlice('\n')
					if err != nil {
						return 0, nil, err
					}
					if len(line) <= 2 {
						break
					}
				}
				break
			}
			if c.body, err = readN(c.br, c.body, int(size)+2); err != nil {
				return 0, nil, err
			}
			c.body = c.body[:len(c.body)-2]
		}
	case length >= 0:
		if c.body, err = readN(c.br, c.body, length); err != nil {
			return 0, nil, err
		}
	case status == 204 || status == 304 || status/100 == 1:
	default:
		return 0, nil, errors.New("response without length")
	}
	return status, c.body, nil
}

// readN appends n bytes from r to dst.
func readN(r io.Reader, dst []byte, n int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, n)...)[:start+n]
	_, err := io.ReadFull(r, dst[start:])
	return dst, err
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// histogram records latencies in nanoseconds in log-linear buckets:
// 2^subBits buckets per power of two, so any percentile is within 1/64
// (1.6%) of the true value. Fixed size, no allocation per record.
const (
	subBits    = 6
	subCount   = 1 << subBits
	histBucket = (64-subBits)*subCount + subCount
)

type histogram struct {
	counts [histBucket]uint32
	n      uint64
	max    int64
}

func bucketOf(v int64) int {
	if v < subCount {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)*subCount + int(uint64(v)>>shift) - subCount
}

// bucketValue is the midpoint of bucket i.
func bucketValue(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	mant := int64(i%subCount + subCount)
	lo := mant << shift
	return lo + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(min(bucketValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// scenario is one kind of request.
type scenario struct {
	name string
	ref  string // the scenario this one is compared with ("" for none)
	// latchkey: sent to Latchkey's listener, else to the reference one.
	latchkey bool
	// build appends connection st's next request to dst.
	build func(st *connState, dst []byte) []byte
	// check, if set, must appear in every answer's body.
	check []byte
	// after, if set, reads each successful answer (the refresh chain); false
	// counts the answer as an error.
	after func(st *connState, body []byte) bool
	// op, if set, replaces build, check and after: it runs one whole
	// operation of several requests on c (the code flow) and returns an
	// *answerError for a wrong answer, any other error for a broken
	// connection. Its latency is that of the whole operation.
	op func(c *rawConn, st *connState) error
	// what the scenario does, for the report
	what string
}

// connState is one connection's state across its requests.
type connState struct {
	idx     int
	iter    int
	refresh string // the refresh scenario: this connection's current refresh token
	scratch []byte // a request buffer for op
}

// Phases of a scenario run.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

type workerStats struct {
	hist     histogram
	count    int64 // completed in the measured window
	total    int64 // completed successfully, warm-up included
	errors   int64 // warm-up included
	firstErr string
}

// loadResult is what the generator measured of one scenario.
type loadResult struct {
	hist     histogram
	count    int64
	total    int64
	errors   int64
	firstErr string
	elapsed  time.Duration
	genCPUNS int64
	genCPUOK bool
	// CPU time all CPUs were busy in the window (/proc/stat), to tell what
	// else ran besides the server and the generator
	busyNS int64
	busyOK bool
}

// runLoad runs sc on len(states) connections to addr: a warm-up, then the
// measured window, with onStart and onStop at its edges (they snapshot the
// server's counters).
func runLoad(ctx context.Context, addr string, sc *scenario, states []*connState, warmup, dur time.Duration, onStart, onStop func() error) (loadResult, error) {
	var phase atomic.Int32
	deadline := time.Now().Add(warmup + dur + time.Minute)
	workers := make([]*workerStats, len(states))
	var wg sync.WaitGroup
	for i, st := range states {
		ws := &workerStats{}
		workers[i] = ws
		wg.Go(func() { work(addr, sc, st, ws, &phase, deadline) })
	}
	var res loadResult
	if !sleepCtx(ctx, warmup) {
		phase.Store(phaseDone)
		wg.Wait()
		return res, ctx.Err()
	}
	startErr := onStart()
	cpu0, ok0 := processCPU()
	busy0, okb0 := machineBusy()
	t0 := time.Now()
	phase.Store(phaseMeasure)
	sleepCtx(ctx, dur)
	// The window ends before the server's counters are read, as it began
	// after: every request counted in it did its queries between the two
	// snapshots, however long the stop mark takes on a loaded machine.
	phase.Store(phaseDone)
	cpu1, ok1 := processCPU()
	res.elapsed = time.Since(t0)
	busy1, okb1 := machineBusy()
	res.busyNS, res.busyOK = busy1-busy0, okb0 && okb1
	stopErr := onStop()
	wg.Wait()
	res.genCPUNS, res.genCPUOK = cpu1-cpu0, ok0 && ok1
	for _, ws := range workers {
		res.hist.merge(&ws.hist)
		res.count += ws.count
		res.total += ws.total
		res.errors += ws.errors
		if res.firstErr == "" {
			res.firstErr = ws.firstErr
		}
	}
	return res, errors.Join(startErr, stopErr, ctx.Err())
}

// sleepCtx sleeps for d or until ctx is done; false if ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func work(addr string, sc *scenario, st *connState, ws *workerStats, phase *atomic.Int32, deadline time.Time) {
	var c *rawConn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	req := make([]byte, 0, 1024)
	fail := func(msg string) {
		ws.errors++
		if ws.firstErr == "" {
			ws.firstErr = msg
		}
	}
	for phase.Load() != phaseDone {
		if c == nil {
			var err error
			if c, err = dialRaw(addr, deadline); err != nil {
				fail(err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		if sc.op != nil {
			start := time.Now()
			err := sc.op(c, st)
			lat := time.Since(start)
			st.iter++
			var ae *answerError
			switch {
			case errors.As(err, &ae):
				fail(ae.msg)
			case err != nil:
				fail(err.Error())
				c.Close()
				c = nil
				continue
			default:
				ws.total++
				if phase.Load() == phaseMeasure {
					ws.count++
					ws.hist.record(lat)
				}
			}
			if c.closed {
				c.Close()
				c = nil
			}
			continue
		}
		req = sc.build(st, req[:0])
		start := time.Now()
		status, body, err := c.roundTrip(req)
		lat := time.Since(start)
		st.iter++
		switch {
		case err != nil:
			fail(err.Error())
			c.Close()
			c = nil
			continue
		case status/100 != 2:
			fail(fmt.Sprintf("HTTP %d: %.200s", status, body))
		case sc.check != nil && !bytes.Contains(body, sc.check):
			fail(fmt.Sprintf("answer lacks %s: %.200s", sc.check, body))
		case sc.after != nil && !sc.after(st, body):
			fail(fmt.Sprintf("unexpected answer: %.200s", body))
		default:
			ws.total++
			if phase.Load() == phaseMeasure {
				ws.count++
				ws.hist.record(lat)
			}
		}
		if c.closed {
			c.Close()
			c = nil
		}
	}
}

// answerError is a wrong answer to a request of an operation: counted as an
// error, the connection kept.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

func badAnswer(format string, args ...any) error {
	return &answerError{msg: fmt.Sprintf(format, args...)}
}

// Request templates.

// getRequest is a complete GET request.
func getRequest(host, path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: latchkey-bench\r\nAccept: */*\r\n\r\n")
}

// bearerGet is a GET request carrying an access token (RFC 6750 §2.1).
func bearerGet(host, path, token string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: latchkey-bench\r\nAccept: application/json\r\n" +
		"Authorization: Bearer " + token + "\r\n\r\n")
}

// postHead is a POST request up to its Content-Length value; appendPost
// completes it with a body.
func postHead(host, path, basicAuth string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: latchkey-bench\r\nAccept: application/json\r\n" +
		"Authorization: Basic " + basicAuth + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ")
}

func appendPost(dst, head []byte, body ...string) []byte {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	dst = append(dst, head...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\n\r\n"...)
	for _, b := range body {
		dst = append(dst, b...)
	}
	return dst
}

// extractJSONString returns the string value of "name" in a flat JSON
// object without unescaping (Latchkey's tokens need none), or "".
func extractJSONString(body []byte, name string) string {
	key := `"` + name + `":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
