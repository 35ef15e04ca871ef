package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The Kubernetes manifests are decoded the way the API server decodes
// them: YAML to JSON with duplicate keys refused, then case-sensitive JSON
// into the official Go types (k8s.io/api) with unknown and duplicate fields
// refused (sigs.k8s.io/json's UnmarshalStrict, the API server's own strict
// decoder). kubeconform would check them against the OpenAPI schemas, but it
// downloads those at run time; the Go types are the schemas' source.

// decodeStrict decodes one manifest into obj and checks its kind.
func decodeStrict(t *testing.T, file, apiVersion, kind string, obj any) {
	t.Helper()
	j, err := yaml.YAMLToJSONStrict(readFile(t, filepath.Join("k8s", file)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, e := range strict {
		t.Errorf("%s: %v", file, e)
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		t.Fatal(err)
	}
	if tm.APIVersion != apiVersion || tm.Kind != kind {
		t.Errorf("%s: %s/%s, want %s/%s", file, tm.APIVersion, tm.Kind, apiVersion, kind)
	}
}

// checkMeta checks a name and labels as the API server would.
func checkMeta(t *testing.T, file string, m metav1.ObjectMeta) {
	t.Helper()
	for _, e := range validation.IsDNS1123Subdomain(m.Name) {
		t.Errorf("%s: name %q: %s", file, m.Name, e)
	}
	for k, v := range m.Labels {
		for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
			t.Errorf("%s: label %s=%s: %s", file, k, v, e)
		}
	}
	if m.Namespace != "" {
		t.Errorf("%s: namespace %q: leave it to kustomization.yaml", file, m.Namespace)
	}
}

// selects reports whether a label selector selects the pod labels.
func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject as KEDA's Go types
// declare it (apis/keda/v1alpha1/scaledobject_types.go), so that strict
// decoding refuses a field KEDA does not know, without importing KEDA.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef *struct {
			Name                   string `json:"name"`
			APIVersion             string `json:"apiVersion,omitempty"`
			Kind                   string `json:"kind,omitempty"`
			EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
		} `json:"scaleTargetRef"`
		PollingInterval       *int32 `json:"pollingInterval,omitempty"`
		InitialCooldownPeriod *int32 `json:"initialCooldownPeriod,omitempty"`
		CooldownPeriod        *int32 `json:"cooldownPeriod,omitempty"`
		IdleReplicaCount      *int32 `json:"idleReplicaCount,omitempty"`
		MinReplicaCount       *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount       *int32 `json:"maxReplicaCount,omitempty"`
		Advanced              *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
				Name     string                                         `json:"name,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
			RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
			ScalingModifiers              *struct {
				Formula          string `json:"formula,omitempty"`
				Target           string `json:"target,omitempty"`
				ActivationTarget string `json:"activationTarget,omitempty"`
				MetricType       string `json:"metricType,omitempty"`
			} `json:"scalingModifiers,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			UseCachedMetrics  bool              `json:"useCachedMetrics,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
			MetricType string `json:"metricType,omitempty"`
		} `json:"triggers"`
		Fallback *struct {
			FailureThreshold int32  `json:"failureThreshold"`
			Replicas         int32  `json:"replicas"`
			Behavior         string `json:"behavior,omitempty"`
		} `json:"fallback,omitempty"`
	} `json:"spec"`
}

// manifests are the objects of deploy/k8s, decoded once per test.
type manifests struct {
	configMap    corev1.ConfigMap
	secret       corev1.Secret
	deployment   appsv1.Deployment
	service      corev1.Service
	pdb          policyv1.PodDisruptionBudget
	scaledObject scaledObject
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	decodeStrict(t, "configmap.yaml", "v1", "ConfigMap", &m.configMap)
	decodeStrict(t, "secret.example.yaml", "v1", "Secret", &m.secret)
	decodeStrict(t, "deployment.yaml", "apps/v1", "Deployment", &m.deployment)
	decodeStrict(t, "service.yaml", "v1", "Service", &m.service)
	decodeStrict(t, "pdb.yaml", "policy/v1", "PodDisruptionBudget", &m.pdb)
	decodeStrict(t, "scaledobject.yaml", "keda.sh/v1alpha1", "ScaledObject", &m.scaledObject)
	checkMeta(t, "configmap.yaml", m.configMap.ObjectMeta)
	checkMeta(t, "secret.example.yaml", m.secret.ObjectMeta)
	checkMeta(t, "deployment.yaml", m.deployment.ObjectMeta)
	checkMeta(t, "service.yaml", m.service.ObjectMeta)
	checkMeta(t, "pdb.yaml", m.pdb.ObjectMeta)
	checkMeta(t, "scaledobject.yaml", m.scaledObject.ObjectMeta)
	return m
}

