/*
 * webhookcerts.c - the webhook's certificates against the API
 * (webhookcerts.h): the Secret and the webhook configuration watched, the
 * serving certificate handed to the sink, and in self mode the leader's
 * worker that carries out the plan of certs.c one step at a time.
 *
 * Threads: the Secret informer's callbacks observe and load; the webhook
 * configuration informer's observe; the worker reports failing watches and,
 * in self mode on the leader, plans and writes. What they share (the
 * "unchanged since" observations, the stats) is under c->mu.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kc/alloc.h"
#include "kc/base64.h"
#include "kc/hash.h"
#include "kc/informer.h"
#include "kc/time.h"
#include "log.h"
#include "webhookcerts.h"

#define RECONCILE_STEPS_MAX 6                      /* writes per reconcile, then back off */
#define BASE64_MAX          (FB_CERT_PEM_MAX * 2)  /* one field, encoded */
#define WAIT_MAX            200                    /* a "waiting for" reason */
#define MANAGED_BY_LABEL    "app.kubernetes.io/managed-by"

bool fb_certs_mode_parse(const char *s, fb_certs_mode *out)
{
	if (s && strcmp(s, "self") == 0)
		*out = FB_CERTS_SELF;
	else if (s && strcmp(s, "external") == 0)
		*out = FB_CERTS_EXTERNAL;
	else
		return false;
	return true;
}

const char *fb_certs_mode_name(fb_certs_mode m)
{
	return m == FB_CERTS_EXTERNAL ? "external" : "self";
}

struct fb_webhookcerts {
	kc_client *client;
	fb_certs_mode mode;
	char *ns, *secret, *config;
	fb_sans sans;
	fb_cert_policy pol;
	fb_cert_sink sink;
	void *sink_ud;
	bool (*is_leader)(void *ud);
	void *leader_ud;
	int64_t resync_ms, leader_poll_ms, backoff_initial_ms, backoff_max_ms;
	kc_informer *secret_inf, *config_inf;
	kc_cancel *stop;
	pthread_t worker;
	bool worker_running;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool poked;
	/* observations: what tls.crt / the caBundles hash to, and since when (wall ms) */
	bool serving_seen, bundle_seen;
	uint64_t serving_hash, bundle_hash;
	int64_t serving_since, bundle_since;
	/* the last pair loaded, the last unusable one logged; load_mu: one load at a time (the
	 * Secret informer's thread, and the worker for a pair that was not valid yet) */
	pthread_mutex_t load_mu;
	bool loaded, unusable_logged;
	uint64_t loaded_hash, unusable_hash;
	int64_t valid_from_ms;     /* the unusable pair becomes valid then (notBefore); 0: never */
	fb_webhookcerts_stats stats;

	/* the worker's own */
	char waiting[WAIT_MAX];    /* the last "waiting for" logged, logged once */
	uint64_t watch_failures[2];/* the informers' failures already reported */
	bool missing_logged;       /* "no Secret" said */
};

static int64_t wall_ms(void)
{
	return kc_now_wall_us() / 1000;
}

/* ---- what is read of the objects --------------------------------------------------- */

/* A Secret's four fields, base64-decoded (the Secret informer's projection). */
typedef struct secret_fields {
	kc_buf field[FB_TLS_NFIELDS];
	bool present[FB_TLS_NFIELDS];
	const char *bad[FB_TLS_NFIELDS]; /* why a present field could not be decoded */
} secret_fields;

static void secret_fields_release(secret_fields *f)
{
	for (int i = 0; i < FB_TLS_NFIELDS; i++)
		kc_buf_release(&f->field[i]);
}

/* Read data[tls.crt ...] of a Secret. -1 only on ENOMEM (f released then). */
static int secret_fields_read(const cJSON *obj, secret_fields *f)
{
	memset(f, 0, sizeof(*f));
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	for (int i = 0; i < FB_TLS_NFIELDS; i++) {
		kc_buf_init(&f->field[i], FB_CERT_PEM_MAX);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, fb_tls_field_name(i));
		if (!cJSON_IsString(v))
			continue;
		f->present[i] = true;
		kc_err err = kc_base64_decode(v->valuestring, strlen(v->valuestring), &f->field[i]);
		if (err == KC_ERR_NOMEM) {
			secret_fields_release(f);
			return -1;
		}
		if (err != KC_OK)
			f->bad[i] = err == KC_ERR_TOOBIG ? "larger than 64 KiB" : "not base64";
	}
	return 0;
}

/* The fields as certs.c takes them: absent when absent or undecodable. */
static fb_tls_fields tls_fields_of(const secret_fields *f)
{
	fb_tls_fields t;
	for (int i = 0; i < FB_TLS_NFIELDS; i++) {
		bool ok = f->present[i] && !f->bad[i];
		t.data[i] = ok ? (f->field[i].data ? f->field[i].data : "") : NULL;
		t.len[i] = ok ? f->field[i].len : 0;
	}
	return t;
}

