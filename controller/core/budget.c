/* budget.c - EvictionBudget spec parsing and window arithmetic (see budget.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "budget.h"
#include "duration.h"

void fb_budget_spec_defaults(fb_budget_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->rate = FB_RATES_DEFAULT;
	s->mode = FB_MODE_EVICT;
	s->pdb_blocked_timeout_ms = 10 * 60 * 1000;
	s->grace_period_s = -1;
	/* window and arrivalWindow 0: the verdict's own (fb_poison_spec_resolve) */
	s->poison = (fb_poison_spec){ .enabled = true, .failures = 2, .action = FB_POISON_PIN };
}

void fb_poison_spec_resolve(fb_poison_spec *p, bool surprise)
{
	if (p->window_ms <= 0)
		p->window_ms = surprise ? FB_POISON_WINDOW_DEFAULT_MS : FB_RATIO_WINDOW_DEFAULT_MS;
	if (p->arrival_window_ms <= 0)
		p->arrival_window_ms = surprise ? FB_POISON_ARRIVAL_WINDOW_DEFAULT_MS
		                                : FB_RATIO_ARRIVAL_WINDOW_DEFAULT_MS;
	if (p->arrival_window_ms > p->window_ms) /* only arrivalWindow given, beyond the default */
		p->window_ms = p->arrival_window_ms;
}

void fb_budget_spec_release(fb_budget_spec *s)
{
	fb_selector_release(&s->selector);
}

const char *fb_deny_reason(fb_deny d)
{
	switch (d) {
	case FB_ADMIT: return "Admitted";
	case FB_DENY_PAUSED: return "Paused";
	case FB_DENY_MAX_UNHEALTHY: return "MaxUnhealthy";
	case FB_DENY_WINDOW: return "WindowExhausted";
	case FB_DENY_RATE: return "RateLimited";
	case FB_DENY_FULL_DISRUPTION: return "FullDisruption";
	}
	return "Unknown";
}

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errcap, __VA_ARGS__); \
		goto fail;                          \
	} while (0)

/* Optional member of a given JSON type; a wrong type is an error. */
static const cJSON *member(const cJSON *obj, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	return (it && !cJSON_IsNull(it)) ? it : NULL;
}

static int get_bool(const cJSON *obj, const char *name, bool *out, const char *path, char *err,
                    size_t errcap)
{
	const cJSON *it = member(obj, name);
	if (!it)
		return 0;
	if (!cJSON_IsBool(it)) {
		snprintf(err, errcap, "%s.%s must be true or false", path, name);
		return -1;
	}
	*out = cJSON_IsTrue(it);
	return 0;
}

static int get_number(const cJSON *obj, const char *name, double lo, double hi, double *out,
                      const char *path, char *err, size_t errcap)
{
	const cJSON *it = member(obj, name);
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < lo ||
	    it->valuedouble > hi) {
		snprintf(err, errcap, "%s.%s must be a number from %g to %g", path, name, lo, hi);
		return -1;
	}
	*out = it->valuedouble;
	return 0;
}

