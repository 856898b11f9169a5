/*
 * budget.h - the EvictionBudget (firebreak.dev/v1alpha1) as the core sees it:
 * its spec parsed and checked, and the admission rules one budget applies to a
 * failed node: paused, maxUnhealthy, sliding windows and, when the budget has
 * a `rate` section, its own zone-aware rate limiter over the nodes it selects.
 * A node is admitted only when every budget that selects it admits it.
 */
#ifndef FB_BUDGET_H
#define FB_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "selector.h"
#include "workload.h"
#include "zones.h"

#define FB_MAX_WINDOWS 10
#define FB_BUDGET_ADMISSIONS_MAX 1000 /* kept in status; the CRD caps the list there */

typedef enum fb_evict_mode { FB_MODE_EVICT, FB_MODE_DELETE } fb_evict_mode;
typedef enum fb_poison_action { FB_POISON_PIN, FB_POISON_SCALE_TO_ZERO } fb_poison_action;

typedef struct fb_window {
	int max_nodes;
	int64_t window_ms;
} fb_window;

/* spec.poison.window and arrivalWindow when not given: the surprise verdict's (its horizon:
 * a poison that takes up to ~8 h to kill is seen), and the ratio rule's (tuned by sweeps,
 * docs/simulator.md) */
#define FB_POISON_WINDOW_DEFAULT_MS (24LL * 3600 * 1000)
#define FB_POISON_ARRIVAL_WINDOW_DEFAULT_MS (8LL * 3600 * 1000)
#define FB_RATIO_WINDOW_DEFAULT_MS (3600LL * 1000)
#define FB_RATIO_ARRIVAL_WINDOW_DEFAULT_MS (30LL * 60 * 1000)

typedef struct fb_poison_spec {
	bool enabled;
	int failures;
	int64_t window_ms;
	int64_t arrival_window_ms;
	fb_poison_action action;
} fb_poison_spec;

typedef struct fb_budget_spec {
	fb_selector selector;
	bool paused;
	bool dry_run;
	bool has_rate;
	fb_rates rate;
	bool has_max_unhealthy;
	bool max_unhealthy_is_percent;
	int max_unhealthy;             /* count, or percent 0..100 */
	fb_window windows[FB_MAX_WINDOWS];
	int nwindows;
	fb_evict_mode mode;
	int64_t pdb_blocked_timeout_ms; /* 0 = never fall back to delete */
	int64_t grace_period_s;         /* -1 = not set (the pod's own) */
	fb_poison_spec poison;
} fb_budget_spec;

/* The CRD's defaults for every field (what an empty spec means). */
void fb_budget_spec_defaults(fb_budget_spec *s);
/* Windows not given (0) get the verdict's own; a window shorter than arrivalWindow grows to it. */
void fb_poison_spec_resolve(fb_poison_spec *p, bool surprise);
/*
 * Parse and check .spec of an EvictionBudget. Fields absent take the CRD's
 * defaults. What the schema cannot catch is checked here (a selector that
 * does not parse, a percentage over 100, arrivalWindow longer than window...).
 * On error returns -1 with a one-line reason naming the field in err; *out is
 * left released.
 */
int fb_budget_spec_parse(fb_budget_spec *out, const cJSON *spec, char *err, size_t errcap);
void fb_budget_spec_release(fb_budget_spec *s);

/*
 * maxUnhealthy: evictions halt while more nodes than it are unhealthy; a
 * percentage is compared exactly (unhealthy x 100 > N x selected), with no
 * rounding. fb_budget_max_unhealthy gives the largest count still allowed,
 * for messages.
 */
bool fb_budget_over_max_unhealthy(const fb_budget_spec *s, int unhealthy, int selected);
int fb_budget_max_unhealthy(const fb_budget_spec *s, int selected);

/* One admission: a failed node whose pods this budget let go. */
typedef struct fb_admission {
	char node[FB_NAME_MAX];
	int64_t at_ms;
} fb_admission;

typedef enum fb_deny {
	FB_ADMIT = 0,
	FB_DENY_PAUSED,
	FB_DENY_MAX_UNHEALTHY,
	FB_DENY_WINDOW,
	FB_DENY_RATE,
	FB_DENY_FULL_DISRUPTION,
} fb_deny;

/* A stable CamelCase word for Events and metrics ("Paused", "MaxUnhealthy", ...). */
const char *fb_deny_reason(fb_deny d);

/*
 * The window check: how many admissions fall within each window ending at
 * now, and whether one more fits. On FB_DENY_WINDOW, *which is the window
 * index and *retry_ms when the oldest admission in it leaves the window.
 */
fb_deny fb_windows_check(const fb_budget_spec *s, const fb_admission *adm, size_t nadm,
                         int64_t now_ms, int *which, int64_t *retry_ms);
int fb_windows_used(const fb_window *w, const fb_admission *adm, size_t nadm, int64_t now_ms);

#endif
