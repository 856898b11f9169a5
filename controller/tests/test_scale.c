/*
 * ScaleToZero on the wire (controller/shell/scale.c) against a small fake of
 * the apps/v1 API: the count is annotated before the scale subresource is
 * patched to 0, an existing annotation is never overwritten (a second run
 * after a crash keeps the first count), the annotation write is
 * resourceVersion-checked and retried on conflict, the restore patches the
 * scale before removing the annotation and leaves replicas someone else set,
 * a missing workload is GONE, one managed by another controller or of a kind
 * without a scale subresource is REFUSED without a single write.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kc/alloc.h"
#include "kctest.h"
#include "scale.h"
#include "testserver.h"

#define LOG_MAX 16

/* One workload the fake serves, and what was asked of it. */
typedef struct fake {
	pthread_mutex_t mu;
	char plural[32];           /* "deployments" or "statefulsets" */
	bool exists;
	long replicas;
	char annotation[64];       /* "" = absent */
	long rv;
	bool managed;              /* a controller ownerReference */
	int conflicts;             /* answer this many annotation writes with 409 (and bump) */
	int scale_status;          /* answer scale patches with this (0 = as usual) */
	char log[LOG_MAX][160];    /* "GET", "PATCH annotation=3 rv=7", "PATCH scale=0", ... */
	int nlog;
} fake;

static fake F;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	if (F.nlog == LOG_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(F.log[F.nlog++], sizeof(F.log[0]), fmt, ap);
	va_end(ap);
}

static char *object_json(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(meta, "name", "render");
	cJSON_AddStringToObject(meta, "namespace", "gpu");
	char rv[32];
	snprintf(rv, sizeof(rv), "%ld", F.rv);
	cJSON_AddStringToObject(meta, "resourceVersion", rv);
	if (F.annotation[0]) {
		cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
		cJSON_AddStringToObject(ann, "other", "kept");
		cJSON_AddStringToObject(ann, FB_REPLICAS_ANNOTATION, F.annotation);
	}
	if (F.managed) {
		cJSON *refs = cJSON_AddArrayToObject(meta, "ownerReferences");
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "kind", "Rollout");
		cJSON_AddStringToObject(r, "name", "render");
		cJSON_AddTrueToObject(r, "controller");
		cJSON_AddItemToArray(refs, r);
	}
	cJSON *spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddNumberToObject(spec, "replicas", (double)F.replicas);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static const char not_found[] =
	"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}";
static const char conflict[] =
	"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409}";

/* The resourceVersion precondition a merge patch may carry; 0 = none. */
static long precondition(const cJSON *patch)
{
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(patch, "metadata"), "resourceVersion");
	return cJSON_IsString(rv) ? strtol(rv->valuestring, NULL, 10) : 0;
}

static void handler(void *ud, const kt_request *req, kt_conn *conn)
{
	(void)ud;
	char base[128], ct[128] = "";
	pthread_mutex_lock(&F.mu);
	snprintf(base, sizeof(base), "/apis/apps/v1/namespaces/gpu/%s/render", F.plural);
	size_t bl = strlen(base);
	bool scale = !strcmp(req->path + (strncmp(req->path, base, bl) ? 0 : bl), "/scale");
	if (strncmp(req->path, base, bl) != 0 || (req->path[bl] && !scale)) {
		logf_("%s %s (unexpected)", req->method, req->path);
		pthread_mutex_unlock(&F.mu);
		kt_respond(conn, 404, NULL, not_found);
		return;
	}
	if (!F.exists) {
		logf_("%s%s (gone)", req->method, scale ? " scale" : "");
		pthread_mutex_unlock(&F.mu);
		kt_respond(conn, 404, NULL, not_found);
		return;
	}
	if (!strcmp(req->method, "GET") && !scale) {
		logf_("GET");
		char *body = object_json(); /* NULL when an injected allocation failure hits it */
		pthread_mutex_unlock(&F.mu);
		kt_respond(conn, body ? 200 : 500, NULL, body ? body : "{}");
		cJSON_free(body);
		return;
	}
	kt_header(req, "Content-Type", ct, sizeof(ct));
	cJSON *patch = cJSON_Parse(req->body);
	long pre = precondition(patch);
	int status = 200;
	if (strcmp(req->method, "PATCH") != 0 || strcmp(ct, "application/merge-patch+json") != 0) {
		logf_("%s %s (unexpected)", req->method, ct);
		status = 415;
	} else if (scale) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(patch, "spec"), "replicas");
		logf_("PATCH scale=%d%s", cJSON_IsNumber(r) ? r->valueint : -1, pre ? " rv" : "");
		if (F.scale_status) {
			status = F.scale_status;
		} else if (pre && pre != F.rv) {
			status = 409;
		} else if (cJSON_IsNumber(r)) {
			F.replicas = r->valueint;
			F.rv++;
		}
	} else {
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(patch, "metadata"), "annotations");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(ann, FB_REPLICAS_ANNOTATION);
		logf_("PATCH annotation=%s%s", cJSON_IsString(v) ? v->valuestring :
		      cJSON_IsNull(v) ? "null" : "?", pre ? " rv" : "");
		if (F.conflicts > 0) {
			F.conflicts--;
			F.rv++;          /* someone scaled it meanwhile */
			F.replicas++;
			status = 409;
		} else if (pre && pre != F.rv) {
			status = 409;
		} else {
			if (cJSON_IsString(v))
				snprintf(F.annotation, sizeof(F.annotation), "%s", v->valuestring);
			else if (cJSON_IsNull(v))
				F.annotation[0] = '\0';
			F.rv++;
		}
	}
	cJSON_Delete(patch);
	char *body = status == 200 ? object_json() : NULL;
	pthread_mutex_unlock(&F.mu);
	kt_respond(conn, status, NULL, body ? body : status == 409 ? conflict : "{}");
	cJSON_free(body);
}

