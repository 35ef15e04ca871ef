// Package deploy holds what operators deploy oauthsync with: the Dockerfile,
// the Kubernetes manifests (k8s/), the Grafana dashboard and Prometheus alert
// rules over the metric contract of METRICS.md, the OpenTelemetry Collector,
// Prometheus, Grafana, Redis and NATS configurations, and PRODUCTION.md.
//
// It has no code. Its tests validate those files the way their consumers
// read them: Kubernetes manifests strictly decoded into the official API
// types (unknown fields refused), alert rules through Prometheus's own
// rulefmt and PromQL parser, every metric name and label checked against
// METRICS.md, docker-compose.yml through the Compose specification's loader
// (compose-go, as `docker compose config`), the worker's configurations
// against the keys internal/config/config.go declares, the NATS configuration
// through nats-server's own parser, and the Redis settings and ACL on a real
// redis-server running the dedup store's conformance suite as the ACL user.
package deploy
