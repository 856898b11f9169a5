/*
 * The certificate plan over time (fb_cert_plan_make, certs.c): a simulated
 * clock walks the default policy through the creation and two full CA
 * rotations, carrying out every step as webhookcerts.c would (the Secret
 * rewritten, the caBundle patched, each change observed when it happens).
 *
 * At every step of the clock and after every write, the caBundle as any API
 * server sees it verifies the serving certificate as any replica serves it,
 * for replicas that load a new Secret at once or 12 h late and API servers
 * that see a new caBundle at once or 30 min late (both lags below the holds:
 * the overlap must cover them). Leader restarts (observations forgotten)
 * and someone else rewriting the caBundle mid-rotation only ever delay a step.
 */
#include <stdlib.h>

#include <openssl/x509.h>

#include "certs.h"
#include "kc/alloc.h"
#include "kctest.h"

#define T0      1900000000000LL
#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
#define HIST    64

#define REPLICA_LAG_MS (12 * HOUR_MS)
#define APISERVER_LAG_MS (30 * MIN_MS)

typedef struct served_at {
	int64_t at;
	X509 *cert;
} served_at;

typedef struct bundle_at {
	int64_t at;
	fb_cert_list bundle;
} bundle_at;

typedef struct world {
	fb_cert_policy pol;
	fb_sans sans;
	char *f[FB_TLS_NFIELDS];       /* the Secret */
	bool exists;
	fb_tls_material m;             /* f parsed (once per write: key parsing is slow) */
	fb_cert_list bundle;           /* the webhook configuration's caBundle */
	int64_t bundle_since, serving_since; /* the leader's observations */
	served_at served[HIST];        /* every tls.crt written, and when */
	size_t nserved;
	bundle_at bundles[HIST];       /* every caBundle written, and when */
	size_t nbundles;
	int count[FB_CERT_PATCH_BUNDLE + 1];
	X509 *cas[8];                  /* every CA that was ever first in ca.crt */
	size_t ncas;
	kc_buf steps;                  /* "create patch-cabundle ..." */
	int64_t last_patch, last_serving, new_ca_patch;
	int checks;
} world;

static void world_init(world *w)
{
	memset(w, 0, sizeof(*w));
	fb_cert_policy_defaults(&w->pol);
	char why[200];
	KT_EQ_INT(fb_sans_build(&w->sans, "firebreak-webhook", "firebreak-system", "127.0.0.1", why,
	                        sizeof(why)), 0);
	kc_buf_init(&w->steps, 1 << 20);
	w->bundle_since = w->serving_since = T0;
}

static void world_release(world *w)
{
	if (w->exists)
		fb_tls_material_release(&w->m);
	for (int i = 0; i < FB_TLS_NFIELDS; i++)
		kc_free(w->f[i]);
	fb_cert_list_release(&w->bundle);
	for (size_t i = 0; i < w->nserved; i++)
		X509_free(w->served[i].cert);
	for (size_t i = 0; i < w->nbundles; i++)
		fb_cert_list_release(&w->bundles[i].bundle);
	for (size_t i = 0; i < w->ncas; i++)
		X509_free(w->cas[i]);
	kc_buf_release(&w->steps);
}

/* What a replica lag ms behind serves at t, or NULL before it loaded anything. */
static X509 *served_at_lag(const world *w, int64_t t, int64_t lag)
{
	X509 *c = NULL;
	for (size_t i = 0; i < w->nserved && w->served[i].at <= t - lag; i++)
		c = w->served[i].cert;
	return c;
}

static const fb_cert_list *bundle_at_lag(const world *w, int64_t t, int64_t lag)
{
	const fb_cert_list *b = NULL;
	for (size_t i = 0; i < w->nbundles && w->bundles[i].at <= t - lag; i++)
		b = &w->bundles[i].bundle;
	return b;
}

/* The invariant, for every pair of lags. */
static void check_served_verifies(world *w, int64_t t)
{
	static const int64_t replica_lags[] = { 0, REPLICA_LAG_MS };
	static const int64_t apiserver_lags[] = { 0, APISERVER_LAG_MS };
	for (int r = 0; r < 2; r++) {
		for (int a = 0; a < 2; a++) {
			X509 *c = served_at_lag(w, t, replica_lags[r]);
			const fb_cert_list *b = bundle_at_lag(w, t, apiserver_lags[a]);
			if (!c || !b)
				continue; /* not serving yet, or before the first caBundle */
			w->checks++;
			/* the Service's name always, the IP SAN once (verifying costs under valgrind) */
			bool ok = fb_cert_verify(c, b, w->sans.name[2], t) &&
			          (r + a > 0 || fb_cert_verify(c, b, "127.0.0.1", t));
			KT_CHECK(ok);
			if (!ok)
				fprintf(stderr, "  day %.2f: replica lag %lld h, API server lag %lld min: "
				        "the caBundle does not verify the served certificate\n",
				        (double)(t - T0) / DAY_MS, (long long)(replica_lags[r] / HOUR_MS),
				        (long long)(apiserver_lags[a] / MIN_MS));
		}
	}
}

