/*
 * kc/leader.h - leader election on a coordination.k8s.io/v1 Lease.
 *
 * Mirrors client-go tools/leaderelection/leaderelection.go (LeaderElector:
 * NewLeaderElector, acquire, renew, release, tryAcquireOrRenew) and
 * tools/leaderelection/resourcelock/leaselock.go (LeaseLock Get/Create/Update).
 * Two layers:
 *
 *   kc_election  the pure decision core: lease record + clock in, what to
 *                write and what happened out. No I/O, no clock reads; the
 *                unit tests drive it with a fake clock.
 *   kc_leader    the handle: a thread that runs the core against the API
 *                server through kc_client, and the callbacks.
 *
 * Semantics (upstream's unless marked "firebreak:"):
 *   - Expiry is judged on LOCAL observation time: a candidate records when it
 *     last saw the lease record change (the whole record is compared, not the
 *     server's renewTime) and treats another holder's lease as expired only
 *     once observedTime + leaseDurationSeconds (the record's own value, as
 *     upstream isLeaseValid) has passed on its monotonic clock. Clock skew
 *     between replicas therefore does not matter, only skew rate.
 *   - Writes carry metadata.resourceVersion (the GET's object is PUT back with
 *     a new spec); 409 Conflict = lost the race, not leader this round.
 *   - leaseTransitions + 1 on a holder change; acquireTime kept on renewal.
 *   - A leader first renews on the fast path (PUT on the last object it wrote,
 *     upstream's "fast path for the leader"), and falls back to GET + PUT.
 *   - firebreak: the renew deadline counts from the moment the last successful
 *     renewal was SENT (client-go counts from the start of a renewal round,
 *     i.e. up to RetryPeriod later); kc_leader_is_leader() turns false exactly
 *     at that deadline even if the election thread is stuck in a request.
 *   - firebreak: a leader that sees another holder in the lease stops leading
 *     at once rather than retrying until its renew deadline.
 *   - firebreak: on_stopped_leading is called only if on_started_leading was
 *     (client-go calls OnStoppedLeading whenever Run returns), and exactly
 *     once per leadership term.
 *   - After leadership is lost the handle does not campaign again (like
 *     client-go's Run returning) unless rejoin_after_loss is set, in which case
 *     it goes back to acquiring as a fresh candidate.
 */
#ifndef KC_LEADER_H
#define KC_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kc/client.h"
#include "kc/error.h"
#include "kc/time.h"

#define KC_LEADER_DEFAULT_LEASE_MS 15000 /* LeaseDuration (core clients' default) */
#define KC_LEADER_DEFAULT_RENEW_MS 10000 /* RenewDeadline */
#define KC_LEADER_DEFAULT_RETRY_MS 2000  /* RetryPeriod */
#define KC_LEADER_JITTER           1.2   /* client-go JitterFactor */
#define KC_LEADER_IDENTITY_MAX     256   /* holderIdentity bytes, NUL included */
#define KC_LEASE_MAX_BYTES         (1u << 20) /* a Lease answer we accept */

/* ---- Timing --------------------------------------------------------------- */

typedef struct kc_leader_timing {
	int64_t lease_duration_ms; /* 0: KC_LEADER_DEFAULT_LEASE_MS */
	int64_t renew_deadline_ms; /* 0: KC_LEADER_DEFAULT_RENEW_MS */
	int64_t retry_period_ms;   /* 0: KC_LEADER_DEFAULT_RETRY_MS */
} kc_leader_timing;

/*
 * Fill zero fields with the defaults, then check what NewLeaderElector checks:
 * LeaseDuration > RenewDeadline > JitterFactor x RetryPeriod, all > 0, and
 * LeaseDuration >= 1 s (the Lease stores whole seconds). KC_ERR_INVALID with
 * a message in d otherwise (t is then partly filled with defaults).
 */
kc_err kc_leader_timing_validate(kc_leader_timing *t, kc_error_detail *d);

/* ---- The lease record (LeaderElectionRecord) ---------------------------- */

