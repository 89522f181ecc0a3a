package workers

import (
	"encoding/gob"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// callTimeout bounds one request to a worker. Compiling the largest tables takes
// well under a second; a worker that takes this long is stuck and is restarted.
const callTimeout = 30 * time.Second

// worker is the supervisor's handle on one worker process.
type worker struct {
	index int
	log   logr.Logger
	// ready: the process serves a table (it has applied one since it started).
	ready atomic.Bool

	// mu serialises requests, and guards what follows; the fields change when
	// the process (re)starts.
	mu      sync.Mutex
	cmd     *exec.Cmd
	conn    *net.UnixConn // nil once the process has exited
	enc     *gob.Encoder
	dec     *gob.Decoder
	seq     uint64
	sent    lastTable // for the next table's difference
	exitErr error     // why the process last exited
}

// workerFiles are the files a worker process gets besides its control socket.
type workerFiles struct {
	listeners []*os.File // HTTP, HTTPS; nil: none
	balance   []*os.File // the connection counting and balancing (balanceFiles.forWorker)
}

// start starts the worker process with files. The returned channel is closed once
// the process has exited.
func (w *worker) start(cmd *exec.Cmd, files workerFiles) (<-chan struct{}, error) {
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	// The child's files: 3 is the control socket, then the listeners it has, then
	// the balancing's; the environment says which is which.
	cmd.ExtraFiles = []*os.File{theirs}
	pass := func(f *os.File) string {
		if f == nil {
			return "-1"
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		return strconv.Itoa(2 + len(cmd.ExtraFiles))
	}
	spec := []string{strconv.Itoa(w.index)}
	for _, f := range files.listeners {
		spec = append(spec, pass(f))
	}
	var balance []string
	for _, f := range files.balance {
		balance = append(balance, pass(f))
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1", envVar+"="+strings.Join(spec, ","), balanceEnvVar+"="+strings.Join(balance, ","))
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout // the access log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting worker %d: %w", w.index, err)
	}
	w.mu.Lock()
	w.cmd, w.conn = cmd, ours
	w.enc, w.dec = gob.NewEncoder(ours), gob.NewDecoder(ours)
	w.sent = lastTable{}
	w.mu.Unlock()
	w.ready.Store(false)
	w.log.Info("worker started", "pid", cmd.Process.Pid)

	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		w.ready.Store(false)
		ours.Close() // first: it fails a request in flight, which holds mu
		if err == nil {
			err = errors.New("exited with status 0")
		}
		w.mu.Lock()
		w.conn, w.exitErr = nil, err
		w.mu.Unlock()
		close(exited)
	}()
	return exited, nil
}

// socketPair makes a connected pair of Unix stream sockets: ours as a net.UnixConn,
// theirs as a file for the child. Both are close-on-exec (exec passes the child's
// as one of its ExtraFiles), set under ForkLock as the standard library sets its
// own where SOCK_CLOEXEC does not exist (macOS), so that the package builds there.
func socketPair() (*net.UnixConn, *os.File, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	f := os.NewFile(uintptr(fds[0]), "worker-control")
	defer f.Close()
	c, err := net.FileConn(f) // a duplicate of fds[0]
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "worker-control"), nil
}

// running reports whether the process is up (it may not be up to date yet).
func (w *worker) running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conn != nil
}

// sendTable sends snap as a delta against the last table sent.
func (w *worker) sendTable(snap *routetable.Snapshot) error {
	w.mu.Lock()
	t := w.sent.encode(snap)
	w.mu.Unlock()
	if err := w.call(&request{Table: t}); err != nil {
		return err
	}
	w.ready.Store(true)
	return nil
}

// call sends req and waits for its reply; an error the worker reports is returned.
func (w *worker) call(req *request) error {
	_, err := w.ask(req)
	return err
}

// ask sends req and returns the worker's reply.
func (w *worker) ask(req *request) (*reply, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		return nil, fmt.Errorf("worker %d is not running", w.index)
	}
	w.seq++
	req.Seq = w.seq
	_ = w.conn.SetDeadline(time.Now().Add(callTimeout))
	if err := w.enc.Encode(req); err != nil {
		return nil, fmt.Errorf("worker %d: sending: %w", w.index, err)
	}
	var rep reply
	if err := w.dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("worker %d: reading its reply: %w", w.index, err)
	}
	if rep.Seq != req.Seq {
		return nil, fmt.Errorf("worker %d: reply %d to request %d", w.index, rep.Seq, req.Seq)
	}
	if rep.Err != "" {
		return &rep, fmt.Errorf("worker %d: %s", w.index, rep.Err)
	}
	return &rep, nil
}

// kill ends the process at once (its supervisor restarts it).
func (w *worker) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil && w.cmd != nil {
		_ = w.cmd.Process.Kill()
	}
}

// stop tells the process to stop by closing its control socket, and kills it if it
// has not exited (closed exited) within grace.
func (w *worker) stop(exited <-chan struct{}, grace time.Duration) {
	w.mu.Lock()
	conn, cmd := w.conn, w.cmd
	w.mu.Unlock()
	if conn != nil {
		_ = conn.CloseWrite() // the worker reads EOF: it drains and exits
	}
	select {
	case <-exited:
	case <-time.After(grace):
		w.log.Info("worker did not stop in time; killing it", "after", grace.String())
		_ = cmd.Process.Kill()
		<-exited
	}
}

// lastExit is why the process last exited.
func (w *worker) lastExit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exitErr
}