// worker returns the Deployment's syncworker container.
func (m *manifests) worker(t *testing.T) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "syncworker" {
		t.Fatalf("deployment.yaml: want one container named syncworker, have %d", len(cs))
	}
	return cs[0]
}

// workerConfig checks the ConfigMap's embedded configuration with the
// container's environment.
func (m *manifests) workerConfig(t *testing.T) workerConfig {
	t.Helper()
	cfg, ok := m.configMap.Data["config.yaml"]
	if !ok {
		t.Fatal("configmap.yaml: no config.yaml key")
	}
	env := map[string]string{}
	for _, e := range m.worker(t).Env {
		env[e.Name] = "from-env-" + strings.ToLower(e.Name)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = m.secret.StringData[e.ValueFrom.SecretKeyRef.Key]
		}
	}
	return mustWorkerConfig(t, "configmap.yaml config.yaml", []byte(cfg), env)
}

func TestK8sDeployment(t *testing.T) {
	m := loadManifests(t)
	d, c := m.deployment, m.worker(t)
	pod := d.Spec.Template.Spec
	cfg := m.workerConfig(t)

	if d.Spec.Replicas != nil {
		t.Error("deployment.yaml: replicas is set; the ScaledObject owns the count")
	}
	if !selects(t, d.Spec.Selector, d.Spec.Template.Labels) {
		t.Error("deployment.yaml: the selector does not select the pod template")
	}
	if img := c.Image; strings.HasSuffix(img, ":latest") || !strings.Contains(img, ":") {
		t.Errorf("image %q: pin a tag", img)
	}

	// Arguments: the config path is where the ConfigMap is mounted, the
	// HTTP address is the container port the probes use.
	args := map[string]string{}
	for i := 0; i+1 < len(c.Args); i += 2 {
		args[c.Args[i]] = c.Args[i+1]
	}
	var port corev1.ContainerPort
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = p
		}
		for _, e := range validation.IsValidPortName(p.Name) {
			t.Errorf("port %q: %s", p.Name, e)
		}
	}
	if port.ContainerPort == 0 || args["--http-addr"] != ":"+strconv.Itoa(int(port.ContainerPort)) {
		t.Errorf("--http-addr %q and the http port %d disagree", args["--http-addr"], port.ContainerPort)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		if _, ok := mounts[v.Name]; !ok {
			t.Errorf("volume %s is not mounted", v.Name)
		}
	}
	var configMounted bool
	for name, vm := range mounts {
		v, ok := volumes[name]
		if !ok {
			t.Errorf("mount %s has no volume", name)
			continue
		}
		if v.ConfigMap != nil && v.ConfigMap.Name == m.configMap.Name && filepath.Join(vm.MountPath, "config.yaml") == args["--config"] {
			configMounted = true
		}
		if v.Secret != nil && v.Secret.SecretName != m.secret.Name {
			t.Errorf("volume %s: secret %s is not %s", name, v.Secret.SecretName, m.secret.Name)
		}
	}
	if !configMounted {
		t.Errorf("--config %s is not the ConfigMap %s's config.yaml", args["--config"], m.configMap.Name)
	}

	// Probes on the worker's health endpoints, on the http port.
	for name, pr := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := "/healthz"
		if name == "readiness" {
			want = "/readyz"
		}
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != want || pr.HTTPGet.Port.String() != port.Name {
			t.Errorf("%s probe: want GET %s on port %q, have %+v", name, want, port.Name, pr)
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.TimeoutSeconds <= 2 {
		t.Errorf("readiness timeout %ds: /readyz may take 2s to ping the dedup store", c.ReadinessProbe.TimeoutSeconds)
	}

	// Resources: requests and limits for CPU and memory, requests below limits.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("resources: %s needs a request and a limit", r)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("resources: %s request %s above its limit %s", r, req.String(), lim.String())
		}
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			lim := c.Resources.Limits[corev1.ResourceMemory]
			if n, err := strconv.ParseInt(strings.TrimSuffix(e.Value, "MiB"), 10, 64); err != nil || n<<20 >= lim.Value() {
				t.Errorf("GOMEMLIMIT %s must be below the memory limit %s", e.Value, lim.String())
			}
		}
	}

	// Non-root, read-only, nothing extra: the Dockerfile's user.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || sc == nil ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("securityContext: want runAsNonRoot with a runAsUser, readOnlyRootFilesystem, no privilege escalation, drop ALL; have pod %+v container %+v", psc, sc)
	}
	if psc != nil && psc.RunAsUser != nil {
		if user := dockerfileUser(t); user != strconv.FormatInt(*psc.RunAsUser, 10) {
			t.Errorf("runAsUser %d, the Dockerfile's USER is %s", *psc.RunAsUser, user)
		}
	}
	if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Error("securityContext: seccompProfile RuntimeDefault")
	}

	// Grace: the drain, then the HTTP and trace flushes (5s each), with room.
	drain := cfg.duration("worker.drainTimeout", 10*time.Second)
	grace := time.Duration(0)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	if grace < drain+15*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s: want at least drainTimeout %s + 15s", grace, drain)
	}
	if rb := cfg.duration("worker.retryBudget", 15*time.Second); drain <= rb {
		t.Errorf("drainTimeout %s: want above retryBudget %s, so an in-flight command can finish its retries", drain, rb)
	}

	// Credentials only by reference, from the Secret, and nothing in the
	// ConfigMap that looks like one.
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != m.secret.Name {
				t.Errorf("env %s: secret %s, want %s", e.Name, ref.Name, m.secret.Name)
			}
			if _, ok := m.secret.StringData[ref.Key]; !ok {
				t.Errorf("env %s: key %s is not in secret.example.yaml", e.Name, ref.Key)
			}
		}
		if regexp.MustCompile(`(?i)token|password|secret|key`).MatchString(e.Name) && e.Value != "" {
			t.Errorf("env %s holds a literal value; credentials come from the Secret", e.Name)
		}
	}
	if v := m.worker(t).Env; !slices.ContainsFunc(v, func(e corev1.EnvVar) bool { return e.Name == "OTEL_METRICS_EXPORTER" && e.Value == "none" }) {
		t.Error("OTEL_METRICS_EXPORTER=none: Prometheus scrapes /metrics; OTLP as well would count twice")
	}
}

