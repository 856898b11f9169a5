/*
 * firebreak-sim: run scenarios under every policy over many seeds and print
 * one table (mean and max over the seeds), with what it takes to re-run it.
 *
 *   firebreak-sim run controller/sim/scenarios/<name>.yaml... --seeds 20
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "sim.h"

#define MAX_SCENARIOS 64
#define MAX_SEEDS 10000

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: firebreak-sim run SCENARIO.yaml... [options]\n"
	        "  --seeds N             seeds per scenario and policy (default 20)\n"
	        "  --first-seed S        seeds are S, S+1, ... (default 1)\n"
	        "  --policy NAME         only this policy (repeatable): firebreak (the surprise\n"
	        "                        verdict), firebreak-ratio (the ratio rule), kubernetes,\n"
	        "                        k8s-slow-rate, k8s-no-eviction\n"
	        "  --poison-failures K   spec.poison.failures, both firebreak policies (default 2)\n"
	        "  --poison-window D     spec.poison.window, both (default: each verdict's own,\n"
	        "                        24h surprise, 1h ratio)\n"
	        "  --arrival-window D    spec.poison.arrivalWindow, both (default: 8h, 30m)\n"
	        "  --poison-ratio R      the ratio rule's guard, firebreak-ratio (default 0.5)\n"
	        "  --false-alarms-per-year F  the surprise verdict's limit (default 0.01)\n"
	        "  --no-memory-pressure-evidence  the surprise verdict ignores MemoryPressure\n"
	        "  --kill-after D        override every poison workload's killAfter\n"
	        "  --duration D          override every scenario's duration\n"
	        "  --calibration         after the table, the surprise verdict's judgements: false\n"
	        "                        quarantines expected against measured, and how often p\n"
	        "                        fell below 10^-1 .. 10^-5 against those bounds\n"
	        "  --per-seed            also print one line per run\n"
	        "  --trace               print every quarantine verdict and failure record (stderr)\n"
	        "  --no-gate             no admission webhook: new pods of a quarantined workload\n"
	        "                        are not gated (firebreak as it was before the gate)\n");
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct agg {
	double lost_sum, stuck_sum, fq_sum, ev_sum, caught_sum;
	int lost_max, fq_max;
	double stuck_max;
	long ev_max;
	int runs, caught_runs;
	bool has_poison;
	int lost[MAX_SEEDS];            /* per run, for the 99th percentile */
	long judgements, p_below[8];
	double false_expected;
} agg;

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* The 99th percentile of the nodes lost (nearest rank). */
static int lost_p99(agg *a)
{
	qsort(a->lost, (size_t)a->runs, sizeof(int), int_cmp);
	int rank = (99 * a->runs + 99) / 100;
	return a->lost[rank > 0 ? rank - 1 : 0];
}

