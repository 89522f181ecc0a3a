//go:build !linux

package workers

import (
	"errors"
	"net"
	"os"
)

// listenEach needs SO_REUSEPORT's load spreading, which only Linux gives.
func listenEach(string, int) ([]*os.File, net.Addr, error) {
	return nil, nil, errors.New("worker processes need Linux (SO_REUSEPORT)")
}
