//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wrk is the HTTP load generator the issue asks for (Debian package wrk; hack/e2e.sh
// installs it). A run sends one sticky session's cookie on keep-alive connections, and
// a Lua script counts the answers that did not come from the session's pod or were not
// 200, summed over wrk's threads.
type wrkRun struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type wrkResult struct {
	requests     int64
	socketErrors int64 // connect + read + write + timeout
	non2xx3xx    int64
	not200       int64
	offPod       int64
	output       string
}

const wrkScript = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
local pinned = %q
function init(args) offpod = 0; not200 = 0 end
function response(status, headers, body)
  if status ~= 200 then not200 = not200 + 1 end
  local server = nil
  for k, v in pairs(headers) do
    if string.lower(k) == "x-server-id" then server = v end
  end
  if server ~= pinned then offpod = offpod + 1 end
end
function done(summary, latency, requests)
  local o, n = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("offpod"); n = n + t:get("not200") end
  io.write(string.format("sticky: off-pod %%d, not-200 %%d\n", o, n))
end
`

// startWrk runs wrk for d against c with Host: host and the cookie header given; the
// session belongs to pod pinned. It returns nil (and logs why) when wrk is not installed.
func startWrk(t *testing.T, c *controller, host, cookie, pinned string, d time.Duration) *wrkRun {
	t.Helper()
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Logf("wrk not found (hack/e2e.sh installs the Debian package): no wrk load in this run")
		return nil
	}
	script := filepath.Join(t.TempDir(), "sticky.lua")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(wrkScript, pinned)), 0o600); err != nil {
		t.Fatal(err)
	}
	secs := int(d.Round(time.Second) / time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute) // bounded whatever happens
	w := &wrkRun{out: &syncBuffer{}, done: make(chan struct{})}
	w.cmd = exec.CommandContext(ctx, bin, "-t2", "-c8", fmt.Sprintf("-d%ds", secs), "--timeout", "10s",
		"-H", "Host: "+host, "-H", "Cookie: "+cookie, "-s", script, "http://"+c.httpAddr+"/")
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting wrk: %v", err)
	}
	go func() { w.err = w.cmd.Wait(); cancel(); close(w.done) }()
	t.Cleanup(func() { // a test that failed before waiting
		_ = w.cmd.Process.Kill()
		<-w.done
	})
	return w
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSticky   = regexp.MustCompile(`sticky: off-pod (\d+), not-200 (\d+)`)
)

// wait waits for wrk to finish and parses its report. wrk prints the socket error and
// non-2xx lines only when they are not zero.
func (w *wrkRun) wait(t *testing.T) wrkResult {
	t.Helper()
	<-w.done
	out := w.out.String()
	if w.err != nil {
		t.Fatalf("wrk: %v\n%s", w.err, out)
	}
	r := wrkResult{output: out}
	m := wrkRequests.FindStringSubmatch(out)
	s := wrkSticky.FindStringSubmatch(out)
	if m == nil || s == nil {
		t.Fatalf("cannot read wrk's report:\n%s", out)
	}
	r.requests = atoi(m[1])
	r.offPod, r.not200 = atoi(s[1]), atoi(s[2])
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		r.socketErrors = atoi(m[1]) + atoi(m[2]) + atoi(m[3]) + atoi(m[4])
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx3xx = atoi(m[1])
	}
	return r
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}
