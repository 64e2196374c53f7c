/* The store's conformance suite: every promise of store/store.h, checked
 * the same way against each backend.
 *
 *   conformance embedded   a fresh temporary data dir, fdatasync on
 *   conformance etcd       a real etcd 3.4 on loopback (etcd_harness.h)
 *
 * The tests share one store and run in order; each uses its own key
 * prefix, and the compaction tests come after every test that reads a past
 * revision. The parts live in conformance_*.h (one translation unit). */
#include <stdio.h>

#include "conformance.h"
#include "conformance_kv.h"
#include "conformance_maint.h"
#include "conformance_txn.h"
#include "conformance_watch.h"
#include "etcd_harness.h"

int main(int argc, char **argv)
{
	struct etcd_harness etcd = {0};
	char dir[64] = "";
	const char *endpoint;
	int r;

	C.backend = argc > 1 ? argv[1] : "embedded";
	C.etcd = streq(C.backend, "etcd");
	if (!C.etcd && !streq(C.backend, "embedded")) {
		fprintf(stderr, "usage: %s embedded|etcd\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	C.cfg = (struct store_config){
		.backend = C.backend,
		.sync = STORE_SYNC_FDATASYNC,
		/* No history goes behind the tests' backs. */
		.auto_compact_retention_s = -1,
		.timeout_ms = 5000,
	};
	if (C.etcd) {
		r = etcd_harness_start(&etcd);
		if (r < 0) {
			printf("1..0 # SKIP no etcd to test against: %s\n", strerror(-r));
			return 0;
		}
		endpoint = etcd.url;
		C.cfg.endpoints = &endpoint;
		C.cfg.nendpoints = 1;
	} else {
		snprintf(dir, sizeof(dir), "/tmp/kelp-store-conf-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		C.cfg.data_dir = dir;
	}

	r = loop_new(&(struct loop_config){0}, &C.loop);
	if (r == 0)
		r = store_open(C.loop, &C.cfg, &C.store);
	if (r < 0) {
		printf("Bail out! store_open(%s): %s\n", C.backend, strerror(-r));
		goto out;
	}

	/* First, while the store is empty. */
	RUN(test_fresh_store_is_at_revision_1);

	RUN(test_put_then_get_returns_the_value);
	RUN(test_put_answers_with_the_new_kv);
	RUN(test_each_write_takes_the_next_revision);
	RUN(test_version_restarts_after_delete_and_recreate);
	RUN(test_create_refuses_an_existing_key_and_reports_it);
	RUN(test_update_needs_the_current_mod_rev);
	RUN(test_delete_is_guarded_by_mod_rev);
	RUN(test_range_by_key_prefix_and_open_end);
	RUN(test_range_limit_reports_more_and_count);
	RUN(test_range_keys_only_and_count_only);
	RUN(test_range_pages_by_key_at_one_revision);
	RUN(test_reads_at_past_revisions);
	RUN(test_binary_keys_and_values_round_trip);
	RUN(test_bad_requests_fail_with_clear_errors);

	RUN(test_txn_compares_every_target_with_every_operator);
	RUN(test_txn_takes_the_branch_its_compares_choose);
	RUN(test_txn_writes_share_one_revision);
	RUN(test_txn_delete_range_removes_keys_in_one_revision);
	RUN(test_txn_without_writes_takes_no_revision);
	RUN(test_txn_refuses_duplicate_keys_and_too_many_ops);
	RUN(test_txn_range_ops_read_past_revisions);

	RUN(test_watch_from_now_sees_only_later_writes);
	RUN(test_watch_replays_from_a_past_revision_then_goes_live);
	RUN(test_watch_on_one_key_ignores_its_neighbours);
	RUN(test_watch_prev_kv_on_put_and_delete);
	RUN(test_watch_delivers_a_txns_events_together_in_order);
	RUN(test_watch_delivers_a_burst_exactly_once);
	RUN(test_many_watchers_each_see_every_event);
	RUN(test_watch_cancel_closes_it_with_ecanceled);
	RUN(test_watch_reports_progress);
	RUN(test_watch_refuses_bad_requests);

	RUN(test_status_reports_the_store);
	/* From here on, history before the compaction is gone. */
	RUN(test_compaction_keeps_the_latest_version_of_each_key);
	RUN(test_watch_from_a_compacted_revision_fails_with_estale);
	RUN(test_compact_refuses_old_and_future_revisions);

	RUN(test_lease_expiry_deletes_its_keys_in_one_revision);
	RUN(test_lease_revoke_deletes_its_keys_in_one_revision);
	RUN(test_lease_keepalive_extends_it);
	RUN(test_unknown_leases_fail_with_enoent);

	RUN(test_close_fails_pending_work_with_ecanceled);

out:
	store_close(C.store);
	loop_free(C.loop);
	if (C.etcd)
		etcd_harness_stop(&etcd);
	else if (dir[0])
		rm_tree(dir);
	return r < 0 ? 1 : tap_done();
}