func TestK8sConfigMap(t *testing.T) {
	m := loadManifests(t)
	cfg := m.workerConfig(t)
	raw := []byte(m.configMap.Data["config.yaml"])
	// Every credential is a reference: a <key>File path to a key of the
	// Secret mounted as files (re-read by the worker, so a rotated Secret
	// is picked up), or a ${VAR}; tokenURL, an address, may be literal.
	// URLs with a password are ${VAR}s.
	secretDirs := map[string]bool{}
	for _, vm := range m.worker(t).VolumeMounts {
		for _, v := range m.deployment.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == m.secret.Name && len(v.Secret.Items) == 0 && vm.SubPath == "" {
				secretDirs[vm.MountPath] = true
			}
		}
	}
	for name, conn := range cfg.connections {
		auth, _ := conn["auth"].(map[string]any)
		for k, v := range auth {
			if _, isFile := strings.CutSuffix(k, "File"); isFile {
				p := fmt.Sprint(v)
				if !secretDirs[filepath.Dir(p)] {
					t.Errorf("connections.%s.auth.%s %s is not in a directory where the Secret %s is mounted (without subPath)", name, k, p, m.secret.Name)
				}
				if _, ok := m.secret.StringData[filepath.Base(p)]; !ok {
					t.Errorf("connections.%s.auth.%s: %s is not a key of the Secret", name, k, filepath.Base(p))
				}
				continue
			}
			if k == "tokenURL" {
				continue
			}
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(k) + `: "\$\{[A-Z_]+\}"`).Match(raw) {
				t.Errorf("connections.%s.auth.%s is not a ${VAR} reference nor a file of the Secret", name, k)
			}
		}
	}
	if u := cfg.get("redis.url"); u == nil || !strings.Contains(string(raw), "url: ${REDIS_URL}") {
		t.Error("redis.url must be ${REDIS_URL} (it holds the ACL user's password)")
	}
	for _, v := range envRefs(raw) {
		if _, ok := m.secret.StringData[v]; !ok {
			t.Errorf("${%s} is not a key of the Secret", v)
		}
	}
	if r := cfg.get("streams.replicas"); fmt.Sprint(r) != "3" {
		t.Errorf("streams.replicas %v, want 3 (deploy/PRODUCTION.md)", r)
	}
	if p := cfg.get("redis.keyPrefix"); p != nil && !strings.Contains(string(readFile(t, "redis/users.acl")), "~"+fmt.Sprint(p)+":*") {
		t.Errorf("redis.keyPrefix %v is not the key pattern of the ACL user in redis/users.acl", p)
	}
}