static void agg_add(agg *a, const fb_sim_result *r)
{
	a->lost[a->runs] = r->nodes_lost;
	a->judgements += r->judgements;
	a->false_expected += r->false_expected;
	for (int i = 0; i < 8; i++)
		a->p_below[i] += r->judged_p_below[i];
	a->runs++;
	a->lost_sum += r->nodes_lost;
	a->stuck_sum += r->stuck_pod_minutes;
	a->fq_sum += r->false_quarantines;
	a->ev_sum += (double)r->evictions;
	if (r->nodes_lost > a->lost_max)
		a->lost_max = r->nodes_lost;
	if (r->false_quarantines > a->fq_max)
		a->fq_max = r->false_quarantines;
	if (r->stuck_pod_minutes > a->stuck_max)
		a->stuck_max = r->stuck_pod_minutes;
	if (r->evictions > a->ev_max)
		a->ev_max = r->evictions;
	if (r->poison_quarantined > 0)
		a->caught_runs++;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "run") != 0) {
		usage(argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout
		                                                                          : stderr);
		return argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
	}
	const char *files[MAX_SCENARIOS];
	int nfiles = 0;
	long seeds = 20, first = 1;
	bool want[FB_SIM_NPOLICIES] = { false }, any_policy = false, per_seed = false;
	bool calibration = false;
	fb_sim_params params;
	fb_sim_params_defaults(&params);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long l;
		if (!strcmp(a, "--per-seed")) {
			per_seed = true;
			continue;
		}
		if (!strcmp(a, "--trace")) {
			params.trace = true;
			continue;
		}
		if (!strcmp(a, "--no-gate")) {
			params.no_gate = true;
			continue;
		}
		if (!strcmp(a, "--no-memory-pressure-evidence")) {
			params.no_memory_pressure_evidence = true;
			continue;
		}
		if (!strcmp(a, "--calibration")) {
			calibration = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-') {
			if (nfiles == MAX_SCENARIOS) {
				fprintf(stderr, "firebreak-sim: at most %d scenarios\n", MAX_SCENARIOS);
				return 2;
			}
			files[nfiles++] = a;
			continue;
		}
		if (!v) {
			fprintf(stderr, "firebreak-sim: %s needs a value\n", a);
			return 2;
		}
		i++;
		bool ok = true;
		if (!strcmp(a, "--seeds"))
			ok = parse_long(v, 1, MAX_SEEDS, &seeds);
		else if (!strcmp(a, "--first-seed"))
			ok = parse_long(v, 0, 1000000000L, &first);
		else if (!strcmp(a, "--policy")) {
			fb_sim_policy p;
			ok = fb_sim_policy_parse(v, &p);
			if (ok)
				want[p] = any_policy = true;
		} else if (!strcmp(a, "--poison-failures")) {
			ok = parse_long(v, 1, 100, &l);
			params.poison_failures = (int)l;
		} else if (!strcmp(a, "--poison-window"))
			ok = fb_duration_parse(v, &params.poison_window_ms) && params.poison_window_ms > 0;
		else if (!strcmp(a, "--arrival-window"))
			ok = fb_duration_parse(v, &params.arrival_window_ms) && params.arrival_window_ms > 0;
		else if (!strcmp(a, "--kill-after"))
			ok = fb_duration_parse(v, &params.kill_after_ms) && params.kill_after_ms >= 1000;
		else if (!strcmp(a, "--poison-ratio"))
			ok = parse_double(v, 0.01, 1.0, &params.poison_ratio);
		else if (!strcmp(a, "--false-alarms-per-year"))
			ok = parse_double(v, 1e-6, 1e6, &params.false_alarms_per_year);
		else if (!strcmp(a, "--duration"))
			ok = fb_duration_parse(v, &params.duration_ms) && params.duration_ms >= 60000 &&
			     params.duration_ms <= 90LL * 86400 * 1000;
		else {
			fprintf(stderr, "firebreak-sim: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "firebreak-sim: bad value for %s: \"%s\"\n", a, v);
			return 2;
		}
	}
	if (nfiles == 0) {
		usage(stderr);
		return 2;
	}
	if (params.poison_window_ms && params.arrival_window_ms > params.poison_window_ms) {
		fprintf(stderr, "firebreak-sim: --arrival-window must not be longer than --poison-window\n");
		return 2;
	}
	for (int p = 0; p < FB_SIM_NPOLICIES; p++)
		if (!any_policy)
			want[p] = true;

	fb_sim_scenario *sc[MAX_SCENARIOS] = { NULL };
	char err[512];
	int rc = 0;
	for (int i = 0; i < nfiles; i++) {
		if (fb_sim_scenario_load_file(files[i], &sc[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "firebreak-sim: %s\n", err);
			rc = 1;
			goto out;
		}
	}

	char wb[32], ab[32];
	printf("firebreak-sim: %ld seeds per scenario and policy: %ld..%ld\n", seeds, first,
	       first + seeds - 1);
	printf("firebreak: the surprise verdict, %g false quarantines a year at most%s; "
	       "firebreak-ratio: the ratio rule, ratio %.2f; both: failures %d, window %s, "
	       "arrivalWindow %s\n",
	       params.false_alarms_per_year,
	       params.no_memory_pressure_evidence ? ", MemoryPressure ignored" : "",
	       params.poison_ratio, params.poison_failures,
	       params.poison_window_ms ? fb_duration_format(params.poison_window_ms, wb, sizeof(wb))
	                               : "each verdict's (24h, 1h)",
	       params.arrival_window_ms ? fb_duration_format(params.arrival_window_ms, ab, sizeof(ab))
	                                : "each verdict's (8h, 30m)");
	if (params.duration_ms > 0)
		printf("every scenario's duration: %s\n",
		       fb_duration_format(params.duration_ms, wb, sizeof(wb)));
	if (params.kill_after_ms > 0)
		printf("every poison workload's killAfter: %s\n",
		       fb_duration_format(params.kill_after_ms, wb, sizeof(wb)));
	printf("\n%-22s %-16s %20s %21s %13s %17s %7s %9s\n", "scenario", "policy", "nodes lost",
	       "stuck pod-minutes", "false quar.", "evictions", "caught", "wall/run");
	printf("%-22s %-16s %6s %6s %6s %10s %10s %6s %6s %8s %8s %7s %9s\n", "", "", "mean", "p99",
	       "max", "mean", "max", "mean", "max", "mean", "max", "", "");
	static agg cal[MAX_SCENARIOS][2];
	double total_start = wall_now();
	for (int i = 0; i < nfiles; i++) {
		for (int p = 0; p < FB_SIM_NPOLICIES; p++) {
			if (!want[p])
				continue;
			static agg a;
			memset(&a, 0, sizeof(a));
			double t0 = wall_now();
			for (long k = 0; k < seeds; k++) {
				fb_sim_result r;
				uint64_t seed = (uint64_t)(first + k);
				if (fb_sim_run(sc[i], (fb_sim_policy)p, seed, &params, &r, err,
				               sizeof(err)) != 0) {
					fprintf(stderr, "firebreak-sim: %s\n", err);
					rc = 1;
					goto out;
				}
				agg_add(&a, &r);
				if (per_seed)
					printf("  %s %s seed %llu: lost %d stuck %.0f falseq %d poisonq %d "
					       "evictions %ld failures %ld events %ld ticks %ld actions %ld "
					       "digest %016llx\n",
					       fb_sim_scenario_name(sc[i]), fb_sim_policy_name((fb_sim_policy)p),
					       (unsigned long long)seed, r.nodes_lost, r.stuck_pod_minutes,
					       r.false_quarantines, r.poison_quarantined, r.evictions,
					       r.node_failures, r.events, r.core_ticks, r.actions,
					       (unsigned long long)r.digest);
			}
			double wall = (wall_now() - t0) / (double)seeds;
			char caught[16] = "-";
			if (p == FB_SIM_FIREBREAK || p == FB_SIM_FIREBREAK_RATIO) {
				snprintf(caught, sizeof(caught), "%d/%d", a.caught_runs, a.runs);
				cal[i][p == FB_SIM_FIREBREAK_RATIO] = a;
			}
			double n = (double)a.runs;
			int p99 = lost_p99(&a);
			printf("%-22s %-16s %6.1f %6d %6d %10.0f %10.0f %6.2f %6d %8.0f %8ld %7s %8.2fs\n",
			       fb_sim_scenario_name(sc[i]), fb_sim_policy_name((fb_sim_policy)p),
			       a.lost_sum / n, p99, a.lost_max, a.stuck_sum / n, a.stuck_max, a.fq_sum / n,
			       a.fq_max, a.ev_sum / n, a.ev_max, caught, wall);
			fflush(stdout);
		}
	}
	if (calibration && want[FB_SIM_FIREBREAK]) {
		/* under the null (no poison), a judgement's p is at most x with chance at most x */
		printf("\nthe surprise verdict's judgements (summed over the seeds):\n");
		printf("%-22s %9s %10s %16s %16s %9s %9s %9s %9s %9s\n", "scenario", "cl.-days",
		       "judgements", "false q. expect.", "false q. measured", "p<=1e-1", "p<=1e-2",
		       "p<=1e-3", "p<=1e-4", "p<=1e-5");
		for (int i = 0; i < nfiles; i++) {
			const agg *a = &cal[i][0];
			int64_t dur = params.duration_ms > 0 ? params.duration_ms
			                                     : fb_sim_scenario_duration_ms(sc[i]);
			double days = (double)a->runs * (double)dur / 86400000.0;
			printf("%-22s %9.1f %10ld %16.4g %16.0f", fb_sim_scenario_name(sc[i]), days,
			       a->judgements, a->false_expected, a->fq_sum);
			for (int k = 1; k <= 5; k++)
				printf(" %9.2g", a->judgements ? (double)a->p_below[k] / (double)a->judgements
				                               : 0.0);
			printf("\n");
		}
		printf("(a p<=1e-k column at or below 1e-k: calibrated; above it: the statistic "
		       "overstates surprise)\n");
	}
	printf("\nwall time: %.1fs in all. Re-run: firebreak-sim run", wall_now() - total_start);
	for (int i = 0; i < nfiles; i++)
		printf(" %s", files[i]);
	printf(" --seeds %ld --first-seed %ld\n", seeds, first);
out:
	for (int i = 0; i < nfiles; i++)
		fb_sim_scenario_free(sc[i]);
	return rc;
}
