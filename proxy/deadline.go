package proxy

import (
	"net"
	"time"
)

// coarseDeadline is a connection's read deadline, moved only when the one armed
// would end too early. Setting a deadline updates a runtime timer under a lock; a
// busy keep-alive connection re-arming one per request (the client's idle deadline,
// a pod's response-header timeout) paid for that on every request.
type coarseDeadline struct {
	at time.Duration // monoNow's clock; zero: none armed
}

// deadlineSlack: an armed deadline is kept while it ends at most this much (or an
// eighth of the timeout, for short ones) before the one asked for.
const deadlineSlack = time.Second

// arm sets c's read deadline d from now (none for d ≤ 0), unless the one armed
// already ends within the slack before that.
func (cd *coarseDeadline) arm(c net.Conn, d time.Duration) {
	if d <= 0 {
		cd.clear(c)
		return
	}
	want := monoNow() + d
	slack := min(deadlineSlack, d/8)
	if cd.at != 0 && cd.at <= want && cd.at+slack > want {
		return
	}
	cd.at = want
	_ = c.SetReadDeadline(deadlineAt(want))
}

// clear lifts c's read deadline, if one is armed.
func (cd *coarseDeadline) clear(c net.Conn) {
	if cd.at != 0 {
		cd.at = 0
		_ = c.SetReadDeadline(time.Time{})
	}
}

// forget: something else moved the deadline; the next arm sets it anew.
func (cd *coarseDeadline) forget() { cd.at = 0 }