func TestK8sSecretExample(t *testing.T) {
	m := loadManifests(t)
	if len(m.secret.Data) > 0 {
		t.Error("secret.example.yaml: use stringData with placeholders, not data")
	}
	if len(m.secret.StringData) == 0 {
		t.Fatal("secret.example.yaml: no keys")
	}
	for k, v := range m.secret.StringData {
		if !strings.Contains(v, "REPLACE-ME") {
			t.Errorf("secret.example.yaml: %s is not a REPLACE-ME placeholder", k)
		}
		for _, e := range validation.IsConfigMapKey(k) {
			t.Errorf("secret.example.yaml: key %s: %s", k, e)
		}
	}
	if !strings.Contains(string(readFile(t, "k8s/secret.example.yaml")), "EXAMPLE ONLY") {
		t.Error("secret.example.yaml: the header must say it is an example")
	}
}

func TestK8sServiceAndPDB(t *testing.T) {
	m := loadManifests(t)
	podLabels := m.deployment.Spec.Template.Labels
	if !labels.SelectorFromSet(m.service.Spec.Selector).Matches(labels.Set(podLabels)) || len(m.service.Spec.Selector) == 0 {
		t.Error("service.yaml: the selector does not select the worker pods")
	}
	ports := m.worker(t).Ports
	for _, p := range m.service.Spec.Ports {
		if !slices.ContainsFunc(ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.String() }) {
			t.Errorf("service.yaml: targetPort %s is not a named container port", p.TargetPort.String())
		}
	}
	if !selects(t, m.pdb.Spec.Selector, podLabels) {
		t.Error("pdb.yaml: the selector does not select the worker pods")
	}
	if m.pdb.Spec.MinAvailable == nil && m.pdb.Spec.MaxUnavailable == nil {
		t.Error("pdb.yaml: minAvailable or maxUnavailable")
	}
	if ma := m.pdb.Spec.MinAvailable; ma != nil && m.scaledObject.Spec.MinReplicaCount != nil && ma.IntValue() >= int(*m.scaledObject.Spec.MinReplicaCount) {
		t.Errorf("pdb.yaml: minAvailable %s would block every eviction at the ScaledObject's minimum of %d", ma.String(), *m.scaledObject.Spec.MinReplicaCount)
	}
}

