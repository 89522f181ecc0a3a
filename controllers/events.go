package controllers

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RecorderSink emits Events through the events.k8s.io recorder and logs each one, so
// a problem is visible both in `kubectl describe` and in the controller's log.
type RecorderSink struct {
	Recorder events.EventRecorder
	Log      logr.Logger
}

// Emit implements EventSink.
func (s RecorderSink) Emit(_ context.Context, obj client.Object, ev Event) {
	kind := corev1.EventTypeNormal
	if ev.Warning {
		kind = corev1.EventTypeWarning
	}
	s.Recorder.Eventf(obj, nil, kind, ev.Reason, "Reconcile", "%s", ev.Message)
	LogEvent(s.Log, ev)
}

// LogEvent writes an Event as a log line naming its object; the manifests mode, which
// has no API server to hold Events, uses it alone.
func LogEvent(log logr.Logger, ev Event) {
	kv := []any{"kind", ev.Kind, "object", ev.NamespacedName.String(), "reason", ev.Reason}
	if ev.Warning {
		log.Info("warning: "+ev.Message, kv...)
		return
	}
	log.V(1).Info(ev.Message, kv...)
}
