/* config.c - the YAML configuration file (see config.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "yamlerr.h"

#include "config.h"
#include "duration.h"
#include "kc/alloc.h"
#include "kc/names.h"
#include "tolerations.h"

/* ---- the file's shape ------------------------------------------------------- */

typedef struct file_leader {
	char *enabled;
	char *namespace_, *name, *lease_duration, *renew_deadline, *retry_period;
} file_leader;

typedef struct file_client {
	double *qps;
	char *burst;
} file_client;

typedef struct file_log {
	char *level, *format;
} file_log;

typedef struct file_eviction {
	double *rate, *secondary_rate, *unhealthy_threshold;
	char *large_cluster;
	char *mode, *pdb_blocked_timeout;
	char *max_actions_per_tick;
} file_eviction;

typedef struct file_managed {
	char *enabled;
	double *adopt_rate;
	char *default_toleration_seconds;
} file_managed;

typedef struct file_poison {
	char *verdict;
	double *false_alarms_per_year, *prior_failures_per_node_day, *ratio;
	char *background_period, *memory_pressure_evidence;
} file_poison;

typedef struct file_config {
	char *kubeconfig, *context, *metrics_addr;
	char *webhook_addr, *namespace_, *webhook_secret, *webhook_config, *webhook_service;
	char *webhook_san, *webhook_certs, *webhook_exclude_ns;
	char *dry_run;
	file_leader *leader;
	file_client *client;
	file_log *log;
	file_eviction *eviction;
	file_managed *managed;
	file_poison *poison;
} file_config;

#define OPT CYAML_FLAG_OPTIONAL
#define STR(key, type, member) CYAML_FIELD_STRING_PTR(key, OPT | CYAML_FLAG_POINTER, type, member, 0, 1024)