typedef struct kc_lease_record {
	char holder[KC_LEADER_IDENTITY_MAX];  /* "" = nobody; longer values truncated */
	int64_t lease_duration_s;             /* 0 when absent */
	char acquire_time[KC_TIME_STR_MAX];   /* MicroTime as on the wire, "" when absent */
	char renew_time[KC_TIME_STR_MAX];
	int64_t transitions;
} kc_lease_record;

/*
 * Read spec of a Lease object (LeaseSpecToLeaderElectionRecord). Missing
 * fields read as empty/0. KC_ERR_PARSE if lease is not an object or a field
 * has the wrong JSON type; *out is zeroed first.
 */
kc_err kc_lease_record_from_json(const cJSON *lease, kc_lease_record *out);
/*
 * A new Lease spec object for r (LeaderElectionRecordToLeaseSpec): every
 * field is written, holderIdentity "" included; empty times are omitted.
 * The caller owns *out (cJSON_Delete). KC_ERR_NOMEM, *out untouched.
 */
kc_err kc_lease_record_to_spec(const kc_lease_record *r, cJSON **out);
/* Same holder, duration, times and transitions (upstream's raw-record compare). */
bool kc_lease_record_equal(const kc_lease_record *a, const kc_lease_record *b);

/* ---- Pure decision core --------------------------------------------------- */

typedef enum kc_election_phase {
	KC_ELECTION_ACQUIRING,
	KC_ELECTION_LEADING,
	KC_ELECTION_LOST,      /* lost or released; terminal unless rejoining */
} kc_election_phase;

typedef enum kc_election_step {
	KC_ELECT_HELD,   /* another holder's lease is still fresh: not leader this round */
	KC_ELECT_CREATE, /* POST a new Lease with the record */
	KC_ELECT_UPDATE, /* PUT the fetched Lease (its resourceVersion) with the record */
} kc_election_step;

/* What a round or a check produced, for the caller to report. */
typedef struct kc_election_events {
	bool started;        /* became leader: call on_started_leading */
	bool stopped;        /* stopped leading: call on_stopped_leading */
	bool new_leader;     /* observed a different (non-empty) holder */
	char leader[KC_LEADER_IDENTITY_MAX];
} kc_election_events;

/* Plain data; the caller may copy it. Fields are private to leader.c. */
typedef struct kc_election {
	char identity[KC_LEADER_IDENTITY_MAX];
	kc_leader_timing timing;
	bool rejoin_after_loss;
	kc_election_phase phase;
	bool have_observed;
	kc_lease_record observed;
	int64_t observed_ms;     /* monotonic time we last saw the record change */
	int64_t renewed_ms;      /* send time of our last successful write */
	bool lost_to_other;      /* this round saw another holder while leading */
	char reported[KC_LEADER_IDENTITY_MAX];
} kc_election;

/*
 * Start as a candidate. timing must have passed kc_leader_timing_validate;
 * identity must be non-empty and shorter than KC_LEADER_IDENTITY_MAX
 * (KC_ERR_INVALID otherwise, e untouched).
 */
kc_err kc_election_init(kc_election *e, const char *identity, const kc_leader_timing *t,
                        bool rejoin_after_loss);

/*
 * Fast path: true if we lead and our own last record is still valid; *rec is
 * then the renewal to PUT on the last Lease object we wrote. On success call
 * kc_election_written; on failure fall back to the slow path (GET, decide).
 */
bool kc_election_fast_renew(kc_election *e, int64_t now_ms, int64_t now_wall_us,
                            kc_lease_record *rec);

/*
 * Slow path, after a GET: got is the fetched record, NULL when the Lease does
 * not exist (404). Returns what to write into *rec (nothing for HELD).
 */
kc_election_step kc_election_decide(kc_election *e, const kc_lease_record *got,
                                    int64_t now_ms, int64_t now_wall_us,
                                    kc_lease_record *rec);

/* The write of rec, sent at sent_ms, succeeded (answer at now_ms). */
void kc_election_written(kc_election *e, const kc_lease_record *rec, int64_t sent_ms,
                         int64_t now_ms);

/*
 * End of one tryAcquireOrRenew round (ok = the write succeeded). Moves
 * between acquiring / leading / lost and says what to report.
 */
void kc_election_round_done(kc_election *e, bool ok, int64_t now_ms, kc_election_events *ev);