static void reset(const char *plural, long replicas, const char *annotation)
{
	pthread_mutex_lock(&F.mu);
	snprintf(F.plural, sizeof(F.plural), "%s", plural);
	F.exists = true;
	F.replicas = replicas;
	snprintf(F.annotation, sizeof(F.annotation), "%s", annotation ? annotation : "");
	F.rv = 7;
	F.managed = false;
	F.conflicts = 0;
	F.scale_status = 0;
	F.nlog = 0;
	pthread_mutex_unlock(&F.mu);
}

/* The requests seen, joined with " | ". */
static const char *seen(void)
{
	static char out[LOG_MAX * 170];
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < F.nlog; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", i ? " | " : "", F.log[i]);
	return out;
}

static kt_server *srv;
static kc_config *cfg;
static kc_client *cli;

KT_TEST(annotates_then_scales_to_zero)
{
	reset("deployments", 3, NULL);
	fb_scale_report rep;
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH annotation=3 rv | PATCH scale=0");
	KT_EQ_INT(rep.from, 3);
	KT_EQ_INT(rep.to, 0);
	KT_CHECK(!rep.kept_annotation);
	KT_EQ_INT(F.replicas, 0);
	KT_EQ_STR(F.annotation, "3");
}

KT_TEST(a_second_run_keeps_the_first_count)
{
	/* the first run was cut off after the annotation; meanwhile someone scaled to 5 */
	reset("deployments", 5, "3");
	fb_scale_report rep;
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH scale=0");
	KT_CHECK(rep.kept_annotation);
	KT_EQ_INT(rep.from, 3);
	KT_EQ_STR(F.annotation, "3");
	KT_EQ_INT(F.replicas, 0);
	/* and a run on a workload already at zero writes nothing */
	reset("deployments", 0, "3");
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET");
	KT_EQ_INT(rep.from, 3);
	/* an annotation that is not a count is replaced by the current one */
	reset("deployments", 2, "three");
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH annotation=2 rv | PATCH scale=0");
	KT_EQ_STR(F.annotation, "2");
}

