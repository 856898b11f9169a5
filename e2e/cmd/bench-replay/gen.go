package main

// gen.go - the benchmark's data: a seeded, deterministic cluster of Nodes and Pods
// shaped like what a real kube-apiserver returns (owner references to ReplicaSets,
// tolerations, conditions, topology labels, 2-3 containers with resources, env,
// ports and volume mounts, container statuses, managedFields), and a burst of
// watch events on it (node Ready flips, pod status updates, deletions and
// replacements). Written once as JSON lines; the server replays the bytes.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Meta describes a generated data set (meta.json).
type Meta struct {
	Seed       int64  `json:"seed"`
	Nodes      int    `json:"nodes"`
	Pods       int    `json:"pods"`
	NodeEvents int    `json:"nodeEvents"`
	PodEvents  int    `json:"podEvents"`
	ListRV     string `json:"listResourceVersion"`
	LastRV     string `json:"lastResourceVersion"`
	NodeBytes  int64  `json:"nodeBytes"`
	PodBytes   int64  `json:"podBytes"`
	EventBytes int64  `json:"eventBytes"`
}

const baseRV = 1000000

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

type gen struct {
	r   *rand.Rand
	rv  int64
	seq int64
}

func (g *gen) uid() types.UID {
	b := make([]byte, 16)
	g.r.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

const hashAlpha = "bcdfghjklmnpqrstvwxz2456789"

func (g *gen) suffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hashAlpha[g.r.Intn(len(hashAlpha))]
	}
	return string(b)
}

func (g *gen) hex(n int) string {
	const h = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = h[g.r.Intn(16)]
	}
	return string(b)
}

func (g *gen) nextRV() string {
	g.rv++
	return strconv.FormatInt(g.rv, 10)
}

func mt(t time.Time) metav1.Time { return metav1.NewTime(t) }

var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

func nodeName(i int) string {
	return fmt.Sprintf("ip-10-%d-%d-%d.ec2.internal", i/65536%256, i/256%256, i%256)
}

// ---- nodes -----------------------------------------------------------------------

