/* metrics.c - see metrics.h. Few families, few series: linear scans are fine. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/array.h"
#include "kc/buf.h"
#include "metrics.h"

#define METRICS_RENDER_MAX (8u << 20)
#define MAX_BUCKETS 16

typedef struct series {
	char *labels;           /* "" for none */
	double value;           /* counters, gauges; histograms: sum */
	unsigned long long count;
	unsigned long long buckets[MAX_BUCKETS];
} series;

typedef struct family {
	char *name, *help;
	fb_metric_type type;
	double bounds[MAX_BUCKETS];
	size_t nbounds;
	series *s;
	size_t n, cap;
} family;

struct fb_metrics {
	pthread_mutex_t lock;
	family *f;
	size_t n, cap;
};

fb_metrics *fb_metrics_new(void)
{
	fb_metrics *m = kc_calloc(1, sizeof(*m));
	if (m)
		pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void family_clear(family *f)
{
	for (size_t i = 0; i < f->n; i++)
		kc_free(f->s[i].labels);
	kc_free(f->s);
	f->s = NULL;
	f->n = f->cap = 0;
}

void fb_metrics_free(fb_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		family_clear(&m->f[i]);
		kc_free(m->f[i].name);
		kc_free(m->f[i].help);
	}
	kc_free(m->f);
	pthread_mutex_destroy(&m->lock);
	kc_free(m);
}

static family *find_family(fb_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->f[i].name, name) == 0)
			return &m->f[i];
	return NULL;
}

int fb_metrics_family(fb_metrics *m, const char *name, fb_metric_type type, const char *help,
                      const double *buckets, size_t nbuckets)
{
	pthread_mutex_lock(&m->lock);
	int rc = -1;
	if (find_family(m, name) || nbuckets > MAX_BUCKETS)
		goto out;
	if (KC_ARRAY_RESERVE(m->f, m->cap, m->n + 1) != 0)
		goto out;
	family *f = &m->f[m->n];
	memset(f, 0, sizeof(*f));
	f->name = kc_strdup(name);
	f->help = kc_strdup(help);
	if (!f->name || !f->help) {
		kc_free(f->name);
		kc_free(f->help);
		goto out;
	}
	f->type = type;
	for (size_t i = 0; i < nbuckets; i++)
		f->bounds[i] = buckets[i];
	f->nbounds = nbuckets;
	m->n++;
	rc = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static series *find_series(family *f, const char *labels)
{
	labels = labels ? labels : "";
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->s[i].labels, labels) == 0)
			return &f->s[i];
	if (KC_ARRAY_RESERVE(f->s, f->cap, f->n + 1) != 0)
		return NULL;
	series *s = &f->s[f->n];
	memset(s, 0, sizeof(*s));
	if (!(s->labels = kc_strdup(labels)))
		return NULL;
	f->n++;
	return s;
}

static void update(fb_metrics *m, const char *name, const char *labels, double v, int how)
{
	pthread_mutex_lock(&m->lock);
	family *f = find_family(m, name);
	series *s = f ? find_series(f, labels) : NULL;
	if (s) {
		if (how == 0)
			s->value += v;
		else if (how == 1)
			s->value = v;
		else {
			s->value += v;
			s->count++;
			for (size_t i = 0; i < f->nbounds; i++)
				if (v <= f->bounds[i])
					s->buckets[i]++;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void fb_metrics_add(fb_metrics *m, const char *name, const char *labels, double v)
{
	update(m, name, labels, v, 0);
}

void fb_metrics_set(fb_metrics *m, const char *name, const char *labels, double v)
{
	update(m, name, labels, v, 1);
}

void fb_metrics_observe(fb_metrics *m, const char *name, const char *labels, double v)
{
	update(m, name, labels, v, 2);
}

void fb_metrics_set_histogram(fb_metrics *m, const char *name, const char *labels,
                              const uint64_t *le, size_t n, uint64_t count, double sum)
{
	pthread_mutex_lock(&m->lock);
	family *f = find_family(m, name);
	series *s = f && f->type == FB_HISTOGRAM && f->nbounds == n ? find_series(f, labels) : NULL;
	if (s) {
		for (size_t i = 0; i < n; i++)
			s->buckets[i] = le[i];
		s->count = count;
		s->value = sum;
	}
	pthread_mutex_unlock(&m->lock);
}

void fb_metrics_reset(fb_metrics *m, const char *name)
{
	pthread_mutex_lock(&m->lock);
	family *f = find_family(m, name);
	if (f)
		family_clear(f);
	pthread_mutex_unlock(&m->lock);
}

const char *fb_metrics_label(const char *value, char *buf, size_t cap)
{
	size_t j = 0;
	for (const char *p = value; *p && j + 3 < cap; p++) {
		if (*p == '\\' || *p == '"') {
			buf[j++] = '\\';
			buf[j++] = *p;
		} else if (*p == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = *p;
		}
	}
	buf[j] = '\0';
	return buf;
}

static void fmt_value(char *buf, size_t cap, double v)
{
	if (isinf(v))
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.9g", v);
}

char *fb_metrics_render(fb_metrics *m)
{
	kc_buf b;
	kc_buf_init(&b, METRICS_RENDER_MAX);
	static const char *const types[] = { "counter", "gauge", "histogram" };
	kc_err err = KC_OK;
	char v[64], le[64];
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n && !err; i++) {
		family *f = &m->f[i];
		err = kc_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		                    types[f->type]);
		for (size_t j = 0; j < f->n && !err; j++) {
			series *s = &f->s[j];
			const char *open = s->labels[0] ? "{" : "", *close = s->labels[0] ? "}" : "";
			if (f->type != FB_HISTOGRAM) {
				fmt_value(v, sizeof(v), s->value);
				err = kc_buf_printf(&b, "%s%s%s%s %s\n", f->name, open, s->labels, close, v);
				continue;
			}
			const char *sep = s->labels[0] ? "," : "";
			for (size_t k = 0; k <= f->nbounds && !err; k++) {
				fmt_value(le, sizeof(le), k < f->nbounds ? f->bounds[k] : INFINITY);
				err = kc_buf_printf(&b, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels,
				                    sep, le, k < f->nbounds ? s->buckets[k] : s->count);
			}
			fmt_value(v, sizeof(v), s->value);
			if (!err)
				err = kc_buf_printf(&b, "%s_sum%s%s%s %s\n%s_count%s%s%s %llu\n", f->name, open,
				                    s->labels, close, v, f->name, open, s->labels, close,
				                    s->count);
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (err) {
		kc_buf_release(&b);
		return NULL;
	}
	return kc_buf_take(&b);
}
