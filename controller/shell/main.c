/*
 * firebreak - keeps one bad workload from killing a Kubernetes cluster node
 * after node. Entry point: flags, signals, then the controller (controller.h).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "controller.h"
#include "kc/alloc.h"
#include "log.h"
#include "tolerations.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: firebreak [options]\n"
	        "\n"
	        "Evicts pods from failed nodes at a budgeted, zone-aware rate in place of the\n"
	        "taint-eviction controller, and quarantines the workload that keeps killing nodes.\n"
	        "\n"
	        "  --config FILE         settings file (YAML; see config/firebreak.yaml); flags\n"
	        "                        given here override it\n"
	        "  --kubeconfig PATH     kubeconfig to use (default: in-cluster, $KUBECONFIG,\n"
	        "                        ~/.kube/config)\n"
	        "  --context NAME        kubeconfig context (default: current-context)\n"
	        "  --dry-run             decide and report (logs, Events) but change nothing\n"
	        "  --leader-elect=BOOL   campaign for a Lease before acting (default true)\n"
	        "  --lease-namespace NS  namespace of the Lease (default: the client's namespace)\n"
	        "  --lease-name NAME     name of the Lease (default firebreak)\n"
	        "  --qps N --burst N     client-side rate limit (default 20 / 30)\n"
	        "  --metrics-addr ADDR   serve /metrics /healthz /readyz on host:port (default\n"
	        "                        :8080; \"\" turns it off)\n"
	        "  --webhook-addr ADDR   HTTPS listen address of the admission webhook (default\n"
	        "                        :9443; \"\" turns it off)\n"
	        "  --namespace NS        firebreak's own namespace, where the webhook's Secret is\n"
	        "                        (default: the in-cluster namespace, else the client's)\n"
	        "  --webhook-secret NAME Secret with the webhook's CA and serving certificate\n"
	        "                        (default firebreak-webhook-tls)\n"
	        "  --webhook-config NAME MutatingWebhookConfiguration whose caBundle firebreak\n"
	        "                        keeps (default firebreak)\n"
	        "  --webhook-service NAME  Service in front of the webhook; the certificate is\n"
	        "                        for NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local\n"
	        "                        (default firebreak-webhook)\n"
	        "  --webhook-san LIST    extra SANs of the certificate, comma separated (IPs or\n"
	        "                        DNS names)\n"
	        "  --webhook-exclude-namespaces LIST  namespaces the webhook configuration leaves\n"
	        "                        out besides kube-system, kube-node-lease and --namespace\n"
	        "                        (comma separated): their pods are never gated\n"
	        "  --webhook-certs MODE  self: firebreak creates and rotates the certificates and\n"
	        "                        keeps the caBundle (default); external: cert-manager\n"
	        "                        does, firebreak only loads them from the Secret\n"
	        "  --managed[=BOOL]      managed mode, for clusters where Kubernetes' taint-eviction\n"
	        "                        controller cannot be turned off: the webhook covers new\n"
	        "                        pods' not-ready/unreachable tolerations (seconds removed,\n"
	        "                        kept in an annotation firebreak honours), older pods are\n"
	        "                        adopted; without it, covered pods get their seconds back\n"
	        "  --adopt-rate N        pods covered or given back per second (default 10)\n"
	        "  --default-toleration-seconds N  seconds recorded for a pod with no not-ready or\n"
	        "                        unreachable toleration (as kube-apiserver's\n"
	        "                        --default-*-toleration-seconds; default 300)\n"
	        "  --restore-tolerations give every pod firebreak covered its seconds back, then\n"
	        "                        exit (uninstall; no election, no webhook)\n"
	        "  --stop-deployment NAME  with --restore-tolerations: first scale firebreak's\n"
	        "                        Deployment NAME (in --namespace) to zero and wait\n"
	        "  --log-level LEVEL     debug, info, warn, error (default info)\n"
	        "  --log-format FORMAT   text (logfmt) or json (default text)\n"
	        "  --exit-after-sync     list and watch until caches sync, report, exit\n"
	        "  --version             print the version and exit\n");
}

static bool parse_bool(const char *s, bool *out)
{
	if (!s || strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) /* NaN too */
		return false;
	*out = v;
	return true;
}

typedef struct signal_ctx {
	sigset_t set;
	kc_cancel *stop;
} signal_ctx;

