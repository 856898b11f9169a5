/*
 * metrics.h - a small Prometheus registry: counters, gauges and histograms
 * with label sets, rendered in the text exposition format (version 0.0.4).
 * Thread-safe: informer threads, the run loop and the HTTP server share it.
 * Metric and label names are the caller's constants; label values are escaped.
 */
#ifndef FB_METRICS_H
#define FB_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fb_metrics fb_metrics;

typedef enum fb_metric_type { FB_COUNTER, FB_GAUGE, FB_HISTOGRAM } fb_metric_type;

/* NULL on ENOMEM. */
fb_metrics *fb_metrics_new(void);
void fb_metrics_free(fb_metrics *m);

/*
 * Declare a family (once, before use). Histograms take their upper bounds
 * (ascending, +Inf implied). Returns -1 on ENOMEM or a repeated name.
 */
int fb_metrics_family(fb_metrics *m, const char *name, fb_metric_type type, const char *help,
                      const double *buckets, size_t nbuckets);

/*
 * Update one series. labels is a preformatted, already-escaped label list
 * such as `zone="a",state="Normal"` (use fb_metrics_label to escape values),
 * or NULL. Unknown families are ignored.
 */
void fb_metrics_add(fb_metrics *m, const char *name, const char *labels, double v);
void fb_metrics_set(fb_metrics *m, const char *name, const char *labels, double v);
void fb_metrics_observe(fb_metrics *m, const char *name, const char *labels, double v);
/*
 * Set a histogram series whole from counts kept elsewhere (a snapshot of a
 * module's own counters, e.g. fb_webhook_stats): le[i] observations within
 * the family's i-th bound (cumulative; n must be the family's number of
 * bounds), count in all, their sum. Ignored for an unknown family, one that
 * is not a histogram, or another number of bounds.
 */
void fb_metrics_set_histogram(fb_metrics *m, const char *name, const char *labels,
                              const uint64_t *le, size_t n, uint64_t count, double sum);
/* Drop every series of a gauge family (before re-setting a changing label set). */
void fb_metrics_reset(fb_metrics *m, const char *name);

/* Escape a label value (\\, \", \n) into buf; returns buf. */
const char *fb_metrics_label(const char *value, char *buf, size_t cap);

/* The whole registry as text; caller frees with kc_free. NULL on ENOMEM. */
char *fb_metrics_render(fb_metrics *m);

#endif
