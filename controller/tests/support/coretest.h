/*
 * coretest.h - what the decision core's unit tests share: one core and the
 * actions of its last tick, times in milliseconds from T0, and lookups over
 * those actions. Each test file builds its own cluster on top.
 */
#ifndef FB_CORETEST_H
#define FB_CORETEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

#define S 1000LL /* one second in ms */
#define MIN (60 * S)
#define T0 (1700000000LL * S)

extern fb_core *core;
extern fb_actions acts;

/* A core with cfg (NULL: the defaults); teardown frees it. */
void setup_config(const fb_core_config *cfg);
/* A core with the defaults, globally in dry run or not. */
void setup(bool dry_run);
void teardown(void);

/* One tick at now; acts holds what it decided. Returns the core's next time. */
int64_t tick(int64_t now);

/* Actions of the last tick: how many of a kind, the index of the first, and the
 * first whose object is named name_or_reason (or, for Events, whose reason is;
 * NULL: the first of the kind). */
int count(fb_action_kind kind);
int index_of(fb_action_kind kind);
const fb_action *find(fb_action_kind kind, const char *name_or_reason);

/* The reference of workload id "Kind/namespace/name" (one of 8 rotating buffers), or NULL. */
const fb_workload_ref *WL(const char *id);
/* The same from its parts. */
const fb_workload_ref *WK(const char *kind, const char *ns, const char *name);
/* The JSON an annotation or Quarantine action writes (valid until the next tick), or NULL. */
const char *payload(const fb_action *a);

#endif