static void *project_secret(const cJSON *obj, void *ud)
{
	secret_fields *f = kc_malloc(sizeof(*f));
	if (f && secret_fields_read(obj, f) != 0) {
		kc_free(f);
		return NULL;
	}
	return f;
}

static void free_secret(void *obj, void *ud)
{
	secret_fields_release(obj);
	kc_free(obj);
}

/*
 * What the webhook configuration's caBundles hash to: each entry's caBundle
 * string (0 when it has none) and the number of entries. The same for an
 * informer's view and a GET's, so both feed one observation.
 */
static uint64_t bundles_hash(const cJSON *config)
{
	uint64_t h[FB_WEBHOOK_ENTRIES_MAX + 1];
	size_t n = 0;
	const cJSON *hook;
	cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(config, "webhooks")) {
		if (n == FB_WEBHOOK_ENTRIES_MAX)
			break;
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(hook, "clientConfig"), "caBundle");
		h[n++] = cJSON_IsString(b) ? kc_fnv1a64(b->valuestring, strlen(b->valuestring)) : 0;
	}
	h[n] = n;
	return kc_fnv1a64(h, (n + 1) * sizeof(h[0]));
}

static void *project_config(const cJSON *obj, void *ud)
{
	uint64_t *h = kc_malloc(sizeof(*h));
	if (h)
		*h = bundles_hash(obj);
	return h;
}

static void free_config(void *obj, void *ud)
{
	kc_free(obj);
}

/* ---- observations ------------------------------------------------------------------- */

/* absent objects hash to these, so that an appearing one counts as a change */
#define ABSENT_SECRET 1
#define ABSENT_CONFIG 2

static void observe(bool *seen, uint64_t *hash, int64_t *since, uint64_t h, int64_t now)
{
	if (!*seen || *hash != h) {
		*seen = true;
		*hash = h;
		*since = now;
	}
}

static uint64_t serving_hash_of(const secret_fields *f)
{
	if (!f)
		return ABSENT_SECRET;
	const kc_buf *b = &f->field[FB_TLS_CRT];
	return b->len ? kc_fnv1a64(b->data, b->len) : 0;
}

static void observe_secret(fb_webhookcerts *c, const secret_fields *f, int64_t now)
{
	pthread_mutex_lock(&c->mu);
	observe(&c->serving_seen, &c->serving_hash, &c->serving_since, serving_hash_of(f), now);
	pthread_mutex_unlock(&c->mu);
}

static void observe_config(fb_webhookcerts *c, uint64_t h, int64_t now)
{
	pthread_mutex_lock(&c->mu);
	observe(&c->bundle_seen, &c->bundle_hash, &c->bundle_since, h, now);
	pthread_mutex_unlock(&c->mu);
}