static const cyaml_schema_field_t leader_fields[] = {
	STR("enabled", file_leader, enabled),
	STR("namespace", file_leader, namespace_),
	STR("name", file_leader, name),
	STR("leaseDuration", file_leader, lease_duration),
	STR("renewDeadline", file_leader, renew_deadline),
	STR("retryPeriod", file_leader, retry_period),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t client_fields[] = {
	CYAML_FIELD_FLOAT_PTR("qps", OPT | CYAML_FLAG_POINTER, file_client, qps),
	STR("burst", file_client, burst),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t log_fields[] = {
	STR("level", file_log, level),
	STR("format", file_log, format),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t eviction_fields[] = {
	CYAML_FIELD_FLOAT_PTR("nodeEvictionRate", OPT | CYAML_FLAG_POINTER, file_eviction, rate),
	CYAML_FIELD_FLOAT_PTR("secondaryNodeEvictionRate", OPT | CYAML_FLAG_POINTER, file_eviction,
	                      secondary_rate),
	CYAML_FIELD_FLOAT_PTR("unhealthyZoneThreshold", OPT | CYAML_FLAG_POINTER, file_eviction,
	                      unhealthy_threshold),
	STR("largeClusterSizeThreshold", file_eviction, large_cluster),
	STR("podEvictionMode", file_eviction, mode),
	STR("pdbBlockedTimeout", file_eviction, pdb_blocked_timeout),
	STR("maxPodActionsPerTick", file_eviction, max_actions_per_tick),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t managed_fields[] = {
	STR("enabled", file_managed, enabled),
	CYAML_FIELD_FLOAT_PTR("adoptRate", OPT | CYAML_FLAG_POINTER, file_managed, adopt_rate),
	STR("defaultTolerationSeconds", file_managed, default_toleration_seconds),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t poison_fields[] = {
	STR("verdict", file_poison, verdict),
	CYAML_FIELD_FLOAT_PTR("falseAlarmsPerYear", OPT | CYAML_FLAG_POINTER, file_poison,
	                      false_alarms_per_year),
	CYAML_FIELD_FLOAT_PTR("priorFailuresPerNodeDay", OPT | CYAML_FLAG_POINTER, file_poison,
	                      prior_failures_per_node_day),
	STR("backgroundPeriod", file_poison, background_period),
	STR("memoryPressureEvidence", file_poison, memory_pressure_evidence),
	CYAML_FIELD_FLOAT_PTR("ratio", OPT | CYAML_FLAG_POINTER, file_poison, ratio),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	STR("kubeconfig", file_config, kubeconfig),
	STR("context", file_config, context),
	STR("metricsAddr", file_config, metrics_addr),
	STR("webhookAddr", file_config, webhook_addr),
	STR("namespace", file_config, namespace_),
	STR("webhookSecret", file_config, webhook_secret),
	STR("webhookConfig", file_config, webhook_config),
	STR("webhookService", file_config, webhook_service),
	STR("webhookSan", file_config, webhook_san),
	STR("webhookExcludeNamespaces", file_config, webhook_exclude_ns),
	STR("webhookCerts", file_config, webhook_certs),
	STR("dryRun", file_config, dry_run),
	CYAML_FIELD_MAPPING_PTR("leaderElection", OPT | CYAML_FLAG_POINTER, file_config, leader,
	                        leader_fields),
	CYAML_FIELD_MAPPING_PTR("client", OPT | CYAML_FLAG_POINTER, file_config, client,
	                        client_fields),
	CYAML_FIELD_MAPPING_PTR("log", OPT | CYAML_FLAG_POINTER, file_config, log, log_fields),
	CYAML_FIELD_MAPPING_PTR("eviction", OPT | CYAML_FLAG_POINTER, file_config, eviction,
	                        eviction_fields),
	CYAML_FIELD_MAPPING_PTR("managed", OPT | CYAML_FLAG_POINTER, file_config, managed,
	                        managed_fields),
	CYAML_FIELD_MAPPING_PTR("poison", OPT | CYAML_FLAG_POINTER, file_config, poison,
	                        poison_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, file_config, top_fields),
};

/* ---- loading -------------------------------------------------------------------- */


void fb_settings_defaults(fb_settings *s)
{
	memset(s, 0, sizeof(*s));
	fb_controller_options_defaults(&s->ctl);
	s->ctl.metrics_addr = ":8080";
	s->log_level = FB_INFO;
	s->log_format = FB_LOG_TEXT;
}

void fb_settings_release(fb_settings *s)
{
	for (size_t i = 0; i < s->nowned; i++)
		kc_free(s->owned[i]);
	s->nowned = 0;
}

static const char *keep(fb_settings *s, const char *v)
{
	if (s->nowned == sizeof(s->owned) / sizeof(s->owned[0]))
		return NULL;
	char *copy = kc_strdup(v);
	if (copy)
		s->owned[s->nowned++] = copy;
	return copy;
}

#define BAD(...)                                                   \
	do {                                                       \
		int n_ = snprintf(err, errcap, "%s: ", name);      \
		if (n_ >= 0 && (size_t)n_ < errcap)                \
			snprintf(err + n_, errcap - (size_t)n_, __VA_ARGS__); \
		goto out;                                          \
	} while (0)

static bool duration(const char *v, int64_t *out)
{
	return v && fb_duration_parse(v, out) && *out >= 0;
}

/* The webhook's keys (top level, as the flags of the same names). */
static int apply_webhook(fb_settings *s, const file_config *f, char *err, size_t errcap,
                         const char *name)
{
	fb_controller_options *o = &s->ctl;
	const struct {
		const char *value;
		const char **to;
	} strs[] = {
		{ f->webhook_addr, &o->webhook_addr },     { f->namespace_, &o->namespace },
		{ f->webhook_secret, &o->webhook_secret }, { f->webhook_config, &o->webhook_config },
		{ f->webhook_service, &o->webhook_service }, { f->webhook_san, &o->webhook_sans },
		{ f->webhook_exclude_ns, &o->webhook_exclude_ns },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strs[i].value && !(*strs[i].to = keep(s, strs[i].value))) {
			snprintf(err, errcap, "%s: out of memory", name);
			return -1;
		}
	}
	if (f->webhook_certs && !fb_certs_mode_parse(f->webhook_certs, &o->webhook_certs)) {
		snprintf(err, errcap, "%s: webhookCerts \"%s\" is not self or external", name,
		         f->webhook_certs);
		return -1;
	}
	fb_sans sans;
	char why[200];
	if (f->webhook_san && fb_sans_build(&sans, "x", "y", f->webhook_san, why, sizeof(why)) != 0) {
		snprintf(err, errcap, "%s: webhookSan: %s", name, why);
		return -1;
	}
	return 0;
}

/*
 * Booleans and whole numbers are read as text and parsed here, strictly: libcyaml 1.3 reads
 * any boolean but its words for false as true ("enabled: flase" would switch managed mode on)
 * and an integer up to its first non-digit ("120s" would be 120).
 */
static bool strict_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return *out = true;
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return !(*out = false);
	return false;
}

static bool strict_int(const char *s, long long lo, long long hi, long long *out)
{
	if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
		return false; /* no space, sign + or empty value before strtoll */
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int fb_settings_load_mem(fb_settings *s, const char *data, size_t len, const char *name,
                         char *err, size_t errcap)
{
	fb_yaml_errors lc;
	cyaml_config_t cfg;
	fb_yaml_config(&cfg, &lc);
	file_config *f = NULL;
	int rc = -1;
	if (len > FB_CONFIG_FILE_MAX)
		BAD("larger than %u bytes", FB_CONFIG_FILE_MAX);
	if (len == 0) /* an empty file means all defaults */
		return 0;
	cyaml_err_t cerr = cyaml_load_data((const uint8_t *)data, len, &cfg, &top_schema,
	                                   (cyaml_data_t **)&f, NULL);
	if (cerr != CYAML_OK)
		BAD("%s%s%s", cyaml_strerror(cerr), lc.msg[0] ? ": " : "", lc.msg);
	if (!f)
		return 0;
	fb_controller_options *o = &s->ctl;
	if (f->kubeconfig && !(o->kubeconfig = keep(s, f->kubeconfig)))
		BAD("out of memory");
	if (f->context && !(o->context = keep(s, f->context)))
		BAD("out of memory");
	if (f->metrics_addr && !(o->metrics_addr = keep(s, f->metrics_addr)))
		BAD("out of memory");
	long long n;
	if (f->dry_run && !strict_bool(f->dry_run, &o->core.dry_run))
		BAD("dryRun \"%s\" is not true or false", f->dry_run);
	if (f->managed) {
		const file_managed *m = f->managed;
		if (m->enabled && !strict_bool(m->enabled, &o->core.managed))
			BAD("managed.enabled \"%s\" is not true or false", m->enabled);
		if (m->adopt_rate) {
			if (!(*m->adopt_rate >= 0.1 && *m->adopt_rate <= 10000))
				BAD("managed.adoptRate must be from 0.1 to 10000");
			o->core.adopt_per_s = *m->adopt_rate;
		}
		if (m->default_toleration_seconds) {
			if (!strict_int(m->default_toleration_seconds, 0, FB_TOLERATION_S_MAX, &n))
				BAD("managed.defaultTolerationSeconds \"%s\" is not a whole number of "
				    "seconds from 0 to 1000000000000", m->default_toleration_seconds);
			o->default_toleration_s = n;
		}
	}
	if (f->poison) {
		const file_poison *p = f->poison;
		fb_core_config *cc = &o->core;
		if (p->verdict) {
			if (strcmp(p->verdict, "Surprise") == 0)
				cc->verdict = FB_VERDICT_SURPRISE;
			else if (strcmp(p->verdict, "Ratio") == 0)
				cc->verdict = FB_VERDICT_RATIO;
			else
				BAD("poison.verdict \"%s\" is not Surprise or Ratio", p->verdict);
		}
		if (p->false_alarms_per_year) {
			if (!(*p->false_alarms_per_year >= 1e-6 && *p->false_alarms_per_year <= 1000))
				BAD("poison.falseAlarmsPerYear must be from 0.000001 to 1000");
			cc->false_alarms_per_year = *p->false_alarms_per_year;
		}
		if (p->prior_failures_per_node_day) {
			if (!(*p->prior_failures_per_node_day >= 1e-6 &&
			      *p->prior_failures_per_node_day <= 100))
				BAD("poison.priorFailuresPerNodeDay must be from 0.000001 to 100");
			cc->prior_failures_per_node_day = *p->prior_failures_per_node_day;
		}
		if (p->background_period &&
		    (!duration(p->background_period, &cc->background_period_ms) ||
		     cc->background_period_ms < 3600 * 1000LL ||
		     cc->background_period_ms > 366 * 24 * 3600 * 1000LL))
			BAD("poison.backgroundPeriod \"%s\" is not a duration from 1h to 8784h",
			    p->background_period);
		if (p->memory_pressure_evidence &&
		    !strict_bool(p->memory_pressure_evidence, &cc->memory_pressure_evidence))
			BAD("poison.memoryPressureEvidence \"%s\" is not true or false",
			    p->memory_pressure_evidence);
		if (p->ratio) {
			if (!(*p->ratio > 0 && *p->ratio <= 1))
				BAD("poison.ratio must be above 0 and at most 1");
			cc->poison_ratio = *p->ratio;
		}
	}
	if (apply_webhook(s, f, err, errcap, name) != 0)
		goto out;
	if (f->leader) {
		file_leader *l = f->leader;
		if (l->enabled && !strict_bool(l->enabled, &o->leader_elect))
			BAD("leaderElection.enabled \"%s\" is not true or false", l->enabled);
		if (l->namespace_ && !(o->lease_namespace = keep(s, l->namespace_)))
			BAD("out of memory");
		if (l->name && !(o->lease_name = keep(s, l->name)))
			BAD("out of memory");
		if (l->lease_duration && !duration(l->lease_duration, &o->timing.lease_duration_ms))
			BAD("leaderElection.leaseDuration \"%s\" is not a duration such as \"15s\"",
			    l->lease_duration);
		if (l->renew_deadline && !duration(l->renew_deadline, &o->timing.renew_deadline_ms))
			BAD("leaderElection.renewDeadline \"%s\" is not a duration such as \"10s\"",
			    l->renew_deadline);
		if (l->retry_period && !duration(l->retry_period, &o->timing.retry_period_ms))
			BAD("leaderElection.retryPeriod \"%s\" is not a duration such as \"2s\"",
			    l->retry_period);
		kc_leader_timing t = o->timing;
		kc_error_detail d;
		if (kc_leader_timing_validate(&t, &d) != KC_OK)
			BAD("leaderElection: %s", d.message);
	}
	if (f->client) {
		if (f->client->qps) {
			if (!(*f->client->qps > 0 && *f->client->qps <= 10000))
				BAD("client.qps must be above 0 and at most 10000");
			o->client.qps = *f->client->qps;
		}
		if (f->client->burst) {
			if (!strict_int(f->client->burst, 1, 100000, &n))
				BAD("client.burst \"%s\" is not a whole number from 1 to 100000",
				    f->client->burst);
			o->client.burst = (int)n;
		}
	}
	if (f->log) {
		if (f->log->level && !fb_log_parse_level(f->log->level, &s->log_level))
			BAD("log.level \"%s\" is not debug, info, warn or error", f->log->level);
		if (f->log->format && !fb_log_parse_format(f->log->format, &s->log_format))
			BAD("log.format \"%s\" is not text or json", f->log->format);
	}
	if (f->eviction) {
		file_eviction *e = f->eviction;
		fb_rates *r = &o->core.rates;
		if (e->rate) {
			if (!(*e->rate >= 0 && *e->rate <= 1e6))
				BAD("eviction.nodeEvictionRate must be 0 or more");
			r->normal = *e->rate;
		}
		if (e->secondary_rate) {
			if (!(*e->secondary_rate >= 0 && *e->secondary_rate <= 1e6))
				BAD("eviction.secondaryNodeEvictionRate must be 0 or more");
			r->secondary = *e->secondary_rate;
		}
		if (e->unhealthy_threshold) {
			if (!(*e->unhealthy_threshold >= 0 && *e->unhealthy_threshold <= 1))
				BAD("eviction.unhealthyZoneThreshold must be from 0 to 1");
			r->unhealthy_threshold = *e->unhealthy_threshold;
		}
		if (e->large_cluster) {
			if (!strict_int(e->large_cluster, 0, 1000000, &n))
				BAD("eviction.largeClusterSizeThreshold \"%s\" is not a whole number from "
				    "0 to 1000000", e->large_cluster);
			r->large_cluster_threshold = (int)n;
		}
		if (e->mode) {
			if (strcmp(e->mode, "Evict") == 0)
				o->core.defaults.mode = FB_MODE_EVICT;
			else if (strcmp(e->mode, "Delete") == 0)
				o->core.defaults.mode = FB_MODE_DELETE;
			else
				BAD("eviction.podEvictionMode \"%s\" is not Evict or Delete", e->mode);
		}
		if (e->pdb_blocked_timeout &&
		    !duration(e->pdb_blocked_timeout, &o->core.defaults.pdb_blocked_timeout_ms))
			BAD("eviction.pdbBlockedTimeout \"%s\" is not a duration such as \"10m\"",
			    e->pdb_blocked_timeout);
		if (e->max_actions_per_tick) {
			if (!strict_int(e->max_actions_per_tick, 1, 100000, &n))
				BAD("eviction.maxPodActionsPerTick \"%s\" is not a whole number from 1 to "
				    "100000", e->max_actions_per_tick);
			o->core.max_pod_actions_per_tick = (int)n;
		}
	}
	rc = 0;
out:
	if (f)
		cyaml_free(&cfg, &top_schema, f, 0);
	return rc;
}

int fb_settings_load_file(fb_settings *s, const char *path, char *err, size_t errcap)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char *buf = kc_malloc(FB_CONFIG_FILE_MAX + 1);
	if (!buf) {
		fclose(fp);
		snprintf(err, errcap, "%s: out of memory", path);
		return -1;
	}
	size_t n = fread(buf, 1, FB_CONFIG_FILE_MAX + 1, fp);
	bool bad = ferror(fp);
	fclose(fp);
	int rc;
	if (bad) {
		snprintf(err, errcap, "%s: cannot read", path);
		rc = -1;
	} else {
		rc = fb_settings_load_mem(s, buf, n, path, err, errcap);
	}
	kc_free(buf);
	return rc;
}

const char *fb_own_namespace(const char *given, const char *file, const char *fallback, char *buf,
                             size_t cap)
{
	if (given && given[0])
		return given;
	FILE *fp = file ? fopen(file, "rb") : NULL;
	if (!fp || cap < 2)
		goto out_fallback;
	size_t n = fread(buf, 1, cap - 1, fp);
	bool whole = feof(fp) && !ferror(fp);
	fclose(fp);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (whole && kc_is_dns_label(buf, n)) /* what a namespace's name is */
		return buf;
out_fallback:
	return fallback;
}