KT_TEST(a_conflict_records_the_count_read_again)
{
	reset("statefulsets", 3, NULL);
	F.conflicts = 1; /* scaled to 4 between our read and our write */
	fb_scale_report rep;
	KT_EQ_INT(fb_scale_to_zero(cli, "StatefulSet", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH annotation=3 rv | GET | PATCH annotation=4 rv | PATCH scale=0");
	KT_EQ_INT(rep.from, 4);
	KT_EQ_STR(F.annotation, "4");
	KT_EQ_INT(F.replicas, 0);
	/* a workload that never stops changing: given up, to be retried later */
	reset("statefulsets", 3, NULL);
	F.conflicts = 100;
	KT_EQ_INT(fb_scale_to_zero(cli, "StatefulSet", "gpu", "render", &rep), FB_SCALE_FAILED);
	KT_EQ_INT(rep.err, KC_ERR_CONFLICT);
	KT_EQ_INT(F.nlog, 2 * FB_SCALE_WRITE_TRIES);
}

KT_TEST(a_failed_scale_leaves_the_count_for_the_retry)
{
	reset("deployments", 3, NULL);
	F.scale_status = 403;
	fb_scale_report rep;
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_FAILED);
	KT_EQ_INT(rep.err, KC_ERR_FORBIDDEN);
	KT_CHECK(strstr(rep.why, "scaling it to 0") != NULL);
	KT_EQ_STR(F.annotation, "3");
	KT_EQ_INT(F.replicas, 3);
	/* the retry, once allowed, keeps it */
	F.scale_status = 0;
	F.nlog = 0;
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH scale=0");
	KT_EQ_INT(rep.from, 3);
}

KT_TEST(restore_scales_then_removes_the_annotation)
{
	reset("deployments", 0, "3");
	fb_scale_report rep;
	KT_EQ_INT(fb_scale_restore(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH scale=3 rv | PATCH annotation=null");
	KT_EQ_INT(rep.from, 3);
	KT_EQ_INT(rep.to, 3);
	KT_CHECK(!rep.nothing_to_do && !rep.changed_meanwhile);
	KT_EQ_INT(F.replicas, 3);
	KT_EQ_STR(F.annotation, "");
	/* again: nothing of ours left */
	F.nlog = 0;
	KT_EQ_INT(fb_scale_restore(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET");
	KT_CHECK(rep.nothing_to_do);
	KT_EQ_INT(F.replicas, 3);
}

KT_TEST(restore_leaves_replicas_someone_else_set)
{
	reset("deployments", 2, "3");
	fb_scale_report rep;
	KT_EQ_INT(fb_scale_restore(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_EQ_STR(seen(), "GET | PATCH annotation=null");
	KT_CHECK(rep.changed_meanwhile);
	KT_EQ_INT(rep.to, 2);
	KT_EQ_INT(F.replicas, 2);
	KT_EQ_STR(F.annotation, "");
	/* an annotation that is not a count: nothing written, a person decides */
	reset("deployments", 0, "lots");
	KT_EQ_INT(fb_scale_restore(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_REFUSED);
	KT_EQ_STR(seen(), "GET");
	KT_CHECK(strstr(rep.why, "not a replica count") != NULL);
	KT_EQ_STR(F.annotation, "lots");
}

KT_TEST(gone_and_refused)
{
	fb_scale_report rep;
	reset("deployments", 3, NULL);
	F.exists = false;
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_GONE);
	KT_EQ_INT(rep.err, KC_ERR_NOT_FOUND);
	KT_EQ_INT(fb_scale_restore(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_GONE);
	KT_EQ_STR(seen(), "GET (gone) | GET (gone)");
	/* managed by another controller: it would undo the scale */
	reset("deployments", 3, NULL);
	F.managed = true;
	KT_EQ_INT(fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep), FB_SCALE_REFUSED);
	KT_EQ_STR(seen(), "GET");
	KT_CHECK(strstr(rep.why, "managed by Rollout render") != NULL);
	KT_EQ_INT(F.replicas, 3);
	/* no scale subresource: no request at all */
	reset("deployments", 3, NULL);
	KT_EQ_INT(fb_scale_to_zero(cli, "Job", "gpu", "render", &rep), FB_SCALE_REFUSED);
	KT_EQ_INT(fb_scale_to_zero(cli, "CronJob", "gpu", "render", &rep), FB_SCALE_REFUSED);
	KT_EQ_INT(fb_scale_to_zero(cli, "Pod", "gpu", "render", &rep), FB_SCALE_REFUSED);
	KT_CHECK(strstr(rep.why, "no scale subresource") != NULL);
	KT_EQ_INT(fb_scale_restore(cli, "Pod", "gpu", "render", &rep), FB_SCALE_DONE);
	KT_CHECK(rep.nothing_to_do);
	KT_EQ_INT(F.nlog, 0);
	/* the kinds the core scales are the ones this module can */
	const char *kinds[] = { "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod",
		                "DaemonSet", "ReplicationController" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		reset("nothing", 1, NULL);
		fb_scale_result r = fb_scale_to_zero(cli, kinds[i], "gpu", "render", &rep);
		KT_EQ_INT(r != FB_SCALE_REFUSED, fb_workload_scalable(kinds[i]));
	}
}

KT_TEST(under_allocation_failure)
{
	/* every allocation that fails on the way gives FAILED (or an early answer), never a
	 * crash or a leak (valgrind and ASan check the latter) */
	for (int restore = 0; restore < 2; restore++) {
		bool done = false;
		for (long n = 0; n < 1000 && !done; n++) {
			reset("deployments", restore ? 0 : 3, restore ? "3" : NULL);
			fb_scale_report rep;
			kc_alloc_fail_after(n);
			fb_scale_result r = restore
				? fb_scale_restore(cli, "Deployment", "gpu", "render", &rep)
				: fb_scale_to_zero(cli, "Deployment", "gpu", "render", &rep);
			bool hit = kc_alloc_fail_triggered();
			kc_alloc_fail_reset();
			KT_CHECK(r == FB_SCALE_DONE || r == FB_SCALE_FAILED);
			done = !hit && r == FB_SCALE_DONE;
		}
		KT_CHECK(done); /* and, with enough memory, it worked */
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&F.mu, NULL);
	kc_global_init();
	kt_server_opts so = { .tls = false, .handler = handler };
	if (kt_server_start(&so, &srv) != 0 || !(cfg = kt_server_config(srv, NULL))) {
		fprintf(stderr, "cannot start the test server\n");
		return 1;
	}
	kc_error_detail d;
	kc_client_options co = { .rate_limit_off = true, .max_retries = 1 };
	if (kc_client_new(cfg, &co, &cli, &d) != KC_OK) {
		fprintf(stderr, "kc_client_new: %s\n", d.message);
		return 1;
	}
	KT_RUN(annotates_then_scales_to_zero);
	KT_RUN(a_second_run_keeps_the_first_count);
	KT_RUN(a_conflict_records_the_count_read_again);
	KT_RUN(a_failed_scale_leaves_the_count_for_the_retry);
	KT_RUN(restore_scales_then_removes_the_annotation);
	KT_RUN(restore_leaves_replicas_someone_else_set);
	KT_RUN(gone_and_refused);
	KT_RUN(under_allocation_failure);
	kc_client_free(cli);
	kc_config_free(cfg);
	kt_server_stop(srv);
	kc_global_cleanup();
	return KT_DONE();
}