void fb_webhookcerts_poke(fb_webhookcerts *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->poked = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* ---- loading: every replica --------------------------------------------------------- */

/*
 * Hand tls.crt/tls.key to the sink if they changed since the last load and
 * can be served; otherwise say why, once per content. Only the Secret
 * informer's thread calls this, so loads never race each other.
 */
static void load_locked(fb_webhookcerts *c, const secret_fields *f, int64_t now);

static void load(fb_webhookcerts *c, const secret_fields *f, int64_t now)
{
	pthread_mutex_lock(&c->load_mu);
	load_locked(c, f, now);
	pthread_mutex_unlock(&c->load_mu);
}

/* notBefore of tls.crt when it is later than now (a certificate not valid yet: clock skew
 * between its issuer and this node), else 0. */
static int64_t valid_later(const kc_buf *crt, int64_t now)
{
	fb_cert_list chain = { .n = 0 };
	char w[FB_CERT_WHY_MAX];
	int64_t at = 0;
	if (crt->data && fb_cert_list_parse(&chain, crt->data, crt->len, w, sizeof(w)) == 0) {
		int64_t nb = fb_cert_not_before_ms(chain.cert[0]);
		if (nb > now && now < fb_cert_not_after_ms(chain.cert[0]))
			at = nb;
		fb_cert_list_release(&chain);
	}
	return at;
}

static void load_locked(fb_webhookcerts *c, const secret_fields *f, int64_t now)
{
	const kc_buf *crt = &f->field[FB_TLS_CRT], *key = &f->field[FB_TLS_KEY];
	uint64_t parts[2] = { kc_fnv1a64(crt->data ? crt->data : "", crt->len),
		              kc_fnv1a64(key->data ? key->data : "", key->len) };
	uint64_t h = kc_fnv1a64(parts, sizeof(parts));
	pthread_mutex_lock(&c->mu);
	bool same = c->loaded && c->loaded_hash == h;
	bool logged = c->unusable_logged && c->unusable_hash == h &&
	              !(c->valid_from_ms && now >= c->valid_from_ms);
	pthread_mutex_unlock(&c->mu);
	if (same || logged)
		return;
	char why[FB_CERT_WHY_MAX + 40] = "";
	bool ok = false;
	if (!f->present[FB_TLS_CRT] || !f->present[FB_TLS_KEY])
		snprintf(why, sizeof(why), "%s absent", !f->present[FB_TLS_CRT] ? "tls.crt" : "tls.key");
	else if (f->bad[FB_TLS_CRT] || f->bad[FB_TLS_KEY])
		snprintf(why, sizeof(why), "%s %s", f->bad[FB_TLS_CRT] ? "tls.crt" : "tls.key",
		         f->bad[FB_TLS_CRT] ? f->bad[FB_TLS_CRT] : f->bad[FB_TLS_KEY]);
	else
		ok = fb_tls_pair_usable(crt->data, crt->len, key->data, key->len, now, why, sizeof(why));
	if (!ok) {
		/* not valid yet: the worker loads it again once it is (worker_main) */
		int64_t later = strstr(why, "not valid yet") ? valid_later(crt, now) : 0;
		pthread_mutex_lock(&c->mu);
		c->unusable_logged = true;
		c->unusable_hash = h;
		c->valid_from_ms = later;
		c->stats.unusable++;
		snprintf(c->stats.unusable_why, sizeof(c->stats.unusable_why), "%s", why);
		pthread_mutex_unlock(&c->mu);
		char q[FB_CERT_WHY_MAX + 64];
		if (later)
			fb_log(FB_WARN, "webhook certificate in the Secret is not valid yet; loading it "
			       "when it is", "secret=%s/%s mode=%s valid_in_s=%.0f reason=%s", c->ns,
			       c->secret, fb_certs_mode_name(c->mode), (double)(later - now) / 1000.0,
			       fb_log_quote(why, q, sizeof(q)));
		else
			fb_log(FB_WARN, "webhook certificate in the Secret cannot be served; keeping the "
			       "one loaded before", "secret=%s/%s mode=%s reason=%s", c->ns, c->secret,
			       fb_certs_mode_name(c->mode), fb_log_quote(why, q, sizeof(q)));
		return;
	}
	c->sink(c->sink_ud, crt->data, crt->len, key->data, key->len);
	pthread_mutex_lock(&c->mu);
	c->loaded = true;
	c->loaded_hash = h;
	c->unusable_logged = false;
	c->valid_from_ms = 0;
	c->stats.unusable_why[0] = '\0';
	c->stats.loads++;
	pthread_mutex_unlock(&c->mu);
}

static void secret_seen(const void *obj, void *ud)
{
	fb_webhookcerts *c = ud;
	int64_t now = wall_ms();
	observe_secret(c, obj, now);
	load(c, obj, now);
	fb_webhookcerts_poke(c);
}

static void secret_added(const char *key, const void *obj, void *ud)
{
	secret_seen(obj, ud);
}

static void secret_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	secret_seen(new_obj, ud);
}

static void secret_deleted(const char *key, const void *obj, void *ud)
{
	fb_webhookcerts *c = ud;
	fb_log(FB_WARN, "webhook certificate Secret deleted; keeping the certificate loaded",
	       "secret=%s/%s mode=%s", c->ns, c->secret, fb_certs_mode_name(c->mode));
	observe_secret(c, NULL, wall_ms());
	fb_webhookcerts_poke(c);
}

static void config_added(const char *key, const void *obj, void *ud)
{
	observe_config(ud, *(const uint64_t *)obj, wall_ms());
	fb_webhookcerts_poke(ud);
}

static void config_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	config_added(key, new_obj, ud);
}

static void config_deleted(const char *key, const void *obj, void *ud)
{
	observe_config(ud, ABSENT_CONFIG, wall_ms());
	fb_webhookcerts_poke(ud);
}

/* ---- the worker: watch reports; in self mode, the leader's steps -------------------- */

/* Log a reason to wait once, until the reason changes or the wait ends ("" ends it). */
static void waiting_for(fb_webhookcerts *c, const char *reason)
{
	if (strcmp(c->waiting, reason) == 0)
		return;
	snprintf(c->waiting, sizeof(c->waiting), "%s", reason);
	if (reason[0])
		fb_log(FB_WARN, reason, "secret=%s/%s webhook_config=%s", c->ns, c->secret, c->config);
}

/* The caBundle(s) of a webhook configuration, as the plan takes them. */
typedef struct bundle_view {
	bool present;                  /* a configuration with at least one entry */
	bool uniform;
	fb_cert_list bundle;           /* the first entry's, parsed; empty if it does not parse */
} bundle_view;