func (g *gen) node(i int) *corev1.Node {
	name := nodeName(i)
	zone := zones[i%len(zones)]
	itype := []string{"m6i.2xlarge", "m6i.4xlarge", "c6i.4xlarge", "r6i.2xlarge"}[g.r.Intn(4)]
	created := t0.Add(-time.Duration(24+g.r.Intn(24*60)) * time.Hour)
	hb := t0.Add(-time.Duration(g.r.Intn(40)) * time.Second)
	n := &corev1.Node{
		TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, UID: g.uid(), ResourceVersion: strconv.FormatInt(baseRV-int64(g.r.Intn(900000)), 10),
			CreationTimestamp: mt(created),
			Labels: map[string]string{
				"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": itype,
				"beta.kubernetes.io/os": "linux", "failure-domain.beta.kubernetes.io/region": "us-east-1",
				"failure-domain.beta.kubernetes.io/zone": zone, "kubernetes.io/arch": "amd64",
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
				"node.kubernetes.io/instance-type": itype, "topology.kubernetes.io/region": "us-east-1",
				"topology.kubernetes.io/zone": zone, "topology.ebs.csi.aws.com/zone": zone,
				"eks.amazonaws.com/nodegroup":    fmt.Sprintf("workers-%d", i%8),
				"eks.amazonaws.com/capacityType": "ON_DEMAND",
			},
			Annotations: map[string]string{
				"alpha.kubernetes.io/provided-node-ip":                   fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256),
				"csi.volume.kubernetes.io/nodeid":                        fmt.Sprintf(`{"ebs.csi.aws.com":"i-0%s"}`, g.hex(16)),
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
					Time: ptr.To(mt(created)), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(nodeFieldsKubelet)}},
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
					Time: ptr.To(mt(created.Add(time.Minute))), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:node.alpha.kubernetes.io/ttl":{}}},"f:spec":{"f:podCIDR":{},"f:podCIDRs":{".":{},"v:\"10.244.0.0/24\"":{}}}}`)}},
				{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Subresource: "status",
					Time: ptr.To(mt(hb)), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(nodeFieldsStatus)}},
			},
		},
		Spec: corev1.NodeSpec{
			PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 100+i/256%100, i%256), PodCIDRs: []string{fmt.Sprintf("10.%d.%d.0/24", 100+i/256%100, i%256)},
			ProviderID: fmt.Sprintf("aws:///%s/i-0%s", zone, g.hex(16)),
		},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{
				"cpu": resource.MustParse("8"), "memory": resource.MustParse("32386524Ki"), "pods": resource.MustParse("110"),
				"ephemeral-storage": resource.MustParse("104845292Ki"), "hugepages-1Gi": resource.MustParse("0"), "hugepages-2Mi": resource.MustParse("0"),
			},
			Allocatable: corev1.ResourceList{
				"cpu": resource.MustParse("7910m"), "memory": resource.MustParse("31369692Ki"), "pods": resource.MustParse("110"),
				"ephemeral-storage": resource.MustParse("95551679124"), "hugepages-1Gi": resource.MustParse("0"), "hugepages-2Mi": resource.MustParse("0"),
			},
			Conditions: []corev1.NodeCondition{
				{Type: "MemoryPressure", Status: "False", LastHeartbeatTime: mt(hb), LastTransitionTime: mt(created), Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
				{Type: "DiskPressure", Status: "False", LastHeartbeatTime: mt(hb), LastTransitionTime: mt(created), Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
				{Type: "PIDPressure", Status: "False", LastHeartbeatTime: mt(hb), LastTransitionTime: mt(created), Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
				{Type: "Ready", Status: "True", LastHeartbeatTime: mt(hb), LastTransitionTime: mt(created.Add(20 * time.Second)), Reason: "KubeletReady", Message: "kubelet is posting ready status"},
			},
			Addresses: []corev1.NodeAddress{
				{Type: "InternalIP", Address: fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256)},
				{Type: "InternalDNS", Address: name}, {Type: "Hostname", Address: name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID: g.hex(32), SystemUUID: "ec2" + g.hex(29), BootID: string(g.uid()),
				KernelVersion: "6.1.128-136.201.amzn2023.x86_64", OSImage: "Amazon Linux 2023.6.20250211",
				ContainerRuntimeVersion: "containerd://1.7.25", KubeletVersion: "v1.37.1-eks-5598e6b",
				KubeProxyVersion: "", OperatingSystem: "linux", Architecture: "amd64",
			},
		},
	}
	for k := 0; k < 18; k++ {
		img := images[(i+k)%len(images)]
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{
			Names:     []string{img + "@sha256:" + g.hex(64), img},
			SizeBytes: int64(5_000_000 + g.r.Intn(400_000_000)),
		})
	}
	return n
}

var images = []string{
	"602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19.2",
	"602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.37.1-eksbuild.2",
	"602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.10",
	"docker.io/envoyproxy/envoy:v1.33.0", "quay.io/prometheus/node-exporter:v1.9.0",
	"registry.example.com/payments/api:2.41.7", "registry.example.com/search/indexer:1.8.2",
	"registry.example.com/web/frontend:5.2.0", "registry.example.com/orders/worker:3.3.1",
	"docker.io/fluent/fluent-bit:3.2.6", "registry.k8s.io/coredns/coredns:v1.11.4",
	"public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.39.0", "docker.io/library/redis:7.4.2",
	"registry.example.com/ml/feature-store:0.9.12", "registry.example.com/auth/gateway:4.0.3",
	"registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0", "quay.io/jetstack/cert-manager-webhook:v1.17.1",
	"registry.example.com/inventory/service:7.1.0", "registry.example.com/notifications/sender:1.2.9",
	"docker.io/grafana/promtail:3.4.2", "registry.example.com/reports/batch:2.0.0",
}

const nodeFieldsKubelet = `{"f:metadata":{"f:annotations":{".":{},"f:alpha.kubernetes.io/provided-node-ip":{},"f:volumes.kubernetes.io/controller-managed-attach-detach":{}},"f:labels":{".":{},"f:beta.kubernetes.io/arch":{},"f:beta.kubernetes.io/instance-type":{},"f:beta.kubernetes.io/os":{},"f:eks.amazonaws.com/capacityType":{},"f:eks.amazonaws.com/nodegroup":{},"f:failure-domain.beta.kubernetes.io/region":{},"f:failure-domain.beta.kubernetes.io/zone":{},"f:kubernetes.io/arch":{},"f:kubernetes.io/hostname":{},"f:kubernetes.io/os":{},"f:node.kubernetes.io/instance-type":{},"f:topology.kubernetes.io/region":{},"f:topology.kubernetes.io/zone":{}}},"f:spec":{"f:providerID":{}}}`

const nodeFieldsStatus = `{"f:metadata":{"f:annotations":{"f:csi.volume.kubernetes.io/nodeid":{}},"f:labels":{"f:topology.ebs.csi.aws.com/zone":{}}},"f:status":{"f:allocatable":{"f:ephemeral-storage":{}},"f:capacity":{"f:ephemeral-storage":{}},"f:conditions":{"k:{\"type\":\"DiskPressure\"}":{"f:lastHeartbeatTime":{}},"k:{\"type\":\"MemoryPressure\"}":{"f:lastHeartbeatTime":{}},"k:{\"type\":\"PIDPressure\"}":{"f:lastHeartbeatTime":{}},"k:{\"type\":\"Ready\"}":{"f:lastHeartbeatTime":{},"f:lastTransitionTime":{},"f:message":{},"f:reason":{},"f:status":{}}},"f:images":{},"f:nodeInfo":{"f:bootID":{},"f:systemUUID":{}}}}`

// ---- pods -------------------------------------------------------------------------

type workload struct {
	ns, deploy, rs, hash string
	rsUID                types.UID
	image, sidecar       string
	ncont                int
	gpu                  bool
	port                 int32
}

var words = []string{"api", "web", "worker", "indexer", "gateway", "cache", "sync", "billing", "search",
	"auth", "ingest", "export", "render", "notify", "ledger", "quota", "audit", "report", "feed", "media"}

func (g *gen) workload(ns string, k int) *workload {
	d := fmt.Sprintf("%s-%s-%d", words[g.r.Intn(len(words))], words[g.r.Intn(len(words))], k)
	h := g.suffix(10)
	return &workload{ns: ns, deploy: d, rs: d + "-" + h, hash: h, rsUID: g.uid(),
		image: images[5+g.r.Intn(len(images)-5)], sidecar: images[3], ncont: 2 + g.r.Intn(10)/7,
		gpu: g.r.Intn(20) == 0, port: int32(8000 + g.r.Intn(1000))}
}

func (g *gen) pod(w *workload, node int, created time.Time) *corev1.Pod {
	name := w.rs + "-" + g.suffix(5)
	ip := fmt.Sprintf("10.%d.%d.%d", 100+node/256%100, node%256, 2+g.r.Intn(250))
	hostIP := fmt.Sprintf("10.%d.%d.%d", node/65536%256, node/256%256, node%256)
	sa := "kube-api-access-" + g.suffix(5)
	started := created.Add(time.Duration(2+g.r.Intn(20)) * time.Second)
	ready := started.Add(time.Duration(5+g.r.Intn(30)) * time.Second)
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, GenerateName: w.rs + "-", Namespace: w.ns, UID: g.uid(),
			ResourceVersion:   strconv.FormatInt(baseRV-int64(g.r.Intn(900000)), 10),
			CreationTimestamp: mt(created),
			Labels: map[string]string{"app.kubernetes.io/name": w.deploy, "app.kubernetes.io/part-of": w.ns,
				"pod-template-hash": w.hash, "version": "v" + strconv.Itoa(1+g.r.Intn(9))},
			Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": t0.Add(-72 * time.Hour).Format(time.RFC3339),
				"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(int(w.port) + 1000)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: w.rs, UID: w.rsUID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: w.deploy + "-config"}, DefaultMode: ptr.To[int32](420)}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: sa, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](420),
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
							FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					}}}},
			},
			RestartPolicy: "Always", TerminationGracePeriodSeconds: ptr.To[int64](30), DNSPolicy: "ClusterFirst",
			ServiceAccountName: "default", DeprecatedServiceAccount: "default", NodeName: nodeName(node),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), FSGroup: ptr.To[int64](2000)},
			SchedulerName:   "default-scheduler", Priority: ptr.To[int32](0), EnableServiceLinks: ptr.To(true),
			PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority),
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/memory-pressure", Operator: "Exists", Effect: "NoSchedule"},
				{Key: "dedicated", Operator: "Equal", Value: w.ns, Effect: "NoSchedule"},
			},
		},
	}
	if w.gpu {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"})
	}
	mounts := []corev1.VolumeMount{{Name: "config", ReadOnly: true, MountPath: "/etc/app"}, {Name: "tmp", MountPath: "/tmp"},
		{Name: sa, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
	names := []string{"app", "envoy", "log-shipper"}[:w.ncont]
	imgs := []string{w.image, w.sidecar, images[9]}
	for c, cn := range names {
		ct := corev1.Container{
			Name: cn, Image: imgs[c], ImagePullPolicy: "IfNotPresent",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{"cpu": resource.MustParse(fmt.Sprintf("%dm", 50+50*g.r.Intn(10))), "memory": resource.MustParse(fmt.Sprintf("%dMi", 64*(1+g.r.Intn(8))))},
				Limits:   corev1.ResourceList{"memory": resource.MustParse(fmt.Sprintf("%dMi", 128*(1+g.r.Intn(8))))},
			},
			VolumeMounts:             mounts,
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: "File",
		}
		if c == 0 {
			ct.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: w.port, Protocol: "TCP"}, {Name: "metrics", ContainerPort: w.port + 1000, Protocol: "TCP"}}
			ct.Env = []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
				{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
				{Name: "LOG_LEVEL", Value: "info"}, {Name: "GOMAXPROCS", Value: "2"},
				{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: w.deploy + "-db"}, Key: "url"}}},
			}
			ct.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstrPort(w.port), Scheme: "HTTP"}},
				InitialDelaySeconds: 10, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
		} else if c == 1 {
			ct.Ports = []corev1.ContainerPort{{Name: "envoy-admin", ContainerPort: 15000, Protocol: "TCP"}}
			ct.Args = []string{"-c", "/etc/app/envoy.yaml", "--service-cluster", w.deploy}
		}
		p.Spec.Containers = append(p.Spec.Containers, ct)
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: cn, Ready: true, RestartCount: 0, Image: imgs[c], ImageID: imgs[c] + "@sha256:" + g.hex(64),
			ContainerID: "containerd://" + g.hex(64), Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: mt(started)}},
		})
	}
	p.Status.Phase = "Running"
	p.Status.Conditions = []corev1.PodCondition{
		{Type: "PodReadyToStartContainers", Status: "True", LastTransitionTime: mt(started)},
		{Type: "Initialized", Status: "True", LastTransitionTime: mt(created.Add(time.Second))},
		{Type: "Ready", Status: "True", LastTransitionTime: mt(ready)},
		{Type: "ContainersReady", Status: "True", LastTransitionTime: mt(ready)},
		{Type: "PodScheduled", Status: "True", LastTransitionTime: mt(created)},
	}
	p.Status.HostIP, p.Status.PodIP = hostIP, ip
	p.Status.HostIPs, p.Status.PodIPs = []corev1.HostIP{{IP: hostIP}}, []corev1.PodIP{{IP: ip}}
	p.Status.StartTime = ptr.To(mt(created.Add(time.Second)))
	p.Status.QOSClass = "Burstable"
	p.ManagedFields = []metav1.ManagedFieldsEntry{
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
			Time: ptr.To(mt(created)), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(podFieldsKCM(names))}},
		{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Subresource: "status",
			Time: ptr.To(mt(ready)), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(podFieldsKubelet(ip))}},
	}
	return p
}

func podFieldsKCM(names []string) string {
	s := `{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/restartedAt":{},"f:prometheus.io/port":{},"f:prometheus.io/scrape":{}},"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:pod-template-hash":{},"f:version":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"x\"}":{}}},"f:spec":{"f:containers":{`
	for i, n := range names {
		if i > 0 {
			s += ","
		}
		s += `"k:{\"name\":\"` + n + `\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{},"f:volumeMounts":{}}`
	}
	return s + `},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{".":{},"f:fsGroup":{},"f:runAsNonRoot":{}},"f:terminationGracePeriodSeconds":{},"f:tolerations":{},"f:volumes":{".":{},"k:{\"name\":\"config\"}":{".":{},"f:configMap":{".":{},"f:defaultMode":{},"f:name":{}},"f:name":{}},"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}`
}

