/*
 * Unit tests of export and import of an account's record
 * (store_record.c) on throwaway databases: rows out as JSON, in again
 * on another store, with and without dedup, and the errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Alice's record: a lifted suspension and a limit. */
static void
record_alice(struct store *st)
{
	struct suspension sp = { .target = "alice", .account = "alice", .kind = "account",
	    .reason = "spam", .source = "admin", .created_by = "root", .created_at = NOW - 9 };

	assert_int_equal(store_suspension_insert(st, &sp), 0);
	assert_int_equal(store_suspension_lift(st, sp.id, NOW - 5, "root", "ok", "admin"), 0);
	assert_int_equal(store_limit_set(st, "alice", "rate", 50, "hold", NOW, "root"), 0);
}

/* Export gives every column by name; a table outside the record is refused. */
static void
test_record_rows(void **state)
{
	struct store *st = store_test_st(state);
	json_t *rows, *row;

	record_alice(st);
	rows = store_record_rows(st, "suspensions", "alice");
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 1);
	row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(row, "target")), "alice");
	assert_int_equal(json_integer_value(json_object_get(row, "lifted_at")), NOW - 5);
	assert_true(json_is_null(json_object_get(row, "complaint_id")));
	json_decref(rows);
	rows = store_record_rows(st, "limits", "bob");
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_null(store_record_rows(st, "accounts", "alice"));
	assert_non_null(strstr(store_error(st), "not a table of the record"));
}

/* Import on another store: a new id, dedup skips an equal row, bad columns refused. */
static void
test_record_import(void **state)
{
	struct store *st = store_test_st(state), *to;
	struct store_test other;
	struct suspension sp;
	json_t *rows, *row;
	long long id;
	char err[512];

	record_alice(st);
	store_test_path(other.path, sizeof other.path);
	assert_non_null(to = store_open(other.path, 1000, err, sizeof err));
	rows = store_record_rows(st, "suspensions", "alice");
	row = json_array_get(rows, 0);
	assert_int_equal(store_record_row_insert(to, "suspensions", row, 1, &id), 0);
	assert_true(id > 0);
	assert_int_equal(store_record_row_insert(to, "suspensions", row, 1, &id), 0);
	assert_int_equal(id, 0);
	json_decref(rows);
	/* the copy is a suspension like any other, lifted as the original was */
	assert_int_equal(store_suspension_active(to, "alice", &sp), 0);
	assert_int_equal(store_last_unblock(to, "alice", &id), 0);
	assert_int_equal(id, NOW - 5);

	row = json_pack("{s:s, s:i}", "account", "alice", "no_such_column", 1);
	assert_int_equal(store_record_row_insert(to, "limits", row, 0, &id), -1);
	assert_non_null(strstr(store_error(to), "no column \"no_such_column\""));
	json_decref(row);
	row = json_pack("{s:s, s:[]}", "account", "alice", "detector");
	assert_int_equal(store_record_row_insert(to, "limits", row, 0, &id), -1);
	assert_non_null(strstr(store_error(to), "is not a value"));
	json_decref(row);
	row = json_pack("{s:i}", "id", 5);
	assert_int_equal(store_record_row_insert(to, "limits", row, 0, &id), -1);
	assert_non_null(strstr(store_error(to), "an empty row"));
	json_decref(row);
	store_close(to);
	store_test_unlink(other.path);
}

/* import --force deletes the record first; an imported account is not present. */
static void
test_record_delete_and_account_import(void **state)
{
	struct store *st = store_test_st(state);
	struct account a = { .name = "dave", .owner = "reseller", .contact = "d@example.org",
	    .main_domain = "example.biz", .created_at = NOW - DAY };
	json_t *rows;

	record_alice(st);
	assert_int_equal(store_record_delete(st, "alice"), 0);
	rows = store_record_rows(st, "suspensions", "alice");
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	rows = store_record_rows(st, "limits", "alice");
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(store_account_import(st, &a, NOW), 0);
	memset(&a, 0, sizeof a);
	assert_int_equal(store_account_get(st, "dave", &a), 1);
	assert_int_equal(a.present, 0);
	assert_string_equal(a.owner, "reseller");
	assert_int_equal(a.created_at, NOW - DAY);
	assert_int_equal(a.updated_at, NOW);
	assert_int_equal(store_account_exists(st, "dave"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_rows, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_record_import, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_record_delete_and_account_import,
		    store_test_setup, store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