static void bundle_view_read(const cJSON *config, bundle_view *v)
{
	memset(v, 0, sizeof(*v));
	const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(config, "webhooks");
	const char *first = NULL;
	int n = 0;
	v->uniform = true;
	const cJSON *hook;
	cJSON_ArrayForEach(hook, hooks) {
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(hook, "clientConfig"), "caBundle");
		const char *s = cJSON_IsString(b) ? b->valuestring : "";
		if (n++ == 0)
			first = s;
		else if (strcmp(first, s) != 0)
			v->uniform = false;
	}
	v->present = n > 0;
	if (!first || !first[0])
		return;
	kc_buf raw;
	kc_buf_init(&raw, FB_CERT_PEM_MAX);
	char why[FB_CERT_WHY_MAX];
	if (kc_base64_decode(first, strlen(first), &raw) == KC_OK)
		fb_cert_list_parse(&v->bundle, raw.data, raw.len, why, sizeof(why));
	kc_buf_release(&raw);
}

/* Append the fields of out as base64 strings into data (a Secret's data object). */
static int put_fields(cJSON *data, const fb_tls_pem *out)
{
	for (int i = 0; i < FB_TLS_NFIELDS; i++) {
		kc_buf enc;
		kc_buf_init(&enc, BASE64_MAX);
		const kc_buf *f = &out->field[i];
		bool ok = kc_base64_encode(f->data ? f->data : "", f->len, &enc) == KC_OK;
		cJSON *s = ok ? cJSON_CreateString(enc.data ? enc.data : "") : NULL;
		kc_buf_release(&enc);
		if (!s)
			return -1;
		const char *name = fb_tls_field_name(i);
		bool set = cJSON_HasObjectItem(data, name)
		           ? cJSON_ReplaceItemInObjectCaseSensitive(data, name, s)
		           : cJSON_AddItemToObject(data, name, s);
		if (!set) {
			cJSON_Delete(s);
			return -1;
		}
	}
	return 0;
}

/* A new Secret holding out. NULL on ENOMEM. */
static cJSON *new_secret(const fb_webhookcerts *c, const fb_tls_pem *out)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON *data = cJSON_CreateObject();
	if (!obj || !meta || !labels || !data || !cJSON_AddStringToObject(obj, "apiVersion", "v1") ||
	    !cJSON_AddStringToObject(obj, "kind", "Secret") ||
	    !cJSON_AddStringToObject(meta, "name", c->secret) ||
	    !cJSON_AddStringToObject(meta, "namespace", c->ns) ||
	    !cJSON_AddStringToObject(labels, MANAGED_BY_LABEL, "firebreak") ||
	    !cJSON_AddStringToObject(obj, "type", "kubernetes.io/tls") || put_fields(data, out) != 0) {
		cJSON_Delete(data);
		cJSON_Delete(obj);
		return NULL;
	}
	cJSON_AddItemToObject(obj, "data", data);
	return obj;
}

/* The patch that sets every entry's caBundle to pem, resourceVersion-checked. NULL on ENOMEM. */
static char *bundle_patch(const cJSON *config, const kc_buf *pem)
{
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(config, "metadata"), "resourceVersion");
	kc_buf enc;
	kc_buf_init(&enc, BASE64_MAX);
	cJSON *patch = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *hooks = cJSON_AddArrayToObject(patch, "webhooks");
	bool ok = meta && hooks &&
	          (!cJSON_IsString(rv) ||
	           cJSON_AddStringToObject(meta, "resourceVersion", rv->valuestring)) &&
	          kc_base64_encode(pem->data ? pem->data : "", pem->len, &enc) == KC_OK;
	const cJSON *hook;
	cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(config, "webhooks")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(hook, "name");
		if (!ok || !cJSON_IsString(name))
			continue;
		cJSON *entry = cJSON_CreateObject();
		cJSON *cc = cJSON_AddObjectToObject(entry, "clientConfig");
		ok = cc && cJSON_AddStringToObject(entry, "name", name->valuestring) &&
		     cJSON_AddStringToObject(cc, "caBundle", enc.data ? enc.data : "") &&
		     cJSON_AddItemToArray(hooks, entry);
		if (!ok)
			cJSON_Delete(entry);
	}
	char *body = ok ? cJSON_PrintUnformatted(patch) : NULL;
	cJSON_Delete(patch);
	kc_buf_release(&enc);
	return body;
}

