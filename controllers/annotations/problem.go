package annotations

import (
	"cmp"
	"fmt"
	"slices"
)

// Severity says what a Problem does to the Ingress's affinity.
type Severity string

// Severities.
const (
	// Error: the value is invalid; the Ingress's annotation-derived affinity is rejected.
	Error Severity = "Error"
	// Warning: the annotation is ignored or has no effect; the rest still applies.
	Warning Severity = "Warning"
	// Info: accepted, but worth knowing (an nginx twin overridden, an approximation).
	Info Severity = "Info"
)

// Problem is one thing wrong with (or worth saying about) one annotation.
type Problem struct {
	Key      string
	Value    string
	Severity Severity
	// Message says what is wrong and what is accepted; it follows the quoted value.
	Message string
}

// Error reads `annotation KEY: "VALUE" MESSAGE`.
func (p Problem) Error() string {
	return fmt.Sprintf("annotation %s: %q %s", p.Key, p.Value, p.Message)
}

func (p Problem) String() string { return p.Error() }

func severityRank(s Severity) int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

func sortProblems(ps []Problem) []Problem {
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(a.Message, b.Message), cmp.Compare(a.Value, b.Value))
	})
	return slices.Compact(ps)
}
