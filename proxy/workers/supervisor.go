// Package workers serves the proxy from several worker processes, nginx's model: the
// supervisor (the process that runs the controller) validates every route table and
// cookie key set with a proxy.Server of its own that does not serve, and sends each
// accepted one to its workers; each worker is a proxy.Server on its own
// SO_REUSEPORT listeners, running Go code on one thread (GOMAXPROCS=1).
//
// Why processes: on a small machine, one Go process serving on every core spends its
// spare cycles handing goroutines between threads (a woken goroutine wakes a second
// thread to look for work) and leaves cores idle between those hand-offs. A
// single-threaded process has nothing to hand off, and one per core keeps each core's
// connections on its own poller. On this project's 2-vCPU benchmark machine two
// workers served 7–10% more requests per second than one process with both cores, at
// 9% less CPU per request (README, Performance).
//
// The supervisor restarts a worker that exits, and sends it the current keys and
// table before it counts as ready again; its listening sockets stay open meanwhile,
// so connections queue rather than fail. Workers exit when their control socket
// closes: when the supervisor stops them or dies.
package workers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/proxy"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Options configure a Supervisor.
type Options struct {
	// Workers is how many worker processes serve (at least 1).
	Workers int
	// BalanceConnections shares new connections out between the workers, so that
	// their counts of open ones stay within an eighth of each other, rather than
	// leaving them where SO_REUSEPORT's hash put them (connbalance_linux.go).
	BalanceConnections bool
	// HTTPAddr and HTTPSAddr are the listeners ("" = none; at least one).
	HTTPAddr, HTTPSAddr string
	// Validator checks every table and key set before the workers get it: a
	// proxy.Server that is never started. Its metrics describe the route table.
	Validator *proxy.Server
	// Command makes the command that starts a worker. Nil: this executable again,
	// with this process's arguments. The supervisor adds to its environment and
	// open files; the worker must call Serve.
	Command func() *exec.Cmd
	// ShutdownTimeout is how long workers get to finish their requests once told to
	// stop; a worker still running 5 s after that is killed.
	ShutdownTimeout time.Duration
	Logger          logr.Logger
	// Registerer takes the supervisor's own series (worker restarts); nil: kept
	// but not registered.
	Registerer prometheus.Registerer
}

// Supervisor starts, feeds and restarts the workers. Update, SetCookieKeys, Ready
// and Start are proxy.Server's, so it takes a Server's place.
type Supervisor struct {
	opts     Options
	log      logr.Logger
	workers  []*worker
	restarts prometheus.Counter

	// counts are the workers' open connections, shared with them; set by Start.
	counts atomic.Pointer[connCounts]

	// addrs are the listeners' addresses, written by Start before it closes opened.
	addrs  []net.Addr
	opened chan struct{}

	// mu serialises changes: what the validator accepted last is what every
	// worker has, or gets when it (re)starts.
	mu    sync.Mutex
	keys  [][]byte
	table *routetable.Snapshot
}

// New makes a supervisor; workers start with Start.
func New(opts Options) (*Supervisor, error) {
	if opts.Workers < 1 {
		return nil, fmt.Errorf("workers: %d worker processes; at least 1", opts.Workers)
	}
	if opts.Validator == nil {
		return nil, errors.New("workers: no validator")
	}
	if opts.HTTPAddr == "" && opts.HTTPSAddr == "" {
		return nil, errors.New("workers: neither an HTTP nor an HTTPS address to listen on")
	}
	if opts.Command == nil {
		opts.Command = sameCommand
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	s := &Supervisor{opts: opts, log: opts.Logger, opened: make(chan struct{})}
	s.restarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sticky_ingress_worker_restarts_total",
		Help: "Worker processes (--workers) restarted after they exited or failed an update.",
	})
	series := []prometheus.Collector{s.restarts}
	for i := range opts.Workers {
		s.workers = append(s.workers, &worker{index: i, log: opts.Logger.WithValues("worker", i)})
		series = append(series, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "sticky_ingress_worker_open_connections",
			Help:        "Client connections open in each worker process (--workers).",
			ConstLabels: prometheus.Labels{"worker": strconv.Itoa(i)},
		}, func() float64 { return s.openConnections(i) }))
	}
	if opts.Registerer != nil {
		for _, c := range series {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("workers: registering metrics: %w", err)
			}
		}
	}
	return s, nil
}

// openConnections is worker i's count of open client connections (0 before Start).
func (s *Supervisor) openConnections(i int) float64 {
	if c := s.counts.Load(); c != nil {
		return float64(c.open(i))
	}
	return 0
}

// sameCommand runs this executable again with this process's arguments: the running
// image (/proc/self/exe), even if its file has been replaced since, so that a worker
// restarted after an upgrade on disk still speaks its supervisor's protocol. Its
// argv[0] is ours, so ps shows the workers as what they are.
func sameCommand() *exec.Cmd {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = os.Args
	return cmd
}