/* The log line of a Secret written: what is in it now (never a key). */
static void log_written(const fb_webhookcerts *c, const fb_cert_plan *plan, const fb_tls_pem *out)
{
	fb_cert_summary srv, ca;
	const kc_buf *crt = &out->field[FB_TLS_CRT], *cas = &out->field[FB_CA_CRT];
	if (fb_cert_pem_summary(crt->data, crt->len, &srv) != 0 ||
	    fb_cert_pem_summary(cas->data, cas->len, &ca) != 0)
		return;
	char na[KC_TIME_STR_MAX], q[FB_CERT_WHY_MAX * 2 + 64];
	fb_log(FB_INFO, "webhook certificates written", "secret=%s/%s step=%s serial=%s notAfter=%s "
	       "ca=%s why=%s", c->ns, c->secret, fb_cert_step_name(plan->step), srv.serial,
	       kc_time_format(srv.not_after_ms * 1000, na), ca.cn,
	       fb_log_quote(plan->why, q, sizeof(q)));
}

/* Outcome of one step. */
typedef enum step_result { STEP_DONE, STEP_AGAIN, STEP_WAIT, STEP_FAILED } step_result;

/* PATCH_BUNDLE: every entry's caBundle := ca.crt. */
static step_result patch_bundle(fb_webhookcerts *c, const cJSON *config,
                                const fb_tls_material *m)
{
	kc_buf pem;
	kc_buf_init(&pem, FB_CERT_PEM_MAX);
	char *body = fb_cert_list_pem(&m->ca, &pem) == 0 ? bundle_patch(config, &pem) : NULL;
	kc_buf_release(&pem);
	if (!body) {
		fb_log(FB_ERROR, "out of memory building the caBundle patch", NULL);
		return STEP_FAILED;
	}
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_write_opts wo = { .cancel = c->stop };
	kc_err err = kc_patch(c->client, &KC_RES_MUTATINGWEBHOOKCONFIGURATIONS, NULL, c->config,
	                      NULL, KC_PATCH_STRATEGIC, body, &wo, NULL, &d);
	cJSON_free(body);
	if (err == KC_ERR_CONFLICT || err == KC_ERR_NOT_FOUND) {
		pthread_mutex_lock(&c->mu);
		c->stats.conflicts += err == KC_ERR_CONFLICT;
		pthread_mutex_unlock(&c->mu);
		fb_log_api_error(FB_INFO, "caBundle patch raced another change; reading again", err,
		                 d.message, "webhook_config=%s", c->config);
		return STEP_AGAIN;
	}
	if (err != KC_OK) {
		fb_log_api_error(FB_WARN, "could not patch the caBundle", err, d.message,
		                 "webhook_config=%s", c->config);
		return STEP_FAILED;
	}
	pthread_mutex_lock(&c->mu);
	c->stats.bundle_patches++;
	pthread_mutex_unlock(&c->mu);
	fb_log(FB_INFO, "caBundle patched", "webhook_config=%s cas=%zu", c->config, m->ca.n);
	return STEP_DONE;
}

/* A step that writes the Secret: create it, or PUT it with the resourceVersion read. */
static step_result write_secret(fb_webhookcerts *c, cJSON *secret, const fb_cert_plan *plan,
                                const fb_cert_state *st)
{
	fb_tls_pem out;
	fb_tls_pem_init(&out);
	char why[FB_CERT_WHY_MAX];
	if (fb_cert_plan_apply(plan, st, &c->pol, &out, why, sizeof(why)) != 0) {
		fb_log(FB_ERROR, "could not make webhook certificates", "reason=\"%s\"", why);
		fb_tls_pem_release(&out);
		return STEP_FAILED;
	}
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_write_opts wo = { .cancel = c->stop };
	kc_err err;
	cJSON *obj = NULL;
	if (!secret) {
		obj = new_secret(c, &out);
		err = obj ? kc_create(c->client, &KC_RES_SECRETS, c->ns, obj, &wo, NULL, &d)
		          : KC_ERR_NOMEM;
	} else {
		cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");
		if (!cJSON_IsObject(data)) {
			cJSON_DeleteItemFromObjectCaseSensitive(secret, "data");
			data = cJSON_AddObjectToObject(secret, "data");
		}
		err = data && put_fields(data, &out) == 0
		      ? kc_update(c->client, &KC_RES_SECRETS, c->ns, c->secret, NULL, secret, &wo, NULL, &d)
		      : KC_ERR_NOMEM;
	}
	cJSON_Delete(obj);
	step_result r = STEP_DONE;
	if (err == KC_OK) {
		pthread_mutex_lock(&c->mu);
		if (secret)
			c->stats.secret_updates++;
		else
			c->stats.secret_creates++;
		pthread_mutex_unlock(&c->mu);
		log_written(c, plan, &out);
	} else if (err == KC_ERR_CONFLICT || (secret && err == KC_ERR_NOT_FOUND)) {
		/* another replica created it first, or wrote or deleted it since we read it */
		pthread_mutex_lock(&c->mu);
		c->stats.conflicts += err == KC_ERR_CONFLICT;
		pthread_mutex_unlock(&c->mu);
		fb_log_api_error(FB_INFO, secret ? "webhook Secret changed since it was read; reading again"
		                                 : "webhook Secret created by another replica; reading it",
		                 err, d.message, "secret=%s/%s", c->ns, c->secret);
		r = STEP_AGAIN;
	} else {
		fb_log_api_error(FB_WARN, secret ? "could not update the webhook Secret"
		                                 : "could not create the webhook Secret",
		                 err, d.message, "secret=%s/%s step=%s", c->ns, c->secret,
		                 fb_cert_step_name(plan->step));
		r = STEP_FAILED;
	}
	fb_tls_pem_release(&out);
	return r;
}