static void push_bundle(world *w, int64_t t, const fb_cert_list *from)
{
	KT_CHECK(w->nbundles < HIST);
	if (w->nbundles == HIST)
		return;
	fb_cert_list_release(&w->bundle);
	bundle_at *h = &w->bundles[w->nbundles++];
	h->at = t;
	h->bundle.n = 0;
	for (size_t i = 0; i < from->n; i++) {
		fb_cert_list_add(&w->bundle, from->cert[i]);
		fb_cert_list_add(&h->bundle, from->cert[i]);
	}
	w->bundle_since = t;
}

static fb_tls_fields fields(const world *w)
{
	fb_tls_fields f;
	for (int i = 0; i < FB_TLS_NFIELDS; i++) {
		f.data[i] = w->f[i];
		f.len[i] = w->f[i] ? strlen(w->f[i]) : 0;
	}
	return f;
}

/* The Secret's new contents, observed now; the new CA and serving certificate recorded. */
static void write_secret(world *w, int64_t t, fb_tls_pem *out)
{
	bool serving_changed = !w->f[FB_TLS_CRT] ||
	                       strcmp(w->f[FB_TLS_CRT], out->field[FB_TLS_CRT].data) != 0;
	for (int i = 0; i < FB_TLS_NFIELDS; i++) {
		kc_free(w->f[i]);
		w->f[i] = kc_buf_take(&out->field[i]);
	}
	if (w->exists)
		fb_tls_material_release(&w->m);
	w->exists = true;
	fb_tls_fields f = fields(w);
	fb_tls_material_parse(&w->m, &f);
	const fb_tls_material *m = &w->m;
	KT_CHECK(m->ca.n >= 1 && m->chain.n == 1 && m->key && m->ca_key);
	if (serving_changed && m->chain.n == 1 && w->nserved < HIST) {
		X509_up_ref(m->chain.cert[0]);
		w->served[w->nserved++] = (served_at){ t, m->chain.cert[0] };
		w->serving_since = t;
		w->last_serving = t;
	}
	bool known = false;
	for (size_t i = 0; i < w->ncas && m->ca.n; i++)
		known |= X509_cmp(w->cas[i], m->ca.cert[0]) == 0;
	if (!known && m->ca.n && w->ncas < 8) {
		X509_up_ref(m->ca.cert[0]);
		w->cas[w->ncas++] = m->ca.cert[0];
	}
}

static void material_copy(fb_tls_material *dst, const fb_tls_material *src)
{
	*dst = *src;
	for (size_t i = 0; i < src->ca.n; i++)
		X509_up_ref(src->ca.cert[i]);
	for (size_t i = 0; i < src->chain.n; i++)
		X509_up_ref(src->chain.cert[i]);
	if (src->ca_key)
		EVP_PKEY_up_ref(src->ca_key);
	if (src->key)
		EVP_PKEY_up_ref(src->key);
}

/* A replica that just became leader knows nothing of how long things have been as they are. */
static void leader_restart(world *w, int64_t t)
{
	w->bundle_since = w->serving_since = t;
}

/*
 * One reconcile at t: plan, carry out, until NOTHING (at most 8 steps).
 * Returns the plan's next_ms.
 */
static int64_t reconcile(world *w, int64_t t)
{
	for (int i = 0; i < 8; i++) {
		/* the parsed Secret of this step: copied, since carrying the step out replaces it */
		fb_tls_material m = { .ca = { .n = 0 } };
		bool parsed = w->exists;
		if (parsed)
			material_copy(&m, &w->m);
		fb_cert_state st = { .secret = parsed ? &m : NULL, .sans = &w->sans,
			             .bundle = &w->bundle, .bundle_uniform = true,
			             .bundle_since_ms = w->bundle_since,
			             .serving_since_ms = w->serving_since, .now_ms = t };
		fb_cert_plan plan;
		fb_cert_plan_make(&st, &w->pol, &plan);
		if (plan.step == FB_CERT_NOTHING) {
			KT_CHECK(plan.next_ms > t);
			if (parsed)
				fb_tls_material_release(&m);
			return plan.next_ms;
		}
		w->count[plan.step]++;
		kc_buf_printf(&w->steps, "%s ", fb_cert_step_name(plan.step));
		switch (plan.step) {
		case FB_CERT_PATCH_BUNDLE:
			push_bundle(w, t, &m.ca);
			w->last_patch = t;
			if (m.ca.n > 1)
				w->new_ca_patch = t;
			break;
		case FB_CERT_NEW_SERVING:
			/* from a new CA: only after the caBundle has held it for the hold */
			if (m.ca.n > 1)
				KT_CHECK(t - w->new_ca_patch >= w->pol.bundle_hold_ms);
			/* fall through */
		default: {
			if (plan.step == FB_CERT_FINISH_ROTATION)
				KT_CHECK(t - w->last_serving >= w->pol.serving_hold_ms);
			fb_tls_pem out;
			fb_tls_pem_init(&out);
			char why[200] = "";
			KT_EQ_INT(fb_cert_plan_apply(&plan, &st, &w->pol, &out, why, sizeof(why)), 0);
			write_secret(w, t, &out);
			fb_tls_pem_release(&out);
			break;
		}
		}
		if (parsed)
			fb_tls_material_release(&m);
		check_served_verifies(w, t);
	}
	KT_CHECK(!"the plan did not settle in 8 steps");
	return t + HOUR_MS;
}