/* SIGINT/SIGTERM are blocked everywhere and taken here, where firing is safe. */
static void *signal_main(void *arg)
{
	signal_ctx *s = arg;
	int sig = 0;
	while (sigwait(&s->set, &sig) == 0) {
		if (sig == SIGINT || sig == SIGTERM) {
			fb_log(FB_INFO, "signal received, shutting down", "signal=%d", sig);
			kc_cancel_fire(s->stop);
			return NULL;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	enum { O_CONFIG = 1, O_METRICS_ADDR, O_KUBECONFIG, O_CONTEXT, O_DRY_RUN, O_LEADER_ELECT, O_LEASE_NS, O_LEASE_NAME,
	       O_QPS, O_BURST, O_LOG_LEVEL, O_LOG_FORMAT, O_EXIT_AFTER_SYNC, O_VERSION, O_HELP,
	       O_WEBHOOK_ADDR, O_NAMESPACE, O_WEBHOOK_SECRET, O_WEBHOOK_CONFIG, O_WEBHOOK_SERVICE,
	       O_WEBHOOK_SAN, O_WEBHOOK_CERTS, O_WEBHOOK_EXCLUDE_NS, O_MANAGED, O_ADOPT_RATE,
	       O_DEFAULT_TOL, O_RESTORE, O_STOP_DEPLOYMENT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "metrics-addr", required_argument, NULL, O_METRICS_ADDR },
		{ "kubeconfig", required_argument, NULL, O_KUBECONFIG },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "leader-elect", optional_argument, NULL, O_LEADER_ELECT },
		{ "lease-namespace", required_argument, NULL, O_LEASE_NS },
		{ "lease-name", required_argument, NULL, O_LEASE_NAME },
		{ "qps", required_argument, NULL, O_QPS },
		{ "burst", required_argument, NULL, O_BURST },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "log-format", required_argument, NULL, O_LOG_FORMAT },
		{ "exit-after-sync", no_argument, NULL, O_EXIT_AFTER_SYNC },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, O_HELP },
		{ "webhook-addr", required_argument, NULL, O_WEBHOOK_ADDR },
		{ "namespace", required_argument, NULL, O_NAMESPACE },
		{ "webhook-secret", required_argument, NULL, O_WEBHOOK_SECRET },
		{ "webhook-config", required_argument, NULL, O_WEBHOOK_CONFIG },
		{ "webhook-service", required_argument, NULL, O_WEBHOOK_SERVICE },
		{ "webhook-san", required_argument, NULL, O_WEBHOOK_SAN },
		{ "webhook-exclude-namespaces", required_argument, NULL, O_WEBHOOK_EXCLUDE_NS },
		{ "webhook-certs", required_argument, NULL, O_WEBHOOK_CERTS },
		{ "managed", optional_argument, NULL, O_MANAGED },
		{ "adopt-rate", required_argument, NULL, O_ADOPT_RATE },
		{ "default-toleration-seconds", required_argument, NULL, O_DEFAULT_TOL },
		{ "restore-tolerations", no_argument, NULL, O_RESTORE },
		{ "stop-deployment", required_argument, NULL, O_STOP_DEPLOYMENT },
		{ NULL, 0, NULL, 0 },
	};
	fb_settings set;
	fb_settings_defaults(&set);
	fb_controller_options o;
	int opt;
	double num;
	/* First pass: only --config, so that the other flags override the file. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != O_CONFIG)
			continue;
		char err[512];
		if (fb_settings_load_file(&set, optarg, err, sizeof(err)) != 0) {
			fprintf(stderr, "firebreak: invalid settings: %s\n", err);
			fb_settings_release(&set);
			return 2;
		}
	}
	opterr = 1;
	optind = 0; /* glibc: rescan from the start */
	o = set.ctl;
	fb_log_level level = set.log_level;
	fb_log_format format = set.log_format;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_CONFIG: break;
		case O_METRICS_ADDR: o.metrics_addr = optarg; break;
		case O_KUBECONFIG: o.kubeconfig = optarg; break;
		case O_CONTEXT: o.context = optarg; break;
		case O_DRY_RUN: o.core.dry_run = true; break;
		case O_LEADER_ELECT:
			if (!parse_bool(optarg, &o.leader_elect)) {
				fprintf(stderr, "firebreak: --leader-elect takes true or false\n");
				return 2;
			}
			break;
		case O_LEASE_NS: o.lease_namespace = optarg; break;
		case O_LEASE_NAME: o.lease_name = optarg; break;
		case O_QPS:
			if (!parse_num(optarg, 0.1, 10000, &num)) {
				fprintf(stderr, "firebreak: --qps takes a number from 0.1 to 10000\n");
				return 2;
			}
			o.client.qps = num;
			break;
		case O_BURST:
			if (!parse_num(optarg, 1, 100000, &num)) {
				fprintf(stderr, "firebreak: --burst takes a whole number from 1 to 100000\n");
				return 2;
			}
			o.client.burst = (int)num;
			break;
		case O_LOG_LEVEL:
			if (!fb_log_parse_level(optarg, &level)) {
				fprintf(stderr, "firebreak: --log-level takes debug, info, warn or error\n");
				return 2;
			}
			break;
		case O_LOG_FORMAT:
			if (!fb_log_parse_format(optarg, &format)) {
				fprintf(stderr, "firebreak: --log-format takes text or json\n");
				return 2;
			}
			break;
		case O_EXIT_AFTER_SYNC: o.exit_after_sync = true; break;
		case O_WEBHOOK_ADDR: o.webhook_addr = optarg; break;
		case O_NAMESPACE: o.namespace = optarg; break;
		case O_WEBHOOK_SECRET: o.webhook_secret = optarg; break;
		case O_WEBHOOK_CONFIG: o.webhook_config = optarg; break;
		case O_WEBHOOK_SERVICE: o.webhook_service = optarg; break;
		case O_WEBHOOK_SAN: o.webhook_sans = optarg; break;
		case O_WEBHOOK_EXCLUDE_NS: o.webhook_exclude_ns = optarg; break;
		case O_WEBHOOK_CERTS:
			if (!fb_certs_mode_parse(optarg, &o.webhook_certs)) {
				fprintf(stderr, "firebreak: --webhook-certs takes self or external\n");
				return 2;
			}
			break;
		case O_MANAGED:
			if (!parse_bool(optarg, &o.core.managed)) {
				fprintf(stderr, "firebreak: --managed takes true or false\n");
				return 2;
			}
			break;
		case O_ADOPT_RATE:
			if (!parse_num(optarg, 0.1, 10000, &num)) {
				fprintf(stderr, "firebreak: --adopt-rate takes a number from 0.1 to 10000\n");
				return 2;
			}
			o.core.adopt_per_s = num;
			break;
		case O_DEFAULT_TOL:
			if (!parse_num(optarg, 0, FB_TOLERATION_S_MAX, &num) || num != (double)(int64_t)num) {
				fprintf(stderr, "firebreak: --default-toleration-seconds takes a whole number "
				        "of seconds from 0 to 1000000000000\n");
				return 2;
			}
			o.default_toleration_s = (int64_t)num;
			break;
		case O_RESTORE: o.restore_only = true; break;
		case O_STOP_DEPLOYMENT: o.stop_deployment = optarg; break;
		case O_VERSION:
			printf("firebreak %s\n", FB_VERSION);
			fb_settings_release(&set);
			return 0;
		case O_HELP:
			usage(stdout);
			fb_settings_release(&set);
			return 0;
		default:
			usage(stderr);
			fb_settings_release(&set);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "firebreak: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	fb_log_setup(level, format);
	fb_tune_malloc();
	if (kc_global_init() != 0) {
		fb_log(FB_ERROR, "cannot initialise libcurl", NULL);
		return 1;
	}

	signal_ctx sig;
	sigemptyset(&sig.set);
	sigaddset(&sig.set, SIGINT);
	sigaddset(&sig.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sig.set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (kc_cancel_new(&sig.stop) != KC_OK)
		return 1;
	pthread_t sig_thread;
	if (pthread_create(&sig_thread, NULL, signal_main, &sig) != 0) {
		kc_cancel_free(sig.stop);
		return 1;
	}
	pthread_detach(sig_thread);

	if (o.stop_deployment && !o.restore_only) {
		fprintf(stderr, "firebreak: --stop-deployment goes with --restore-tolerations\n");
		return 2;
	}
	fb_log(FB_INFO, "firebreak starting", "version=%s mode=%s dry_run=%s leader_elect=%s",
	       FB_VERSION,
	       o.restore_only ? "restore-tolerations" : o.core.managed ? "managed" : "self-managed",
	       o.core.dry_run ? "true" : "false", o.leader_elect ? "true" : "false");
	int rc = fb_controller_run(&o, sig.stop);
	fb_settings_release(&set);
	/* the signal thread may still be waiting: leave the token to process exit */
	kc_global_cleanup();
	return rc;
}