/* Whether a GET went well: found, or NOT_FOUND (the object stays NULL). A failure is logged. */
static bool read_ok(kc_err err, const kc_error_detail *d, const char *what, const char *ns,
                    const char *name)
{
	if (err == KC_OK || err == KC_ERR_NOT_FOUND)
		return true;
	fb_log_api_error(FB_WARN, "could not read an object of the webhook's certificates", err,
	                 d->message, "%s=%s%s%s", what, ns ? ns : "", ns ? "/" : "", name);
	return false;
}

/*
 * One step: read both objects, observe them, plan, carry the step out.
 * *next: when to look again (STEP_DONE with nothing to do, or STEP_WAIT).
 */
static step_result reconcile_step(fb_webhookcerts *c, int64_t *next)
{
	cJSON *secret = NULL, *config = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_get(c->client, &KC_RES_SECRETS, c->ns, c->secret, NULL, &secret, &d);
	if (!read_ok(err, &d, "secret", c->ns, c->secret))
		return STEP_FAILED;
	err = kc_get(c->client, &KC_RES_MUTATINGWEBHOOKCONFIGURATIONS, NULL, c->config, NULL, &config,
	             &d);
	if (!read_ok(err, &d, "webhook_config", NULL, c->config)) {
		cJSON_Delete(secret);
		return STEP_FAILED;
	}
	int64_t now = wall_ms();
	secret_fields f;
	bool have_fields = secret && secret_fields_read(secret, &f) == 0;
	if (secret && !have_fields) {
		cJSON_Delete(secret);
		cJSON_Delete(config);
		fb_log(FB_ERROR, "out of memory reading the webhook Secret", NULL);
		return STEP_FAILED;
	}
	observe_secret(c, have_fields ? &f : NULL, now);
	observe_config(c, config ? bundles_hash(config) : ABSENT_CONFIG, now);

	fb_tls_fields tf;
	fb_tls_material m;
	if (have_fields) {
		tf = tls_fields_of(&f);
		fb_tls_material_parse(&m, &tf);
		for (int i = 0; i < FB_TLS_NFIELDS; i++)
			if (f.bad[i])
				snprintf(m.problem[i], sizeof(m.problem[i]), "%s", f.bad[i]);
	}
	bundle_view bv;
	bundle_view_read(config, &bv);
	fb_cert_state st = { .secret = have_fields ? &m : NULL, .sans = &c->sans,
		             .bundle = bv.present ? &bv.bundle : NULL, .bundle_uniform = bv.uniform,
		             .now_ms = now };
	pthread_mutex_lock(&c->mu);
	st.bundle_since_ms = c->bundle_since;
	st.serving_since_ms = c->serving_since;
	pthread_mutex_unlock(&c->mu);
	fb_cert_plan plan;
	fb_cert_plan_make(&st, &c->pol, &plan);

	step_result r;
	if (plan.step == FB_CERT_NOTHING) {
		*next = plan.next_ms;
		r = STEP_DONE;
		waiting_for(c, !config ? "webhook configuration not found: its caBundle cannot be kept"
		                : !bv.present ? "webhook configuration has no webhooks: no caBundle to keep"
		                : "");
	} else {
		char q[sizeof(plan.why) + 32];
		bool leader = c->is_leader(c->leader_ud);
		if (leader)
			fb_log(plan.step == FB_CERT_RESET ? FB_WARN : FB_INFO, "webhook certificates: next step",
			       "step=%s secret=%s/%s why=%s", fb_cert_step_name(plan.step), c->ns,
			       c->secret, fb_log_quote(plan.why, q, sizeof(q)));
		if (!leader)
			r = STEP_WAIT; /* lost the lease while reading: the next leader plans afresh */
		else if (plan.step == FB_CERT_PATCH_BUNDLE)
			r = patch_bundle(c, config, &m);
		else
			r = write_secret(c, secret, &plan, &st);
		*next = now;
	}
	fb_cert_list_release(&bv.bundle);
	if (have_fields) {
		fb_tls_material_release(&m);
		secret_fields_release(&f);
	}
	cJSON_Delete(secret);
	cJSON_Delete(config);
	return r;
}

