//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// controller is one running sticky-ingress process.
type controller struct {
	name        string
	cmd         *exec.Cmd
	httpAddr    string
	httpsAddr   string
	healthAddr  string
	metricsAddr string
	logs        *syncBuffer
	done        chan struct{}
}

// launchController starts the binary against the test API server on fresh addresses
// and waits until it reports ready (first route table served).
func launchController(name string, extra ...string) (*controller, error) {
	return launchProcess(name, append([]string{"--kubeconfig=" + kubeconfig}, extra...)...)
}

func launchProcess(name string, extra ...string) (*controller, error) {
	c := &controller{
		name:        name,
		httpAddr:    freeAddr("198.18.0.1"),
		httpsAddr:   freeAddr("198.18.0.1"),
		healthAddr:  freeAddr("198.18.0.1"),
		metricsAddr: freeAddr("198.18.0.1"),
		logs:        &syncBuffer{},
		done:        make(chan struct{}),
	}
	args := append([]string{
		"--http-addr=" + c.httpAddr,
		"--https-addr=" + c.httpsAddr,
		"--health-addr=" + c.healthAddr,
		"--metrics-addr=" + c.metricsAddr,
		"--zap-log-level=debug",
	}, extra...)
	c.cmd = exec.Command(binary, args...)
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	if err := c.waitReady(30 * time.Second); err != nil {
		c.stop()
		var b bytes.Buffer
		c.dumpLogs(&b)
		return nil, fmt.Errorf("%s: %w\n%s", name, err, b.String())
	}
	return c, nil
}

func (c *controller) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("exited: %v", c.cmd.ProcessState)
		default:
		}
		if code, err := c.readyz(); err == nil && code == http.StatusOK {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", timeout)
}

// readyz returns the status code of c's /readyz.
func (c *controller) readyz() (int, error) {
	resp, err := http.Get("http://" + c.healthAddr + "/readyz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stop sends SIGTERM and waits (bounded) for the process to end.
func (c *controller) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *controller) dumpLogs(w io.Writer) {
	fmt.Fprintf(w, "---- logs of controller %s ----\n%s\n", c.name, c.logs.String())
}

// freeAddr finds a free TCP port on ip.
func freeAddr(ip string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
