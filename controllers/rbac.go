package controllers

// The controller's permissions, turned into config/rbac/role.yaml by controller-gen and
// mirrored by the Helm chart. Least privilege: read what the route table is built from,
// write only Ingress status, StickyPolicy status and Events.
//
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingressclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=sticky-ingress.io,resources=stickypolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=sticky-ingress.io,resources=stickypolicies/status,verbs=get;update;patch
