package deploy

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// docker-compose.yml is loaded with compose-go, the Compose specification's
// reference loader that `docker compose config` runs: schema validation,
// interpolation, merging, path resolution and consistency checks (unknown
// services in depends_on, undefined volumes, ...). No Docker engine needed.

// loadCompose loads ../docker-compose.yml with the given profiles.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithName("oauthsync"), cli.WithWorkingDirectory(".."), cli.WithProfiles(profiles),
		cli.WithEnv([]string{}), cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// env returns a service's environment variable ("" when unset).
func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// dockerfileStages lists the Dockerfile's stage names.
func dockerfileStages(t *testing.T) []string {
	t.Helper()
	var stages []string
	for line := range strings.SplitSeq(string(readFile(t, "Dockerfile")), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && strings.EqualFold(f[0], "FROM") && strings.EqualFold(f[2], "AS") {
			stages = append(stages, f[3])
		}
	}
	return stages
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	want := []string{"jaeger", "nats", "otel-collector", "redis", "sample", "simulators", "syncworker"}
	if got := p.ServiceNames(); !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	full := loadCompose(t, "dashboards")
	if got := full.ServiceNames(); !slices.Contains(got, "grafana") || !slices.Contains(got, "prometheus") {
		t.Errorf("profile dashboards: services %v, want grafana and prometheus too", got)
	}

	stages := dockerfileStages(t)
	for name, s := range full.Services {
		// Loopback only: nothing of this development stack is reachable
		// from the network.
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %d is published on %q, not 127.0.0.1", name, port.Target, port.HostIP)
			}
		}
		if s.Build != nil {
			if s.Build.Dockerfile != "deploy/Dockerfile" || !slices.Contains(stages, s.Build.Target) {
				t.Errorf("%s: build %s target %q: not a stage of deploy/Dockerfile %v", name, s.Build.Dockerfile, s.Build.Target, stages)
			}
		} else if img := s.Image; !regexp.MustCompile(`:[0-9][^:]*$|:v[0-9][^:]*$|:[0-9.]+-alpine$`).MatchString(img) {
			t.Errorf("%s: image %q: pin a version", name, img)
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind mount: %v", name, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s is writable", name, v.Source)
				}
			}
		}
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionHealthy && full.Services[dep].HealthCheck == nil {
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}

	// Jaeger's UI on 127.0.0.1:16686, traces from the collector.
	if !slices.ContainsFunc(p.Services["jaeger"].Ports, func(pc types.ServicePortConfig) bool {
		return pc.Target == 16686 && pc.Published == "16686"
	}) {
		t.Error("jaeger: the UI is not on 127.0.0.1:16686")
	}

	// Everything that traces sends OTLP to the collector's receiver.
	col := loadCollector(t)
	httpPort := portOf(t, col.Receivers["otlp"].Protocols["http"].Endpoint)
	for _, name := range []string{"syncworker", "simulators", "sample"} {
		s := p.Services[name]
		u, err := url.Parse(env(s, "OTEL_EXPORTER_OTLP_ENDPOINT"))
		if err != nil || u.Hostname() != "otel-collector" || u.Port() != httpPort || env(s, "OTEL_EXPORTER_OTLP_PROTOCOL") != "http/protobuf" {
			t.Errorf("%s: OTLP endpoint %q (%s), want http/protobuf to otel-collector:%s", name,
				env(s, "OTEL_EXPORTER_OTLP_ENDPOINT"), env(s, "OTEL_EXPORTER_OTLP_PROTOCOL"), httpPort)
		}
		if env(s, "OTEL_SERVICE_NAME") == "" {
			t.Errorf("%s: no OTEL_SERVICE_NAME", name)
		}
	}
	oc := p.Services["otel-collector"]
	if len(oc.Volumes) != 1 || !slices.Contains(oc.Command, "--config="+oc.Volumes[0].Target) ||
		filepath.Base(oc.Volumes[0].Source) != "otel-collector.yaml" {
		t.Errorf("otel-collector: --config must be the mounted deploy/otel-collector.yaml; command %v volumes %+v", oc.Command, oc.Volumes)
	}

	// The worker: its mounted config checked like the worker checks it, with
	// the service's environment; every connection on a simulator port.
	w := p.Services["syncworker"]
	if len(w.Volumes) != 1 || w.Volumes[0].Target != "/etc/syncworker/config.yaml" {
		t.Fatalf("syncworker: want deploy/docker-compose.config.yaml on /etc/syncworker/config.yaml, have %+v", w.Volumes)
	}
	wenv := map[string]string{}
	for k, v := range w.Environment {
		if v != nil {
			wenv[k] = *v
		}
	}
	b, err := os.ReadFile(w.Volumes[0].Source)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustWorkerConfig(t, "docker-compose.config.yaml", b, wenv)
	sims := p.Services["simulators"]
	for name, conn := range cfg.connections {
		u, err := url.Parse(fmt.Sprint(conn["baseURL"]))
		if err != nil || u.Hostname() != "simulators" {
			t.Errorf("connection %s: baseURL %v is not on the simulators service", name, conn["baseURL"])
			continue
		}
		addr := env(sims, "SYNCSIM_"+strings.ToUpper(fmt.Sprint(conn["provider"]))+"_ADDR")
		if host, port, err := net.SplitHostPort(addr); err != nil || host != "0.0.0.0" || port != u.Port() {
			t.Errorf("connection %s: baseURL port %s, the %v simulator listens on %q", name, u.Port(), conn["provider"], addr)
		}
	}
	for _, u := range []string{fmt.Sprint(cfg.get("nats.url")), fmt.Sprint(cfg.get("redis.url"))} {
		if pu, err := url.Parse(u); err != nil || p.Services[pu.Hostname()].Name == "" {
			t.Errorf("%s is not a compose service", u)
		}
	}
	drain := cfg.duration("worker.drainTimeout", 10*time.Second)
	if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) < drain+10*time.Second {
		t.Errorf("syncworker: stop_grace_period %v, want at least drainTimeout %s + 10s", w.StopGracePeriod, drain)
	}
	for _, dep := range []string{"nats", "redis"} {
		if w.DependsOn[dep].Condition != types.ServiceConditionHealthy {
			t.Errorf("syncworker: must wait for %s to be healthy (it exits when it cannot connect)", dep)
		}
	}
	sample := p.Services["sample"]
	if !slices.Contains(sample.Command, "sample") || !slices.Contains(sample.Command, fmt.Sprint(cfg.get("nats.url"))) {
		t.Errorf("sample: command %v must publish to the worker's NATS %v", sample.Command, cfg.get("nats.url"))
	}
	if sample.Restart != "no" {
		t.Errorf("sample: restart %q; it publishes once", sample.Restart)
	}

	// Prometheus scrapes the worker and loads the alert rules it mounts;
	// Grafana loads the dashboard where its provisioning looks.
	prom := full.Services["prometheus"]
	var pc struct {
		Global struct {
			ScrapeInterval     string `yaml:"scrape_interval"`
			EvaluationInterval string `yaml:"evaluation_interval"`
		} `yaml:"global"`
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeYAMLKnown(t, "prometheus/prometheus.yml", &pc)
	mounted := map[string]string{}
	for _, v := range prom.Volumes {
		mounted[filepath.Base(v.Source)] = v.Target
	}
	if len(pc.RuleFiles) != 1 || mounted["alerts.yaml"] != pc.RuleFiles[0] {
		t.Errorf("prometheus: rule_files %v, alerts.yaml is mounted on %q", pc.RuleFiles, mounted["alerts.yaml"])
	}
	if len(pc.ScrapeConfigs) != 1 || pc.ScrapeConfigs[0].JobName != "syncworker" ||
		!slices.Equal(pc.ScrapeConfigs[0].StaticConfigs[0].Targets, []string{"syncworker:9090"}) {
		t.Errorf("prometheus: want one job syncworker scraping syncworker:9090, have %+v", pc.ScrapeConfigs)
	}
	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type string
			DisableDeletion    bool `yaml:"disableDeletion"`
			Options            struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeYAMLKnown(t, "grafana/provisioning/dashboards/oauthsync.yaml", &dp)
	graf := full.Services["grafana"]
	var dashMount string
	for _, v := range graf.Volumes {
		if filepath.Base(v.Source) == filepath.Base(dashboardFile) {
			dashMount = v.Target
		}
	}
	if len(dp.Providers) != 1 || filepath.Dir(dashMount) != dp.Providers[0].Options.Path {
		t.Errorf("grafana: the dashboard is mounted on %q, provisioning reads %+v", dashMount, dp.Providers)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
			Editable                     bool `yaml:"editable"`
		} `yaml:"datasources"`
	}
	decodeYAMLKnown(t, "grafana/provisioning/datasources/prometheus.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("grafana: data source %+v", ds.Datasources)
	}
}