func podFieldsKubelet(ip string) string {
	return `{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"PodReadyToStartContainers\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"` + ip + `\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`
}

// ---- writing ------------------------------------------------------------------------

type jw struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func newJW(path string) (*jw, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &jw{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (j *jw) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.n += int64(len(b))
	_, err = j.w.Write(b)
	return err
}

func (j *jw) close() error {
	if err := j.w.Flush(); err != nil {
		return err
	}
	return j.f.Close()
}

type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// generate writes nodes.jsonl, pods.jsonl, node-events.jsonl, pod-events.jsonl and
// meta.json into dir.
func generate(dir string, seed int64, nnodes, npods, nevents int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	g := &gen{r: rand.New(rand.NewSource(seed)), rv: baseRV}
	meta := Meta{Seed: seed, Nodes: nnodes, Pods: npods, ListRV: strconv.FormatInt(baseRV, 10)}

	nodes := make([]*corev1.Node, nnodes)
	nw, err := newJW(filepath.Join(dir, "nodes.jsonl"))
	if err != nil {
		return err
	}
	for i := range nodes {
		nodes[i] = g.node(i)
		if err := nw.line(nodes[i]); err != nil {
			return err
		}
	}
	if err := nw.close(); err != nil {
		return err
	}
	meta.NodeBytes = nw.n

	// Namespaces of ~500 pods; Deployments of 2..20 replicas spread over random nodes.
	var wls []*workload
	pods := make([]*corev1.Pod, 0, npods)
	podWL := make([]*workload, 0, npods)
	pw, err := newJW(filepath.Join(dir, "pods.jsonl"))
	if err != nil {
		return err
	}
	for ns, k := 0, 0; len(pods) < npods; k++ {
		if k%50 == 0 {
			ns++
		}
		w := g.workload(fmt.Sprintf("team-%03d", ns), k)
		wls = append(wls, w)
		reps := 2 + g.r.Intn(19)
		created := t0.Add(-time.Duration(1+g.r.Intn(30*24)) * time.Hour)
		for r := 0; r < reps && len(pods) < npods; r++ {
			p := g.pod(w, g.r.Intn(nnodes), created.Add(time.Duration(r)*time.Second))
			pods = append(pods, p)
			podWL = append(podWL, w)
			if err := pw.line(p); err != nil {
				return err
			}
		}
	}
	if err := pw.close(); err != nil {
		return err
	}
	meta.PodBytes = pw.n

	// The burst: 10% of the nodes go Ready=False then come back; the rest of the
	// events are pod churn: 60% status updates, 20% deletions, 20% replacements.
	ne, err := newJW(filepath.Join(dir, "node-events.jsonl"))
	if err != nil {
		return err
	}
	pe, err := newJW(filepath.Join(dir, "pod-events.jsonl"))
	if err != nil {
		return err
	}
	flip := nnodes / 10
	nodeEv := 2 * flip
	if nodeEv > nevents {
		nodeEv = nevents
	}
	perm := g.r.Perm(nnodes)[:flip]
	flipAt := make(map[int]int) // event index -> node flip index (down in first half, up in second)
	for i := 0; i < nodeEv; i++ {
		flipAt[(i*nevents)/nodeEv] = i
	}
	tev := t0.Add(time.Hour)
	pendingAdd := []*workload{}
	for e := 0; e < nevents; e++ {
		now := tev.Add(time.Duration(e) * time.Millisecond)
		if fi, ok := flipAt[e]; ok {
			i := fi % flip
			down := fi < flip
			n := nodes[perm[i]]
			n.ResourceVersion = g.nextRV()
			for c := range n.Status.Conditions {
				n.Status.Conditions[c].LastHeartbeatTime = mt(now)
			}
			rc := &n.Status.Conditions[3]
			rc.LastTransitionTime = mt(now)
			if down {
				rc.Status, rc.Reason, rc.Message = "False", "KubeletNotReady", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
				n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: "NoSchedule"},
					{Key: "node.kubernetes.io/not-ready", Effect: "NoExecute", TimeAdded: ptr.To(mt(now))}}
			} else {
				rc.Status, rc.Reason, rc.Message = "True", "KubeletReady", "kubelet is posting ready status"
				n.Spec.Taints = nil
			}
			if err := ne.line(watchEvent{"MODIFIED", n}); err != nil {
				return err
			}
			meta.NodeEvents++
			continue
		}
		roll := g.r.Intn(10)
		switch {
		case roll < 6 || len(pods) == 0: // status update: a container restarted
			i := g.r.Intn(len(pods))
			p := pods[i]
			p.ResourceVersion = g.nextRV()
			cs := &p.Status.ContainerStatuses[g.r.Intn(len(p.Status.ContainerStatuses))]
			cs.RestartCount++
			cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled",
				StartedAt: cs.State.Running.StartedAt, FinishedAt: mt(now), ContainerID: cs.ContainerID}}
			cs.ContainerID = "containerd://" + g.hex(64)
			cs.State.Running.StartedAt = mt(now)
			p.Status.Conditions[2].LastTransitionTime = mt(now)
			p.Status.Conditions[3].LastTransitionTime = mt(now)
			p.ManagedFields[1].Time = ptr.To(mt(now))
			if err := pe.line(watchEvent{"MODIFIED", p}); err != nil {
				return err
			}
		case roll < 8 && len(pods) > 1: // deletion (the replacement follows as ADDED)
			i := g.r.Intn(len(pods))
			p := pods[i]
			p.ResourceVersion = g.nextRV()
			p.DeletionTimestamp = ptr.To(mt(now))
			p.DeletionGracePeriodSeconds = ptr.To[int64](0)
			p.Status.Phase = "Succeeded"
			if err := pe.line(watchEvent{"DELETED", p}); err != nil {
				return err
			}
			pendingAdd = append(pendingAdd, podWL[i])
			last := len(pods) - 1
			pods[i], podWL[i] = pods[last], podWL[last]
			pods, podWL = pods[:last], podWL[:last]
		default: // a replacement from the ReplicaSet
			w := wls[g.r.Intn(len(wls))]
			if len(pendingAdd) > 0 {
				w, pendingAdd = pendingAdd[0], pendingAdd[1:]
			}
			p := g.pod(w, g.r.Intn(nnodes), now)
			p.ResourceVersion = g.nextRV()
			pods = append(pods, p)
			podWL = append(podWL, w)
			if err := pe.line(watchEvent{"ADDED", p}); err != nil {
				return err
			}
		}
		meta.PodEvents++
	}
	if err := ne.close(); err != nil {
		return err
	}
	if err := pe.close(); err != nil {
		return err
	}
	meta.EventBytes = ne.n + pe.n
	meta.LastRV = strconv.FormatInt(g.rv, 10)
	b, _ := json.MarshalIndent(meta, "", "  ")
	return os.WriteFile(filepath.Join(dir, "meta.json"), append(b, '\n'), 0o644)
}
