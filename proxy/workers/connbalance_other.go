//go:build !linux

package workers

import (
	"errors"
	"net"
	"os"
)

// Worker processes need Linux (listen_other.go); these stand in for the counting
// and sharing of their connections so that the package builds elsewhere.

var errNeedLinux = errors.New("worker processes need Linux")

const notServing = 1 << 40

type connCounts struct{}

func (*connCounts) open(int) int64   { return 0 }
func (*connCounts) store(int, int64) {}

type balanceFiles struct{ counts *connCounts }

func newBalanceFiles(int, bool) (*balanceFiles, error) { return nil, errNeedLinux }
func (*balanceFiles) forWorker(int) []*os.File         { return nil }
func (*balanceFiles) close()                           {}

type balancer struct{}

func openBalancer(int, []int) (*balancer, error)              { return nil, errNeedLinux }
func (*balancer) listen(ln net.Listener, _ byte) net.Listener { return ln }
func (*balancer) start()                                      {}
func (*balancer) stop()                                       {}