// collectorConfig is what the test reads of otel-collector.yaml.
type collectorConfig struct {
	Receivers map[string]struct {
		Protocols map[string]struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"protocols"`
	} `yaml:"receivers"`
	Processors map[string]any `yaml:"processors"`
	Exporters  map[string]struct {
		Endpoint string `yaml:"endpoint"`
		TLS      *struct {
			Insecure bool `yaml:"insecure"`
		} `yaml:"tls"`
	} `yaml:"exporters"`
	Extensions map[string]any `yaml:"extensions"`
	Service    struct {
		Extensions []string `yaml:"extensions"`
		Pipelines  map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

func loadCollector(t *testing.T) collectorConfig {
	t.Helper()
	var c collectorConfig
	decodeYAMLKnown(t, "otel-collector.yaml", &c)
	return c
}

// TestCollectorConfig checks the collector's wiring: every component a
// pipeline names is defined, of a type the contrib distribution has, and
// traces go to the compose file's Jaeger. (The full check is the
// collector's own `otelcol validate`, which needs a collector binary.)
func TestCollectorConfig(t *testing.T) {
	c := loadCollector(t)
	known := map[string][]string{
		"receivers":  {"otlp"},
		"processors": {"batch", "memory_limiter"},
		"exporters":  {"otlp_grpc", "otlp_http", "prometheus", "debug"},
		"extensions": {"health_check"},
	}
	defined := map[string][]string{
		"receivers": mapKeys(c.Receivers), "processors": mapKeys(c.Processors),
		"exporters": mapKeys(c.Exporters), "extensions": mapKeys(c.Extensions),
	}
	for kind, ids := range defined {
		for _, id := range ids {
			typ, _, _ := strings.Cut(id, "/")
			if !slices.Contains(known[kind], typ) {
				t.Errorf("%s: %s is not a known component type %v", kind, id, known[kind])
			}
		}
	}
	for _, e := range c.Service.Extensions {
		if !slices.Contains(defined["extensions"], e) {
			t.Errorf("service.extensions: %s is not defined", e)
		}
	}
	for name, pl := range c.Service.Pipelines {
		if len(pl.Receivers) == 0 || len(pl.Exporters) == 0 {
			t.Errorf("pipeline %s: needs receivers and exporters", name)
		}
		for kind, ids := range map[string][]string{"receivers": pl.Receivers, "processors": pl.Processors, "exporters": pl.Exporters} {
			for _, id := range ids {
				if !slices.Contains(defined[kind], id) {
					t.Errorf("pipeline %s: %s %s is not defined", name, kind, id)
				}
			}
		}
	}
	traces, ok := c.Service.Pipelines["traces"]
	if !ok || len(traces.Exporters) != 1 || c.Exporters[traces.Exporters[0]].Endpoint != "jaeger:4317" {
		t.Errorf("traces must be exported to jaeger:4317, have %+v", traces)
	}
	if _, ok := c.Service.Pipelines["metrics"]; !ok {
		t.Error("no metrics pipeline")
	}
	if j := loadCompose(t).Services["jaeger"]; j.Name == "" {
		t.Error("no jaeger service for the collector to send to")
	}
}

func mapKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func portOf(t *testing.T, endpoint string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	return port
}

// decodeYAMLKnown decodes a YAML file of this directory into v, refusing
// keys v does not declare.
func decodeYAMLKnown(t *testing.T, name string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(string(readFile(t, name))))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