/* Steps until there is nothing to do. 0 with *next, or -1 to back off. */
static int reconcile(fb_webhookcerts *c, int64_t *next)
{
	for (int i = 0; i < RECONCILE_STEPS_MAX && !kc_cancel_fired(c->stop); i++) {
		if (!c->is_leader(c->leader_ud)) {
			*next = INT64_MAX;
			return 0;
		}
		step_result r = reconcile_step(c, next);
		if (r == STEP_FAILED)
			return -1;
		if (r == STEP_WAIT) {
			*next = INT64_MAX;
			return 0;
		}
		if (r == STEP_DONE && *next > wall_ms())
			return 0;
	}
	if (kc_cancel_fired(c->stop))
		return 0;
	fb_log(FB_WARN, "webhook certificates did not settle; backing off", "steps=%d",
	       RECONCILE_STEPS_MAX);
	return -1;
}

/*
 * Say when a watch fails (RBAC, a wrong name, the API away), as the
 * controller's own watch report does for its informers: the reflector backs
 * off and retries quietly. And, once the Secret's watch has synced, when there
 * is no Secret (external mode: nothing issued it yet).
 */
static void watch_report(fb_webhookcerts *c)
{
	kc_informer *infs[2] = { c->secret_inf, c->config_inf };
	for (int i = 0; i < 2; i++) {
		if (!infs[i])
			continue;
		kc_reflector_stats st;
		kc_informer_stats(infs[i], &st);
		if (st.failures > c->watch_failures[i])
			fb_log_api_error(FB_WARN, "cannot watch an object of the webhook's certificates",
			                 st.last_err, st.last_err_message, "%s=%s%s%s",
			                 i == 0 ? "secret" : "webhook_config", i == 0 ? c->ns : "",
			                 i == 0 ? "/" : "", i == 0 ? c->secret : c->config);
		c->watch_failures[i] = st.failures;
	}
	bool missing = kc_informer_has_synced(c->secret_inf) && kc_informer_count(c->secret_inf) == 0;
	if (missing && !c->missing_logged && c->mode == FB_CERTS_EXTERNAL)
		fb_log(FB_WARN, "no webhook certificate Secret yet; waiting for it", "secret=%s/%s",
		       c->ns, c->secret);
	c->missing_logged = missing;
}

static void load_visit(const char *key, const void *obj, void *ud)
{
	load(ud, obj, wall_ms());
}

/* The Secret's pair again, once a pair that was not valid yet has become valid. */
static void load_when_valid(fb_webhookcerts *c)
{
	pthread_mutex_lock(&c->mu);
	int64_t from = c->valid_from_ms;
	pthread_mutex_unlock(&c->mu);
	if (from && wall_ms() >= from && c->secret_inf)
		kc_informer_get(c->secret_inf, c->ns, c->secret, load_visit, c);
}

