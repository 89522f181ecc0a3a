//go:build integration

package integration

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// clientNegotiator decodes raw API responses for hand-built REST requests.
func clientNegotiator() runtime.NegotiatedSerializer {
	return serializer.NewCodecFactory(scheme).WithoutConversion()
}