func TestK8sScaledObject(t *testing.T) {
	m := loadManifests(t)
	so, cfg := m.scaledObject, m.workerConfig(t)
	ref := so.Spec.ScaleTargetRef
	if ref == nil || ref.Name != m.deployment.Name || (ref.Kind != "" && ref.Kind != "Deployment") || (ref.APIVersion != "" && ref.APIVersion != "apps/v1") {
		t.Errorf("scaleTargetRef %+v is not the Deployment %s", ref, m.deployment.Name)
	}
	minR, maxR := so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount
	if minR == nil || *minR < 1 || maxR == nil || *maxR < *minR {
		t.Errorf("minReplicaCount >= 1 (the worker creates its consumers) and <= maxReplicaCount; have %v, %v", minR, maxR)
	}
	stream := fmt.Sprint(cfg.get("streams.names.commands"))
	if stream == "<nil>" {
		stream = "SYNC_COMMANDS"
	}
	want := map[string]bool{}
	for name := range cfg.connections {
		want["syncworker_"+name] = true // the interactive lane
		want["syncbulk_"+name] = true   // the bulk lane: migrations
	}
	seen := map[string]bool{}
	for i, tr := range so.Spec.Triggers {
		if tr.Type != "nats-jetstream" {
			t.Errorf("trigger %d: type %q", i, tr.Type)
			continue
		}
		for _, k := range []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"} {
			if tr.Metadata[k] == "" {
				t.Errorf("trigger %d: metadata.%s is required", i, k)
			}
		}
		for k := range tr.Metadata {
			if !slices.Contains([]string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold", "activationLagThreshold", "useHttps"}, k) {
				t.Errorf("trigger %d: metadata.%s is not a parameter of KEDA's nats-jetstream scaler", i, k)
			}
		}
		if n, err := strconv.Atoi(tr.Metadata["lagThreshold"]); err != nil || n <= 0 {
			t.Errorf("trigger %d: lagThreshold %q", i, tr.Metadata["lagThreshold"])
		} else if fb := cfg.get("worker.fetchBatch"); fb != nil && fmt.Sprint(fb) != "" {
			if b, _ := strconv.Atoi(fmt.Sprint(fb)); n <= b {
				t.Errorf("trigger %d: lagThreshold %d is not above what one worker holds un-acked (fetchBatch %d)", i, n, b)
			}
		}
		if tr.Metadata["stream"] != stream {
			t.Errorf("trigger %d: stream %s, the commands stream is %s", i, tr.Metadata["stream"], stream)
		}
		if strings.Contains(tr.Metadata["natsServerMonitoringEndpoint"], "://") {
			t.Errorf("trigger %d: natsServerMonitoringEndpoint is host:port (useHttps picks the scheme)", i)
		}
		if tr.Metadata["account"] != natsWorkerAccount(t) {
			t.Errorf("trigger %d: account %q, the worker's NATS account in nats/nats-server.conf is %q", i, tr.Metadata["account"], natsWorkerAccount(t))
		}
		c := tr.Metadata["consumer"]
		if !want[c] {
			t.Errorf("trigger %d: consumer %s is not syncworker_ or syncbulk_<a configured connection>", i, c)
		}
		seen[c] = true
	}
	for c := range want {
		if !seen[c] {
			t.Errorf("no trigger on consumer %s", c)
		}
	}
}

func TestK8sKustomization(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		} `json:"images"`
	}
	j, err := yaml.YAMLToJSONStrict(readFile(t, "k8s/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strict, err := kjson.UnmarshalStrict(j, &k, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields); err != nil || len(strict) > 0 {
		t.Fatalf("kustomization.yaml: %v %v", err, strict)
	}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case base == "kustomization.yaml":
		case base == "secret.example.yaml":
			if slices.Contains(k.Resources, base) {
				t.Error("kustomization.yaml must not apply the example Secret")
			}
		case !slices.Contains(k.Resources, base):
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization.yaml: %v", err)
		}
	}
	if len(k.Images) != 1 || !strings.HasPrefix(loadManifests(t).worker(t).Image, k.Images[0].Name+":") {
		t.Errorf("kustomization.yaml: images must name the Deployment's image")
	}
	for _, e := range validation.IsDNS1123Label(k.Namespace) {
		t.Errorf("kustomization.yaml: namespace %q: %s", k.Namespace, e)
	}
}

// dockerfileUser is the USER of the Dockerfile's worker stage.
func dockerfileUser(t *testing.T) string {
	t.Helper()
	var user string
	inWorker := false
	for line := range strings.SplitSeq(string(readFile(t, "Dockerfile")), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			inWorker = strings.EqualFold(f[len(f)-1], "syncworker")
		}
		if inWorker && len(f) == 2 && strings.EqualFold(f[0], "USER") {
			user, _, _ = strings.Cut(f[1], ":")
		}
	}
	if user == "" {
		t.Fatal("Dockerfile: no USER in the syncworker stage")
	}
	return user
}