static void *worker_main(void *arg)
{
	fb_webhookcerts *c = arg;
	int64_t due = 0, backoff = 0;
	bool leading = false;
	pthread_mutex_lock(&c->mu);
	while (!kc_cancel_fired(c->stop)) {
		int64_t now = wall_ms();
		int64_t wait = c->leader_poll_ms;
		if (leading && due - now < wait)
			wait = due > now ? due - now : 0;
		if (!c->poked && wait > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (wait % 1000) * 1000000;
			ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		if (kc_cancel_fired(c->stop))
			break;
		bool poked = c->poked;
		c->poked = false;
		pthread_mutex_unlock(&c->mu);
		watch_report(c);
		load_when_valid(c);
		bool leader = c->mode == FB_CERTS_SELF && c->is_leader(c->leader_ud);
		now = wall_ms();
		if (leader && !leading) {
			due = now; /* just became leader: look at once */
			backoff = 0;
		}
		leading = leader;
		/* a poke does not cut a backoff short: a failing API is not hammered */
		if (leading && (now >= due || (poked && backoff == 0))) {
			int64_t next = INT64_MAX;
			if (reconcile(c, &next) == 0) {
				backoff = 0;
				due = next < now + c->resync_ms ? next : now + c->resync_ms;
			} else {
				backoff = backoff ? backoff * 2 : c->backoff_initial_ms;
				if (backoff > c->backoff_max_ms)
					backoff = c->backoff_max_ms;
				due = wall_ms() + (int64_t)((double)backoff * (0.75 + 0.5 * kc_rand01()));
				pthread_mutex_lock(&c->mu);
				c->stats.failures++;
				pthread_mutex_unlock(&c->mu);
			}
		}
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static kc_err start_informer(fb_webhookcerts *c, const kc_resource *res, const char *ns,
                             const char *name, long backoff_ms, kc_informer **out)
{
	char selector[300];
	snprintf(selector, sizeof(selector), "metadata.name=%s", name);
	kc_informer_options o = { .ud = c };
	o.watch.ns = ns;
	o.watch.field_selector = selector;
	o.watch.backoff_initial_ms = backoff_ms;
	/* each resource named literally: scripts/check-chart.sh reads `.resource = &X` */
	if (res == &KC_RES_SECRETS) {
		o.watch.resource = &KC_RES_SECRETS;
		o.project = project_secret;
		o.free_obj = free_secret;
		o.on_add = secret_added;
		o.on_update = secret_updated;
		o.on_delete = secret_deleted;
	} else {
		o.watch.resource = &KC_RES_MUTATINGWEBHOOKCONFIGURATIONS;
		o.project = project_config;
		o.free_obj = free_config;
		o.on_add = config_added;
		o.on_update = config_updated;
		o.on_delete = config_deleted;
	}
	kc_err err = kc_informer_new(c->client, &o, out);
	if (err == KC_OK)
		err = kc_informer_start(*out);
	return err;
}

static bool name_ok(const char *s)
{
	return s && s[0] && strlen(s) <= 253;
}

void fb_webhookcerts_free(fb_webhookcerts *c)
{
	if (!c)
		return;
	kc_cancel_fire(c->stop);
	fb_webhookcerts_poke(c);
	if (c->worker_running)
		pthread_join(c->worker, NULL);
	kc_informer_free(c->config_inf);
	kc_informer_free(c->secret_inf);
	kc_cancel_free(c->stop);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->load_mu);
	kc_free(c->ns);
	kc_free(c->secret);
	kc_free(c->config);
	kc_free(c);
}

kc_err fb_webhookcerts_start(kc_client *client, const fb_webhookcerts_options *o,
                             fb_webhookcerts **out, char *why, size_t cap)
{
	bool self = o->mode == FB_CERTS_SELF;
	const char *bad = !name_ok(o->namespace) ? "a namespace"
	                  : !name_ok(o->secret) ? "a Secret name"
	                  : !o->sink ? "a sink"
	                  : self && !name_ok(o->webhook_config) ? "a webhook configuration name"
	                  : self && !o->is_leader ? "a leadership check"
	                  : NULL;
	if (bad) {
		snprintf(why, cap, "the webhook's certificates need %s", bad);
		return KC_ERR_INVALID;
	}
	fb_webhookcerts *c = kc_calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, cap, "out of memory");
		return KC_ERR_NOMEM;
	}
	c->client = client;
	c->mode = o->mode;
	c->sink = o->sink;
	c->sink_ud = o->sink_ud;
	c->is_leader = o->is_leader;
	c->leader_ud = o->leader_ud;
	c->pol = o->policy;
	if (c->pol.ca_lifetime_ms == 0)
		fb_cert_policy_defaults(&c->pol);
	c->resync_ms = o->resync_ms > 0 ? o->resync_ms : 10 * 60 * 1000;
	c->leader_poll_ms = o->leader_poll_ms > 0 ? o->leader_poll_ms : 1000;
	c->backoff_initial_ms = o->backoff_initial_ms > 0 ? o->backoff_initial_ms : 1000;
	c->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 5 * 60 * 1000;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->load_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	kc_err err = KC_ERR_NOMEM;
	c->ns = kc_strdup(o->namespace);
	c->secret = kc_strdup(o->secret);
	c->config = kc_strdup(self ? o->webhook_config : "");
	if (!c->ns || !c->secret || !c->config || kc_cancel_new(&c->stop) != KC_OK) {
		snprintf(why, cap, "out of memory");
		goto out_free;
	}
	if (self && fb_sans_build(&c->sans, o->service, o->namespace, o->extra_sans, why, cap) != 0) {
		err = KC_ERR_INVALID;
		goto out_free;
	}
	/* scripts/check-chart.sh reads these calls for the RBAC they need: keep each as
	 * start_informer(c, &<resource constant>, ...) */
	err = start_informer(c, &KC_RES_SECRETS, c->ns, c->secret, o->watch_backoff_ms,
	                     &c->secret_inf);
	if (err == KC_OK && self)
		err = start_informer(c, &KC_RES_MUTATINGWEBHOOKCONFIGURATIONS, NULL, c->config,
		                     o->watch_backoff_ms, &c->config_inf);
	if (err != KC_OK) {
		snprintf(why, cap, "cannot start watching: %s", kc_strerror(err));
		goto out_free;
	}
	c->poked = true; /* look at once */
	if (pthread_create(&c->worker, NULL, worker_main, c) != 0) {
		snprintf(why, cap, "cannot start a thread");
		err = KC_ERR_NOMEM;
		goto out_free;
	}
	c->worker_running = true;
	*out = c;
	return KC_OK;
out_free:
	fb_webhookcerts_free(c);
	return err;
}

void fb_webhookcerts_stats_get(fb_webhookcerts *c, fb_webhookcerts_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}
