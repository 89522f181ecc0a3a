package workers

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/sticky-ingress/sticky-ingress/proxy"
)

// Gatherer is what /metrics serves: base's families (the supervisor's own: the
// validator's route-table series, the controller's, the Go runtime's) with the
// workers' traffic added in. Their counters and histograms are summed over the
// workers by label set, so a dashboard sees one proxy. Their gauges and route-table
// series (proxy.TableMetric) are left out: the supervisor's validator reports the
// same table once. A worker that does not answer is left out of this scrape.
func (s *Supervisor) Gatherer(base prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families, err := base.Gather()
		var fromWorkers [][]*dto.MetricFamily
		for _, w := range s.workers {
			if !w.running() {
				continue
			}
			got, werr := w.families()
			if werr != nil {
				w.log.V(1).Info("metrics left out of this scrape", "error", werr.Error())
				continue
			}
			fromWorkers = append(fromWorkers, got)
		}
		return mergeTraffic(families, fromWorkers...), err
	})
}

// families asks the worker for its metric families.
func (w *worker) families() ([]*dto.MetricFamily, error) {
	rep, err := w.ask(&request{Metrics: true})
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(rep.Families))
	for _, b := range rep.Families {
		f := new(dto.MetricFamily)
		if err := proto.Unmarshal(b, f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// mergeTraffic adds the counters and histograms of each of workers into families,
// summing series with the same labels, and returns the families sorted by name.
func mergeTraffic(families []*dto.MetricFamily, workers ...[]*dto.MetricFamily) []*dto.MetricFamily {
	byName := make(map[string]*mergedFamily, len(families))
	for _, f := range families {
		byName[f.GetName()] = newMergedFamily(f)
	}
	for _, fs := range workers {
		for _, f := range fs {
			t := f.GetType()
			if t != dto.MetricType_COUNTER && t != dto.MetricType_HISTOGRAM || proxy.TableMetric(f.GetName()) {
				continue
			}
			into := byName[f.GetName()]
			if into == nil {
				into = newMergedFamily(&dto.MetricFamily{Name: f.Name, Help: f.Help, Type: f.Type, Unit: f.Unit})
				byName[f.GetName()] = into
				families = append(families, into.family)
			}
			if into.family.GetType() != t {
				continue // not the same metric after all
			}
			for _, m := range f.Metric {
				into.add(m)
			}
		}
	}
	slices.SortFunc(families, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return families
}

// mergedFamily indexes a family's series by their labels.
type mergedFamily struct {
	family   *dto.MetricFamily
	byLabels map[string]*dto.Metric
}

func newMergedFamily(f *dto.MetricFamily) *mergedFamily {
	m := &mergedFamily{family: f, byLabels: make(map[string]*dto.Metric, len(f.Metric))}
	for _, s := range f.Metric {
		m.byLabels[labelKey(s)] = s
	}
	return m
}

// add sums m into the series with its labels, or adds it as a new one.
func (f *mergedFamily) add(m *dto.Metric) {
	key := labelKey(m)
	into := f.byLabels[key]
	if into == nil {
		into = proto.Clone(m).(*dto.Metric)
		f.byLabels[key] = into
		f.family.Metric = append(f.family.Metric, into)
		return
	}
	switch {
	case into.Counter != nil && m.Counter != nil:
		into.Counter.Value = proto.Float64(into.Counter.GetValue() + m.Counter.GetValue())
	case into.Histogram != nil && m.Histogram != nil:
		addHistogram(into.Histogram, m.Histogram)
	}
}

// addHistogram adds h into sum; both have the same buckets (one definition in the
// proxy package), which is checked rather than assumed.
func addHistogram(sum, h *dto.Histogram) {
	if len(sum.Bucket) != len(h.Bucket) {
		return
	}
	for i, b := range h.Bucket {
		if sum.Bucket[i].GetUpperBound() != b.GetUpperBound() {
			return
		}
	}
	sum.SampleCount = proto.Uint64(sum.GetSampleCount() + h.GetSampleCount())
	sum.SampleSum = proto.Float64(sum.GetSampleSum() + h.GetSampleSum())
	for i, b := range h.Bucket {
		sum.Bucket[i].CumulativeCount = proto.Uint64(sum.Bucket[i].GetCumulativeCount() + b.GetCumulativeCount())
	}
}

// labelKey identifies a series within its family: its label pairs, in order (the
// registry sorts them).
func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.Label {
		b.WriteString(l.GetName())
		b.WriteByte(0)
		b.WriteString(l.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}