static int get_int(const cJSON *obj, const char *name, int64_t lo, int64_t hi, int64_t *out,
                   const char *path, char *err, size_t errcap)
{
	double v = (double)*out;
	if (get_number(obj, name, (double)lo, (double)hi, &v, path, err, errcap) != 0)
		return -1;
	if (v != floor(v)) {
		snprintf(err, errcap, "%s.%s must be a whole number", path, name);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

static int get_duration(const cJSON *obj, const char *name, int64_t min_ms, int64_t *out,
                        const char *path, char *err, size_t errcap)
{
	const cJSON *it = member(obj, name);
	if (!it)
		return 0;
	int64_t ms;
	if (!cJSON_IsString(it) || !fb_duration_parse(it->valuestring, &ms)) {
		snprintf(err, errcap, "%s.%s must be a duration such as \"90s\", \"30m\" or \"1h\"",
		         path, name);
		return -1;
	}
	if (ms < min_ms) {
		snprintf(err, errcap, "%s.%s must be %s", path, name,
		         min_ms > 0 ? "longer than zero" : "zero or more");
		return -1;
	}
	*out = ms;
	return 0;
}

int fb_budget_spec_parse(fb_budget_spec *out, const cJSON *spec, char *err, size_t errcap)
{
	fb_budget_spec_defaults(out);
	if (!spec || cJSON_IsNull(spec))
		return 0;
	if (!cJSON_IsObject(spec))
		FAIL("spec must be an object");
	if (fb_selector_parse(&out->selector, member(spec, "nodeSelector"), err, errcap) != 0)
		goto fail;
	if (get_bool(spec, "paused", &out->paused, "spec", err, errcap) ||
	    get_bool(spec, "dryRun", &out->dry_run, "spec", err, errcap))
		goto fail;

	const cJSON *rate = member(spec, "rate");
	if (rate) {
		if (!cJSON_IsObject(rate))
			FAIL("spec.rate must be an object");
		out->has_rate = true;
		int64_t large = out->rate.large_cluster_threshold;
		if (get_number(rate, "normal", 0, 1e6, &out->rate.normal, "spec.rate", err, errcap) ||
		    get_number(rate, "secondary", 0, 1e6, &out->rate.secondary, "spec.rate", err,
		               errcap) ||
		    get_number(rate, "unhealthyZoneThreshold", 0, 1, &out->rate.unhealthy_threshold,
		               "spec.rate", err, errcap) ||
		    get_int(rate, "largeClusterSizeThreshold", 0, 1000000, &large, "spec.rate", err,
		            errcap))
			goto fail;
		out->rate.large_cluster_threshold = (int)large;
	}

	const cJSON *mu = member(spec, "maxUnhealthy");
	if (mu) {
		out->has_max_unhealthy = true;
		if (cJSON_IsNumber(mu)) {
			if (mu->valuedouble < 0 || mu->valuedouble > 1e6 ||
			    mu->valuedouble != floor(mu->valuedouble))
				FAIL("spec.maxUnhealthy must be a whole number of nodes (0 or more) or a "
				     "percentage such as \"40%%\"");
			out->max_unhealthy = (int)mu->valuedouble;
		} else if (cJSON_IsString(mu)) {
			const char *s = mu->valuestring;
			size_t n = strlen(s);
			int v = 0;
			bool ok = n >= 2 && n <= 4 && s[n - 1] == '%';
			for (size_t i = 0; ok && i + 1 < n; i++) {
				ok = s[i] >= '0' && s[i] <= '9';
				v = v * 10 + (s[i] - '0');
			}
			if (!ok || v > 100)
				FAIL("spec.maxUnhealthy \"%.20s\" is not a percentage from \"0%%\" to "
				     "\"100%%\"", s);
			out->max_unhealthy_is_percent = true;
			out->max_unhealthy = v;
		} else {
			FAIL("spec.maxUnhealthy must be a number of nodes or a percentage string");
		}
	}

	const cJSON *windows = member(spec, "windows");
	if (windows) {
		if (!cJSON_IsArray(windows))
			FAIL("spec.windows must be a list");
		if (cJSON_GetArraySize(windows) > FB_MAX_WINDOWS)
			FAIL("spec.windows has more than %d entries", FB_MAX_WINDOWS);
		const cJSON *w;
		cJSON_ArrayForEach(w, windows) {
			char path[32];
			snprintf(path, sizeof(path), "spec.windows[%d]", out->nwindows);
			if (!cJSON_IsObject(w))
				FAIL("%s must be an object", path);
			if (!member(w, "maxNodes") || !member(w, "window"))
				FAIL("%s needs both maxNodes and window", path);
			int64_t max = 0, ms = 0;
			if (get_int(w, "maxNodes", 0, 1000000, &max, path, err, errcap) ||
			    get_duration(w, "window", 1, &ms, path, err, errcap))
				goto fail;
			out->windows[out->nwindows++] = (fb_window){ (int)max, ms };
		}
	}

	const cJSON *pe = member(spec, "podEviction");
	if (pe) {
		if (!cJSON_IsObject(pe))
			FAIL("spec.podEviction must be an object");
		const cJSON *mode = member(pe, "mode");
		if (mode) {
			if (cJSON_IsString(mode) && strcmp(mode->valuestring, "Evict") == 0)
				out->mode = FB_MODE_EVICT;
			else if (cJSON_IsString(mode) && strcmp(mode->valuestring, "Delete") == 0)
				out->mode = FB_MODE_DELETE;
			else
				FAIL("spec.podEviction.mode must be Evict or Delete");
		}
		if (get_duration(pe, "pdbBlockedTimeout", 0, &out->pdb_blocked_timeout_ms,
		                 "spec.podEviction", err, errcap) ||
		    get_int(pe, "gracePeriodSeconds", 0, 86400 * 365, &out->grace_period_s,
		            "spec.podEviction", err, errcap))
			goto fail;
	}

	const cJSON *po = member(spec, "poison");
	if (po) {
		if (!cJSON_IsObject(po))
			FAIL("spec.poison must be an object");
		int64_t failures = out->poison.failures;
		if (get_bool(po, "enabled", &out->poison.enabled, "spec.poison", err, errcap) ||
		    get_int(po, "failures", 1, 100, &failures, "spec.poison", err, errcap) ||
		    get_duration(po, "window", 1, &out->poison.window_ms, "spec.poison", err, errcap) ||
		    get_duration(po, "arrivalWindow", 1, &out->poison.arrival_window_ms, "spec.poison",
		                 err, errcap))
			goto fail;
		out->poison.failures = (int)failures;
		const cJSON *action = member(po, "action");
		if (action) {
			if (cJSON_IsString(action) && strcmp(action->valuestring, "Pin") == 0)
				out->poison.action = FB_POISON_PIN;
			else if (cJSON_IsString(action) &&
			         strcmp(action->valuestring, "ScaleToZero") == 0)
				out->poison.action = FB_POISON_SCALE_TO_ZERO;
			else
				FAIL("spec.poison.action must be Pin or ScaleToZero");
		}
		if (out->poison.window_ms && out->poison.arrival_window_ms > out->poison.window_ms)
			FAIL("spec.poison.arrivalWindow must not be longer than spec.poison.window");
	}
	return 0;
fail:
	fb_budget_spec_release(out);
	return -1;
}

int fb_budget_max_unhealthy(const fb_budget_spec *s, int selected)
{
	if (!s->has_max_unhealthy)
		return selected;
	if (!s->max_unhealthy_is_percent)
		return s->max_unhealthy;
	return (int)(selected * (int64_t)s->max_unhealthy / 100);
}

bool fb_budget_over_max_unhealthy(const fb_budget_spec *s, int unhealthy, int selected)
{
	if (!s->has_max_unhealthy)
		return false;
	if (!s->max_unhealthy_is_percent)
		return unhealthy > s->max_unhealthy;
	/* "above N%": compared exactly, with no rounding (config/README.md) */
	return (int64_t)unhealthy * 100 > (int64_t)s->max_unhealthy * selected;
}

int fb_windows_used(const fb_window *w, const fb_admission *adm, size_t nadm, int64_t now_ms)
{
	int used = 0;
	for (size_t i = 0; i < nadm; i++)
		if (adm[i].at_ms > now_ms - w->window_ms && adm[i].at_ms <= now_ms)
			used++;
	return used;
}

fb_deny fb_windows_check(const fb_budget_spec *s, const fb_admission *adm, size_t nadm,
                         int64_t now_ms, int *which, int64_t *retry_ms)
{
	for (int i = 0; i < s->nwindows; i++) {
		const fb_window *w = &s->windows[i];
		if (fb_windows_used(w, adm, nadm, now_ms) < w->max_nodes)
			continue;
		/* full: a slot frees when the oldest admission inside it leaves */
		int64_t oldest = INT64_MAX;
		for (size_t j = 0; j < nadm; j++)
			if (adm[j].at_ms > now_ms - w->window_ms && adm[j].at_ms < oldest)
				oldest = adm[j].at_ms;
		if (which)
			*which = i;
		if (retry_ms)
			*retry_ms = oldest == INT64_MAX ? INT64_MAX : oldest + w->window_ms;
		return FB_DENY_WINDOW;
	}
	return FB_ADMIT;
}
