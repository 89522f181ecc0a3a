package workers

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/sticky-ingress/sticky-ingress/proxy"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// envVar tells a process it is a worker: "index,httpFD,httpsFD" (-1: no listener).
// Its control socket is file 3.
const envVar = "STICKY_INGRESS_WORKER"

// balanceEnvVar lists the files of the connection counting and balancing
// (connbalance_linux.go): "countsFD[,inboxFD,sendFD0,sendFD1,…]", the inbox and a
// sending end for each worker only with BalanceConnections.
const balanceEnvVar = "STICKY_INGRESS_WORKER_BALANCE"

// IsWorker reports whether this process was started by a Supervisor as a worker.
func IsWorker() bool { return os.Getenv(envVar) != "" }

// Index is this worker's number (0-based), or -1 in any other process.
func Index() int {
	spec, err := parseEnv()
	if err != nil {
		return -1
	}
	return spec[0]
}

func parseEnv() ([3]int, error) {
	var spec [3]int
	ns, err := envInts(envVar)
	if err == nil && len(ns) != len(spec) {
		err = fmt.Errorf("%s=%q: want index,httpFD,httpsFD", envVar, os.Getenv(envVar))
	}
	copy(spec[:], ns)
	return spec, err
}

// envInts parses the comma-separated numbers in the environment variable name
// (none if it is not set).
func envInts(name string) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		return nil, nil
	}
	var ns []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", name, v, err)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// Serve runs this process as a worker (IsWorker): srv serves on the listeners the
// supervisor passed, and takes its cookie keys and tables from the supervisor.
// metrics are what the supervisor's /metrics gets from this worker. Serve returns
// when the supervisor closes the control socket (or exits), after srv has shut down
// gracefully. SIGINT and SIGTERM are ignored: the supervisor says when to stop, so
// that a terminal's Ctrl-C or a signal to the process group does not cut its
// shutdown delay short.
func Serve(srv *proxy.Server, metrics prometheus.Gatherer) error {
	spec, err := parseEnv()
	if err != nil {
		return err
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	control, err := net.FileConn(os.NewFile(3, "control"))
	if err != nil {
		return fmt.Errorf("worker: control socket: %w", err)
	}
	defer control.Close()
	var lns [2]net.Listener
	for i, fd := range spec[1:] {
		if fd < 0 {
			continue
		}
		if lns[i], err = net.FileListener(os.NewFile(uintptr(fd), "listener")); err != nil {
			return fmt.Errorf("worker: listener (file %d): %w", fd, err)
		}
	}
	balanceFDs, err := envInts(balanceEnvVar)
	if err != nil {
		return err
	}
	if balanceFDs != nil {
		b, err := openBalancer(spec[0], balanceFDs)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		for i, ln := range lns {
			if ln != nil {
				lns[i] = b.listen(ln, byte(i))
			}
		}
		b.start()
		defer b.stop()
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lns[0], lns[1]) }()
	// The listeners are served until the control socket closes.
	orders := make(chan error, 1)
	go func() { orders <- follow(control, srv, metrics) }()
	select {
	case err := <-served:
		return fmt.Errorf("worker: %w", err) // the supervisor restarts us
	case err := <-orders:
		stop()
		return errors.Join(err, <-served)
	}
}

// follow answers the supervisor's requests until it closes the socket.
func follow(control net.Conn, srv *proxy.Server, metrics prometheus.Gatherer) error {
	dec, enc := gob.NewDecoder(control), gob.NewEncoder(control)
	var last lastTable
	for {
		var req request // new each time: gob leaves fields it does not send as they were
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("worker: control socket: %w", err)
		}
		rep := reply{Seq: req.Seq}
		var err error
		switch {
		case req.Keys != nil:
			err = srv.SetCookieKeys(req.Keys)
		case req.Table != nil:
			var snap *routetable.Snapshot
			if snap, err = last.decode(req.Table); err == nil {
				err = srv.Update(snap)
			}
		case req.Metrics:
			rep.Families, err = encodeFamilies(metrics)
		}
		if err != nil {
			rep.Err = err.Error()
		}
		if err := enc.Encode(&rep); err != nil {
			return fmt.Errorf("worker: control socket: %w", err)
		}
	}
}

func encodeFamilies(g prometheus.Gatherer) ([][]byte, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(families))
	for i, f := range families {
		if out[i], err = proto.Marshal(f); err != nil {
			return nil, err
		}
	}
	return out, nil
}