/* Without a round: leadership ends when the renew deadline has passed. */
void kc_election_check(kc_election *e, int64_t now_ms, kc_election_events *ev);

/* Leading and before the renew deadline. */
bool kc_election_is_leading(const kc_election *e, int64_t now_ms);
/* Monotonic ms at which leadership lapses without a renewal (0 when not leading). */
int64_t kc_election_valid_until(const kc_election *e);

/*
 * How long to wait before the next round. Acquiring: RetryPeriod jittered
 * by up to JitterFactor (wait.JitterUntil: [d, d * 2.2)) using rand01 in
 * [0,1). Leading: RetryPeriod (wait.Until / PollImmediateUntil), never past
 * the renew deadline.
 */
int64_t kc_election_delay_ms(const kc_election *e, int64_t now_ms, double rand01);

/*
 * release(): if the last observed holder is us, true and *rec = holder "",
 * leaseDurationSeconds 1, acquire/renew now, transitions kept: PUT it on the
 * last Lease object. Leadership ends here (no event is produced; the caller
 * reports stopping itself). kc_election_released records a success.
 */
bool kc_election_release(kc_election *e, int64_t now_wall_us, kc_lease_record *rec);
void kc_election_released(kc_election *e, const kc_lease_record *rec, int64_t now_ms);

/* ---- The handle ---------------------------------------------------------- */

typedef struct kc_leader kc_leader;

/*
 * Callbacks run on the election thread, one at a time, never concurrently
 * with each other. They must return promptly (start workers, do not run
 * them): the lease is not renewed while a callback runs. They may call
 * kc_leader_is_leader / kc_leader_current but not kc_leader_stop/free.
 * on_stopped_leading is called as soon as leadership is lost (renew deadline
 * passed, another holder seen) or the handle is stopped while leading; the
 * caller must stop every write then. Any callback may be NULL.
 */
typedef struct kc_leader_callbacks {
	void (*on_started_leading)(void *ud);
	void (*on_stopped_leading)(void *ud);
	void (*on_new_leader)(void *ud, const char *identity);
	void *ud;
} kc_leader_callbacks;

typedef struct kc_leader_config {
	const char *namespace;       /* of the Lease; required */
	const char *name;            /* of the Lease; required */
	const char *identity;        /* holderIdentity; firebreak: hostname_uuid */
	kc_leader_timing timing;     /* zeros: 15 s / 10 s / 2 s */
	/*
	 * On kc_leader_stop while (last seen as) the holder, give the lease up:
	 * PUT holderIdentity "", leaseDurationSeconds 1 (client-go release()).
	 * As upstream warns: every write guarded by the lease must be finished
	 * before stopping, or two replicas may act at once.
	 */
	bool release_on_cancel;
	bool rejoin_after_loss;      /* default false: campaign only once */
	kc_leader_callbacks callbacks;
} kc_leader_config;

/*
 * Create a handle (not running yet). cfg's strings are copied; client is
 * borrowed and must outlive the handle. KC_ERR_INVALID for bad timing or
 * missing names (message in d); KC_ERR_NOMEM. On failure *out is untouched.
 */
kc_err kc_leader_new(kc_client *client, const kc_leader_config *cfg, kc_leader **out,
                     kc_error_detail *d);
/* Start the election thread. KC_ERR_INVALID if already started. */
kc_err kc_leader_start(kc_leader *l);
/*
 * Stop: fires the handle's kc_cancel (waking sleeps, aborting a request in
 * flight), waits for the thread. If leading, on_stopped_leading is called on
 * the thread first, then the lease is released when release_on_cancel (one
 * PUT bounded by the renew deadline). Idempotent; a no-op if never started.
 */
void kc_leader_stop(kc_leader *l);
/* Stops if needed and frees. Accepts NULL. */
void kc_leader_free(kc_leader *l);

/*
 * True while this replica leads and its last renewal is younger than the
 * renew deadline. Lock-free; call it before every write the lease guards.
 */
bool kc_leader_is_leader(const kc_leader *l);
/* The last observed holder ("" if none) copied into buf; returns buf. */
char *kc_leader_current(kc_leader *l, char *buf, size_t cap);
/* True once the thread has ended (lost without rejoin, or stopped). */
bool kc_leader_finished(const kc_leader *l);

#endif
