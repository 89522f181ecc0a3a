package controllers

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

// RecorderSink emits Events through the events.k8s.io recorder and logs each one, so
// a problem is visible both in `kubectl describe` and in the controller's log.
type RecorderSink struct {
	Recorder events.EventRecorder
	Log      logr.Logger
}

// Emit implements EventSink.
func (s RecorderSink) Emit(_ context.Context, obj client.Object, ev translate.Event) {
	s.Recorder.Eventf(obj, nil, ev.Type, ev.Reason, "Reconcile", "%s", ev.Message)
	LogEvent(s.Log, ev)
}

// LogEvent writes an Event as a log line naming its object; the manifests mode, which
// has no API server to hold Events, uses it alone.
func LogEvent(log logr.Logger, ev translate.Event) {
	kv := []any{"kind", ev.Regarding.Kind, "object", ev.Regarding.NamespacedName().String(), "reason", ev.Reason}
	if ev.Warning() {
		log.Info("warning: "+ev.String(), kv...)
		return
	}
	log.V(1).Info(ev.String(), kv...)
}
