//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// TestChurnUnderLoad: sticky users keep hitting a stable app while a driver applies
// about 100 changes a second through the API server — Ingresses added and removed,
// the app's EndpointSlice scaled up and down with extra pods, a StickyPolicy on
// another Service edited. No request to the stable app may fail, and no user pinned to
// a pod that stayed may move. Alongside the Go clients, wrk sends one more session's
// cookie on keep-alive connections as fast as it can: no socket error, no answer other
// than 200 from that session's pod. E2E_CHURN_SECONDS sets the length (default 15).
func TestChurnUnderLoad(t *testing.T) {
	seconds := 15
	if v, err := strconv.Atoi(os.Getenv("E2E_CHURN_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	a := deploy(t, shared, "churn", 4, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	extra := startBackends(t, "churn-extra", 2)
	other := deploy(t, shared, "churn-other", 2, nil)
	create(t, &stickyv1.StickyPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "edited", Namespace: other.ns},
		Spec: stickyv1.StickyPolicySpec{TargetRefs: []stickyv1.TargetRef{{Name: "web"}}, Type: stickyv1.AffinityCookie,
			Cookie: &stickyv1.CookiePolicy{Name: "EDITED"}},
	})

	const users = 16
	us := make([]*user, users)
	pinned := make([]string, users)
	for i := range us {
		us[i] = newUser(fmt.Sprintf("198.18.95.%d", i+1))
		pinned[i] = stickTo(t, us[i], shared, a.host, 2)
	}

	// wrk's session: the cookie a Go client got, sent verbatim.
	wrkUser := newUser("198.18.95.200")
	wrkPinned := stickTo(t, wrkUser, shared, a.host, 2)
	var cookie []string
	for _, ck := range wrkUser.jar.Cookies(jarURL(a.host)) {
		cookie = append(cookie, ck.Name+"="+ck.Value)
	}
	load := startWrk(t, shared, a.host, strings.Join(cookie, "; "), wrkPinned, time.Duration(seconds)*time.Second)

	var requests, failures, moved atomic.Int64
	var ingressChanges, policyChanges, sliceChanges atomic.Int64
	stopLoad := startLoad(len(us), func(i int) {
		r, err := us[i].try(shared, a.host, "/")
		requests.Add(1)
		switch {
		case err != nil || r.status != http.StatusOK:
			failures.Add(1)
		case r.server != pinned[i]:
			moved.Add(1)
		}
	})
	defer stopLoad() // also when the test stops early

	// Four drivers, each one change per 40ms on average, so one slow API call does not
	// hold up the others: Ingresses come and go in two; another Service's policy is
	// edited in the third; the app scales in the fourth (this goroutine).
	ctx := context.Background()
	driveStart := time.Now()
	end := driveStart.Add(time.Duration(seconds) * time.Second)
	const every = 40 * time.Millisecond
	driverErr := make(chan error, 3)
	stopProgress := make(chan struct{})
	defer close(stopProgress)
	go func() { // progress every 15s, for runs longer than CI's
		last := int64(0)
		for at := 15 * time.Second; at < time.Duration(seconds)*time.Second; at += 15 * time.Second {
			select {
			case <-stopProgress:
				return
			case <-time.After(time.Until(driveStart.Add(at))):
			}
			n := ingressChanges.Load() + policyChanges.Load() + sliceChanges.Load()
			t.Logf("churn at %s: %d changes in the last 15s, %d requests, %d failed", at, n-last, requests.Load(), failures.Load())
			last = n
		}
	}()
	for _, prefix := range []string{"tmp-a", "tmp-b"} {
		go func() {
			driverErr <- pace(end, every, func(n int) (bool, error) {
				name := fmt.Sprintf("%s-%d", prefix, n)
				if n%2 == 0 { // an Ingress for another host appears
					return true, k8s.Create(ctx, newIngress(a.ns, name, name+".example.test", "web", nil))
				}
				if n >= 9 { // and an older one goes
					return true, deleteIngress(ctx, a.ns, fmt.Sprintf("%s-%d", prefix, n-9))
				}
				return false, nil
			}, &ingressChanges)
		}()
	}
	go func() {
		driverErr <- pace(end, every, func(n int) (bool, error) {
			return true, editPolicy(ctx, other.ns, "edited", fmt.Sprintf("EDITED%d", n%7))
		}, &policyChanges)
	}()
	var slice discoveryv1.EndpointSlice // updated in place: one API call a change
	if err := k8s.Get(ctx, nameOf(a.ns, "web-e2e"), &slice); err != nil {
		t.Fatal(err)
	}
	if err := pace(end, every, func(n int) (bool, error) {
		eps := ready(a.backends...) // the app scales between 4 and 6 pods; the original 4 always stay
		if n%2 == 0 {
			eps = append(eps, ready(extra...)...)
		}
		slice.Endpoints = sliceEndpoints(a.ns, eps...)
		return true, k8s.Update(ctx, &slice)
	}, &sliceChanges); err != nil {
		t.Fatalf("EndpointSlice %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := <-driverErr; err != nil {
			t.Fatal(err)
		}
	}
	driven := time.Since(driveStart)
	stopLoad()
	changes := ingressChanges.Load() + policyChanges.Load() + sliceChanges.Load()
	msg := fmt.Sprintf("churn for %s: %d changes (%.0f/s: %d Ingress, %d EndpointSlice, %d StickyPolicy), %d requests, %d failed, %d sessions moved off pods that stayed",
		driven.Round(100*time.Millisecond), changes, float64(changes)/driven.Seconds(), ingressChanges.Load(), sliceChanges.Load(), policyChanges.Load(),
		requests.Load(), failures.Load(), moved.Load())
	wrkBad := false
	if load != nil {
		w := load.wait(t)
		t.Logf("wrk:\n%s", w.output)
		msg += fmt.Sprintf("; wrk: %d requests, %d socket errors, %d non-2xx/3xx, %d not 200, %d off its pod",
			w.requests, w.socketErrors, w.non2xx3xx, w.not200, w.offPod)
		wrkBad = w.requests == 0 || w.socketErrors != 0 || w.non2xx3xx != 0 || w.not200 != 0 || w.offPod != 0
	} else {
		msg += "; wrk: not installed, not run"
	}
	t.Log(msg)
	fmt.Println("e2e figure:", msg)
	if failures.Load() != 0 || moved.Load() != 0 || wrkBad {
		t.Fatal(msg)
	}
}

// pace calls change once per interval on average until end — after a slow call it
// catches up instead of skipping, but never runs past end — and counts the calls that made a change.
func pace(end time.Time, every time.Duration, change func(n int) (bool, error), changes *atomic.Int64) error {
	start := time.Now()
	for n := 0; ; n++ {
		next := start.Add(time.Duration(n) * every)
		if !next.Before(end) || !time.Now().Before(end) {
			return nil
		}
		time.Sleep(time.Until(next))
		changed, err := change(n)
		if err != nil {
			return fmt.Errorf("change %d: %w", n, err)
		}
		if changed {
			changes.Add(1)
		}
	}
}

func deleteIngress(ctx context.Context, ns, name string) error {
	var ing networkingIngress
	ing.Namespace, ing.Name = ns, name
	return k8s.Delete(ctx, &ing)
}

// editPolicy changes the policy's cookie name with one merge patch (no read first, and
// no conflict with the controller's status writes).
func editPolicy(ctx context.Context, ns, name, cookie string) error {
	p := &stickyv1.StickyPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := fmt.Sprintf(`{"spec":{"cookie":{"name":%q}}}`, cookie)
	return k8s.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(patch)))
}