static int count_substr(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Between the caBundle patch that added a new CA and the serving certificate from it. */
static bool in_first_hold(const world *w)
{
	return w->bundle.n == 2 && w->last_serving < w->new_ca_patch;
}

/* Between that serving certificate and the old CA leaving. */
static bool in_second_hold(const world *w)
{
	return w->bundle.n == 2 && w->last_serving >= w->new_ca_patch;
}

KT_TEST(two_full_rotations_keep_the_served_certificate_verifiable_at_every_step)
{
	world w;
	world_init(&w);
	int64_t t = T0, end = T0 + 900 * DAY_MS;
	int restarts = 0, wipes = 0, clock_steps = 0;
	while (t < end) {
		int rotation = w.count[FB_CERT_START_ROTATION];
		/* first rotation: a new leader 30 min into the first hold; second rotation: someone
		 * rewrites the caBundle to the old CA alone 30 min into it, and a new leader
		 * comes 12 h into the second hold */
		if (rotation == 1 && restarts == 0 && in_first_hold(&w) &&
		    t - w.new_ca_patch >= 30 * MIN_MS) {
			leader_restart(&w, t);
			restarts++;
		}
		if (rotation == 2 && wipes == 0 && in_first_hold(&w) &&
		    t - w.new_ca_patch >= 30 * MIN_MS) {
			fb_cert_list old = { .n = 0 };
			fb_cert_list_add(&old, w.bundle.cert[1]);
			push_bundle(&w, t, &old);
			fb_cert_list_release(&old);
			check_served_verifies(&w, t);
			wipes++;
		}
		if (rotation == 2 && restarts == 1 && in_second_hold(&w) &&
		    t - w.last_serving >= 12 * HOUR_MS) {
			leader_restart(&w, t);
			restarts++;
		}
		int64_t next = reconcile(&w, t);
		check_served_verifies(&w, t);
		clock_steps++;
		if (w.count[FB_CERT_FINISH_ROTATION] == 2 && t - w.last_patch > 2 * DAY_MS)
			break;
		/* the clock: to the next decision the plan knows of, in steps of 10 min to a day
		 * (20 min in the first hold, 4 h in the second, to stop inside them) */
		int64_t dt = next - t;
		int64_t max = in_first_hold(&w) ? 20 * MIN_MS : in_second_hold(&w) ? 4 * HOUR_MS
		                                                                    : DAY_MS;
		dt = dt < 10 * MIN_MS ? 10 * MIN_MS : dt > max ? max : dt;
		t += dt;
	}
	const char *steps = w.steps.data ? w.steps.data : "";
	KT_CHECK(t < end);
	KT_EQ_INT(w.count[FB_CERT_CREATE], 1);
	KT_EQ_INT(w.count[FB_CERT_RESET], 0);
	KT_EQ_INT(w.count[FB_CERT_START_ROTATION], 2);
	KT_EQ_INT(w.count[FB_CERT_FINISH_ROTATION], 2);
	KT_EQ_INT(w.ncas, 3); /* the first CA and one per rotation, never one per start */
	KT_EQ_INT(restarts, 2);
	KT_EQ_INT(wipes, 1);
	KT_CHECK(strncmp(steps, "create patch-cabundle ", 22) == 0);
	/* each rotation in its order; in the second, the caBundle patched back once more */
	KT_EQ_INT(count_substr(steps, "start-ca-rotation patch-cabundle new-serving-certificate "
	                              "finish-ca-rotation patch-cabundle "), 1);
	KT_EQ_INT(count_substr(steps, "start-ca-rotation patch-cabundle patch-cabundle "
	                              "new-serving-certificate finish-ca-rotation patch-cabundle "), 1);
	/* serving certificates renewed between rotations too (90 d at 67 %) */
	KT_CHECK(w.count[FB_CERT_NEW_SERVING] >= 6);
	KT_CHECK(w.checks > 1500);
	fprintf(stderr, "  %d clock steps, %d checks, %zu serving certificates, %.0f days: %s\n",
	        clock_steps, w.checks, w.nserved, (double)(t - T0) / DAY_MS, steps);
	world_release(&w);
}

KT_TEST(restarts_never_generate_a_ca)
{
	world w;
	world_init(&w);
	int64_t t = T0;
	reconcile(&w, t);
	KT_EQ_INT(w.ncas, 1);
	/* a restart every 37 h for 200 days: no write but the serving renewals */
	for (t = T0 + 37 * HOUR_MS; t < T0 + 200 * DAY_MS; t += 37 * HOUR_MS) {
		leader_restart(&w, t);
		reconcile(&w, t);
		check_served_verifies(&w, t);
	}
	KT_EQ_INT(w.ncas, 1);
	KT_EQ_INT(w.count[FB_CERT_CREATE], 1);
	KT_EQ_INT(w.count[FB_CERT_START_ROTATION], 0);
	KT_EQ_INT(w.count[FB_CERT_NEW_SERVING], 3); /* at 60, 120, 180 days */
	KT_EQ_INT(w.count[FB_CERT_PATCH_BUNDLE], 1);
	world_release(&w);
}

KT_TEST(without_a_webhook_configuration_the_rotation_waits_at_its_second_stage)
{
	world w;
	world_init(&w);
	for (int64_t t = T0; t < T0 + 240 * DAY_MS; t += 5 * DAY_MS)
		reconcile(&w, t);
	KT_EQ_INT(w.count[FB_CERT_START_ROTATION], 0);
	fb_tls_fields f = fields(&w);
	fb_tls_material m;
	fb_tls_material_parse(&m, &f);
	fb_cert_state st = { .secret = &m, .sans = &w.sans, .bundle = NULL,
		             .bundle_since_ms = T0, .serving_since_ms = T0, .now_ms = T0 + 250 * DAY_MS };
	fb_cert_plan plan;
	fb_cert_plan_make(&st, &w.pol, &plan);
	KT_EQ_INT(plan.step, FB_CERT_START_ROTATION);
	KT_EQ_INT(plan.keep_ca, 0);
	fb_tls_pem out;
	fb_tls_pem_init(&out);
	char why[200];
	KT_EQ_INT(fb_cert_plan_apply(&plan, &st, &w.pol, &out, why, sizeof(why)), 0);
	fb_tls_material_release(&m);
	write_secret(&w, st.now_ms, &out);
	fb_tls_pem_release(&out);
	f = fields(&w);
	fb_tls_material_parse(&m, &f);
	KT_EQ_INT(m.ca.n, 2);
	/* no caBundle to hold the new CA: no serving certificate from it, ever */
	int64_t started = st.now_ms;
	for (int64_t t = started; t < started + 30 * DAY_MS; t += DAY_MS) {
		st.now_ms = t;
		fb_cert_plan_make(&st, &w.pol, &plan);
		KT_EQ_INT(plan.step, FB_CERT_NOTHING);
		KT_EQ_INT(plan.next_ms, INT64_MAX);
	}
	/* a webhook configuration appears: first the caBundle */
	fb_cert_list empty = { .n = 0 };
	st.bundle = &empty;
	st.bundle_uniform = true;
	fb_cert_plan_make(&st, &w.pol, &plan);
	KT_EQ_INT(plan.step, FB_CERT_PATCH_BUNDLE);
	/* entries that disagree are patched too */
	st.bundle = &m.ca;
	st.bundle_uniform = false;
	fb_cert_plan_make(&st, &w.pol, &plan);
	KT_EQ_INT(plan.step, FB_CERT_PATCH_BUNDLE);
	KT_CHECK(strstr(plan.why, "different caBundles") != NULL);
	/* held for less than an hour: wait, and say until when */
	st.bundle_uniform = true;
	st.bundle_since_ms = st.now_ms - 10 * MIN_MS;
	fb_cert_plan_make(&st, &w.pol, &plan);
	KT_EQ_INT(plan.step, FB_CERT_NOTHING);
	KT_EQ_INT(plan.next_ms, st.now_ms + 50 * MIN_MS);
	st.now_ms = plan.next_ms;
	fb_cert_plan_make(&st, &w.pol, &plan);
	KT_EQ_INT(plan.step, FB_CERT_NEW_SERVING);
	fb_tls_material_release(&m);
	world_release(&w);
}

int main(void)
{
	KT_RUN(two_full_rotations_keep_the_served_certificate_verifiable_at_every_step);
	KT_RUN(restarts_never_generate_a_ca);
	KT_RUN(without_a_webhook_configuration_the_rotation_waits_at_its_second_stage);
	return KT_DONE();
}