// SetCookieKeys validates keys and sends them to every running worker. On error the
// previous keys stay in force everywhere.
func (s *Supervisor) SetCookieKeys(keys [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.opts.Validator.SetCookieKeys(keys); err != nil {
		return err
	}
	s.keys = keys
	s.eachRunning(func(w *worker) error { return w.call(&request{Keys: keys}) })
	return nil
}

// Update validates snap and sends it to every running worker. A table the validator
// refuses is refused with its error, and the previous one keeps serving. The
// snapshot must not be modified afterwards.
func (s *Supervisor) Update(snap *routetable.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.opts.Validator.Update(snap); err != nil {
		return err
	}
	s.table = snap
	s.eachRunning(func(w *worker) error { return w.sendTable(snap) })
	return nil
}

// eachRunning does send for every running worker at once. A worker that fails it
// (the validator accepted what it refused, or it stopped answering) cannot be left
// serving something else than the rest: it is stopped, and the restart brings it
// up to date.
func (s *Supervisor) eachRunning(send func(*worker) error) {
	var wg sync.WaitGroup
	for _, w := range s.workers {
		if !w.running() {
			continue
		}
		wg.Go(func() {
			if err := send(w); err != nil {
				w.log.Error(err, "worker failed an update; restarting it")
				w.kill()
			}
		})
	}
	wg.Wait()
}

// Ready reports whether every worker serves a table: the validator's first, or a
// later one (a worker is brought up to date before it counts).
func (s *Supervisor) Ready() bool {
	if !s.opts.Validator.Ready() {
		return false
	}
	for _, w := range s.workers {
		if !w.ready.Load() {
			return false
		}
	}
	return true
}

// NeedLeaderElection tells controller-runtime that every replica serves traffic.
func (s *Supervisor) NeedLeaderElection() bool { return false }

// Addrs are the listeners' addresses (HTTP first), once Start has opened them.
func (s *Supervisor) Addrs(ctx context.Context) ([]net.Addr, error) {
	select {
	case <-s.opened:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.addrs, nil
}

// Start opens the listeners, starts the workers and keeps them running until ctx
// ends; then it stops them, each finishing its requests within ShutdownTimeout.
func (s *Supervisor) Start(ctx context.Context) error {
	sockets := make([][]*os.File, len(s.workers)) // per worker: HTTP, HTTPS (nil: none)
	for _, addr := range []string{s.opts.HTTPAddr, s.opts.HTTPSAddr} {
		var files []*os.File
		if addr != "" {
			var bound net.Addr
			var err error
			if files, bound, err = listenEach(addr, len(s.workers)); err != nil {
				closeAll(sockets)
				return fmt.Errorf("workers: listening on %s: %w", addr, err)
			}
			s.addrs = append(s.addrs, bound)
			s.log.Info("listening for the workers", "addr", bound.String(), "workers", len(s.workers))
		}
		for i := range sockets {
			var f *os.File
			if files != nil {
				f = files[i]
			}
			sockets[i] = append(sockets[i], f)
		}
	}
	balance, err := newBalanceFiles(len(s.workers), s.opts.BalanceConnections)
	if err != nil {
		closeAll(sockets)
		return fmt.Errorf("workers: %w", err)
	}
	defer balance.close()
	s.counts.Store(balance.counts)
	close(s.opened)
	defer closeAll(sockets)

	var wg sync.WaitGroup
	for i, w := range s.workers {
		wg.Go(func() { s.supervise(ctx, w, workerFiles{listeners: sockets[i], balance: balance.forWorker(i)}) })
	}
	wg.Wait()
	return nil
}

func closeAll(sockets [][]*os.File) {
	for _, files := range sockets {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}
}

// Restarts back off from minBackoff, doubling to maxBackoff; a worker that ran for
// stableRun starts the count again.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	stableRun  = 30 * time.Second
)

// supervise runs worker w until ctx ends, restarting it whenever it exits.
func (s *Supervisor) supervise(ctx context.Context, w *worker, files workerFiles) {
	backoff := minBackoff
	for {
		began := time.Now()
		exited, err := s.launch(w, files)
		if err == nil {
			select {
			case <-exited:
				err = w.lastExit()
			case <-ctx.Done():
				w.stop(exited, s.opts.ShutdownTimeout+5*time.Second)
				return
			}
		}
		// Connections must not be sent to it while it is down (the restarted
		// worker counts from none once it serves).
		s.counts.Load().store(w.index, notServing)
		if time.Since(began) > stableRun {
			backoff = minBackoff
		}
		w.log.Error(err, "worker stopped; restarting it", "after", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		s.restarts.Inc()
		backoff = min(2*backoff, maxBackoff)
	}
}

// launch starts w and brings it up to date: the keys and the table accepted last,
// sent under mu, so that no change slips between them and the worker's first
// request. It returns a channel closed when the process has exited.
func (s *Supervisor) launch(w *worker, files workerFiles) (<-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exited, err := w.start(s.opts.Command(), files)
	if err != nil {
		return nil, err
	}
	if err := s.bringUpToDate(w); err != nil {
		w.kill()
		<-exited
		return nil, err
	}
	return exited, nil
}

func (s *Supervisor) bringUpToDate(w *worker) error {
	if s.keys != nil {
		if err := w.call(&request{Keys: s.keys}); err != nil {
			return err
		}
	}
	if s.table != nil {
		return w.sendTable(s.table)
	}
	return nil
}
