// Package benchstats_test checks the figures make bench reads back from its rounds
// and quantiles files (benchstats.sh): which runs bracket a peer's, the ratios over
// them, and the p99 of several runs pooled.
package benchstats_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rounds is one scenario's runs as bench.sh orders them: sticky-ingress before and
// after each peer, a floor after the round's last sticky-ingress run, and a run of
// another scenario that must not count.
var rounds = []struct {
	scenario, proxy string
	reqs            int
}{
	{"cookie-hit", "sticky", 100},
	{"cookie-hit", "nginx", 90},
	{"cookie-hit", "sticky", 110},
	{"cookie-hit", "twin", 100},
	{"cookie-hit", "sticky", 100},
	{"cookie-hit", "floor", 50},
	{"cookie-hit", "sticky", 120},
	{"cookie-hit", "nginx", 100},
	{"cookie-hit", "sticky", 100},
	{"source-ip", "nginx", 1},
}

// run runs script with benchstats.sh sourced over files written from rounds, where run
// r's quantiles are 10·r·percent µs (its p99 is 9.9·r ms), and returns its output.
func run(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	var r, q strings.Builder
	r.WriteString("run\tscenario\tround\tproxy\treq/s\tp50 ms\tp99 ms\tcpu µs\tuser µs\tidle %\n")
	q.WriteString("run\tpercent\tµs\n")
	for i, x := range rounds {
		n := i + 1
		fmt.Fprintf(&r, "%d\t%s\t1\t%s\t%d\t1\t2\t-\t-\t-\n", n, x.scenario, x.proxy, x.reqs)
		for _, p := range []float64{50, 90, 99, 99.5, 100} {
			fmt.Fprintf(&q, "%d\t%.2f\t%.0f\n", n, p, 10*float64(n)*p)
		}
	}
	roundsFile, quantilesFile := filepath.Join(dir, "rounds.tsv"), filepath.Join(dir, "quantiles.tsv")
	if err := os.WriteFile(roundsFile, []byte(r.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(quantilesFile, []byte(q.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "set -euo pipefail; source ../benchlib.sh; source benchstats.sh; "+script)
	cmd.Env = append(os.Environ(), "ROUNDS_FILE="+roundsFile, "QUANTILES_FILE="+quantilesFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestBrackets(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"brackets cookie-hit nginx", "1 2 3\n7 8 9"},
		{"brackets cookie-hit twin", "3 4 5"},
		{"brackets cookie-hit floor", "5 6 7"},
		{"brackets source-ip nginx", ""}, // no sticky-ingress run beside it
		{"runs_of cookie-hit sticky | tr '\\n' ' '", "1 3 5 7 9"},
	} {
		if got := run(t, c.script); got != c.want {
			t.Errorf("%s = %q, want %q", c.script, got, c.want)
		}
	}
}

func TestBracketRatio(t *testing.T) {
	// nginx: √(100·110)/90 = 1.1653 and √(120·100)/100 = 1.0954; the median of two is
	// the lower, as median() takes it.
	if got := run(t, `bracket_ratio cookie-hit nginx "$COL_REQS"`); got != "1.09545" {
		t.Errorf("nginx = %s, want 1.09545", got)
	}
	if got := run(t, `bracket_ratio cookie-hit twin "$COL_REQS"`); got != "1.04881" {
		t.Errorf("twin = %s, want 1.04881 (√(110·100)/100)", got)
	}
}

func TestPooledP99(t *testing.T) {
	for _, c := range []struct{ runs, want string }{
		{"1", "0.990"}, // one run: its own p99
		// Two runs of equal weight: at run 5's p90 (4.5 ms) 95% are below, at its
		// p99 99.5%; its p99 is the pooled one.
		{"1 5", "4.950"},
		// Run 2 weighs 90 against run 1's 100: at its p90 (1.8 ms), (100+81)/190 =
		// 95.3% are below; at its p99 (1.98 ms) 99.5%.
		{"1 2", "1.980"},
	} {
		if got := run(t, "pooled_p99 "+c.runs); got != c.want {
			t.Errorf("pooled_p99 %s = %s, want %s", c.runs, got, c.want)
		}
	}
}

func TestBracketP99Ratio(t *testing.T) {
	// Ours pooled over the sticky-ingress runs beside nginx's (1, 3, 7, 9), theirs
	// over nginx's (2, 8).
	ours := run(t, "pooled_p99 1 3 7 9")
	theirs := run(t, "pooled_p99 2 8")
	want := run(t, fmt.Sprintf("awk 'BEGIN { print %s / %s }'", ours, theirs))
	if got := run(t, "bracket_p99_ratio cookie-hit nginx"); got != want {
		t.Errorf("bracket_p99_ratio = %s, want %s (%s / %s)", got, want, ours, theirs)
	}
}
