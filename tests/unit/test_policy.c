/*
 * Unit tests for policy.c: the verdict on a message from the sender's
 * identity and what the store says about it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define N(a) (sizeof (a) / sizeof (a)[0])

static const enum identity_kind all_kinds[] = {
	IDENTITY_BOUNCE, IDENTITY_SYSTEM, IDENTITY_ACCOUNT, IDENTITY_MAILBOX, IDENTITY_UNKNOWN,
};

/* An identity of the given kind, with names filled as identity.c would. */
static struct identity
ident(enum identity_kind kind)
{
	struct identity id;

	memset(&id, 0, sizeof id);
	id.kind = kind;
	if (kind == IDENTITY_ACCOUNT || kind == IDENTITY_MAILBOX)
		snprintf(id.account, sizeof id.account, "bob");
	if (kind == IDENTITY_MAILBOX)
		snprintf(id.mailbox, sizeof id.mailbox, "info@example.com");
	id.how = HOW_NONE;
	return id;
}

struct verdict_case {
	enum identity_kind kind;
	int acct, mbox, local, allow;
	enum verdict verdict;
	const char *reason;
	const char *names;	/* what the REFUSE text must name, or NULL */
};

#define A IDENTITY_ACCOUNT
#define M IDENTITY_MAILBOX
#define PASS VERDICT_PASS
#define REFUSE VERDICT_REFUSE

/* (kind, account suspended, mailbox suspended, rcpts all local, allow local) -> verdict. */
static void
test_verdict_table(void **state)
{
	static const struct verdict_case cases[] = {
		/* nobody to hold responsible: always pass, whatever the facts say */
		{ IDENTITY_BOUNCE, 1, 1, 0, 0, PASS, "bounce", NULL },
		{ IDENTITY_BOUNCE, 0, 0, 0, 0, PASS, "bounce", NULL },
		{ IDENTITY_SYSTEM, 1, 1, 0, 0, PASS, "system-user", NULL },
		{ IDENTITY_SYSTEM, 0, 0, 1, 1, PASS, "system-user", NULL },
		{ IDENTITY_UNKNOWN, 1, 1, 0, 0, PASS, "unknown-sender", NULL },
		{ IDENTITY_UNKNOWN, 0, 0, 0, 1, PASS, "unknown-sender", NULL },

		/* an account */
		{ A, 0, 0, 0, 0, PASS, "active", NULL },
		{ A, 0, 0, 1, 1, PASS, "active", NULL },
		{ A, 1, 0, 0, 0, REFUSE, "account-suspended", "account bob " },
		{ A, 1, 0, 0, 1, REFUSE, "account-suspended", "account bob " },
		{ A, 1, 0, 1, 0, REFUSE, "account-suspended", "account bob " },
		{ A, 1, 0, 1, 1, PASS, "local-delivery", NULL },

		/* a mailbox */
		{ M, 0, 0, 0, 0, PASS, "active", NULL },
		{ M, 0, 1, 0, 0, REFUSE, "mailbox-suspended", "mailbox info@example.com " },
		{ M, 0, 1, 0, 1, REFUSE, "mailbox-suspended", "mailbox info@example.com " },
		{ M, 0, 1, 1, 0, REFUSE, "mailbox-suspended", "mailbox info@example.com " },
		{ M, 0, 1, 1, 1, PASS, "local-delivery", NULL },
		{ M, 1, 0, 0, 0, REFUSE, "account-suspended", "account bob " },
		{ M, 1, 0, 1, 1, PASS, "local-delivery", NULL },
		/* both suspended: the account is named */
		{ M, 1, 1, 0, 0, REFUSE, "account-suspended", "account bob " },
		{ M, 1, 1, 0, 1, REFUSE, "account-suspended", "account bob " },
		{ M, 1, 1, 1, 1, PASS, "local-delivery", NULL },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		const struct verdict_case *c = &cases[i];
		struct identity id = ident(c->kind);
		struct policy_facts f = { c->acct, c->mbox, c->local };
		struct policy_decision d;

		memset(&d, 0x5a, sizeof d);
		policy_verdict(&id, &f, c->allow, &d);
		if (d.verdict != c->verdict)
			fail_msg("case %zu: verdict %s, expected %s", i,
			    proto_verdict_name(d.verdict), proto_verdict_name(c->verdict));
		assert_non_null(d.reason);
		if (strcmp(d.reason, c->reason) != 0)
			fail_msg("case %zu: reason %s, expected %s", i, d.reason, c->reason);
		if (c->verdict == PASS) {
			if (d.text[0] != '\0')
				fail_msg("case %zu: PASS with text \"%s\"", i, d.text);
			continue;
		}
		if (strncmp(d.text, "5.7.1 ", 6) != 0)
			fail_msg("case %zu: text \"%s\" lacks 5.7.1", i, d.text);
		if (strstr(d.text, c->names) == NULL)
			fail_msg("case %zu: text \"%s\" does not name \"%s\"", i, d.text, c->names);
	}
}

/* Exhaustive: REFUSE text shape, and only accounts and mailboxes are refused. */
static void
test_verdict_all_combinations(void **state)
{
	(void)state;

	for (size_t k = 0; k < N(all_kinds); k++)
	for (int bits = 0; bits < 16; bits++) {
		struct identity id = ident(all_kinds[k]);
		struct policy_facts f = { bits & 1, (bits >> 1) & 1, (bits >> 2) & 1 };
		int allow = (bits >> 3) & 1;
		struct policy_decision d;

		policy_verdict(&id, &f, allow, &d);
		assert_true(d.verdict == VERDICT_PASS || d.verdict == VERDICT_REFUSE);
		if (id.kind != A && id.kind != M) {
			assert_int_equal(d.verdict, VERDICT_PASS);
			continue;
		}
		/* refused exactly when suspended and not saved by local delivery */
		assert_int_equal(d.verdict == VERDICT_REFUSE,
		    (f.account_suspended || f.mailbox_suspended) &&
		    !(allow && f.rcpts_all_local));
		if (d.verdict == VERDICT_REFUSE) {
			assert_memory_equal(d.text, "5.7.1 ", 6);
			for (const char *p = d.text; *p != '\0'; p++)
				assert_true(*p >= 0x20 && *p < 0x7f);
		}
	}
}

struct matter_case {
	enum identity_kind kind;
	int acct, mbox, allow;
	int matters;
};

/* Whether the recipients' domains can change the verdict. */
static void
test_rcpts_matter_table(void **state)
{
	static const struct matter_case cases[] = {
		{ A, 1, 0, 1, 1 },
		{ M, 0, 1, 1, 1 },
		{ M, 1, 1, 1, 1 },
		{ A, 1, 0, 0, 0 },	/* local delivery not allowed */
		{ M, 0, 1, 0, 0 },
		{ A, 0, 0, 1, 0 },	/* not suspended */
		{ M, 0, 0, 1, 0 },
		{ IDENTITY_BOUNCE, 1, 1, 1, 0 },
		{ IDENTITY_SYSTEM, 1, 1, 1, 0 },
		{ IDENTITY_UNKNOWN, 1, 1, 1, 0 },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		struct identity id = ident(cases[i].kind);
		struct policy_facts f = { cases[i].acct, cases[i].mbox, 0 };

		if (policy_rcpts_matter(&id, &f, cases[i].allow) != cases[i].matters)
			fail_msg("case %zu: expected %d", i, cases[i].matters);
	}
}

/*
 * policy_rcpts_matter agrees with policy_verdict: the verdict changes
 * with rcpts_all_local exactly when it says recipients matter.
 */
static void
test_rcpts_matter_consistent(void **state)
{
	(void)state;

	for (size_t k = 0; k < N(all_kinds); k++)
	for (int bits = 0; bits < 8; bits++) {
		struct identity id = ident(all_kinds[k]);
		struct policy_facts f = { bits & 1, (bits >> 1) & 1, 0 };
		int allow = (bits >> 2) & 1;
		struct policy_decision remote, local;
		int matters = policy_rcpts_matter(&id, &f, allow);

		policy_verdict(&id, &f, allow, &remote);
		f.rcpts_all_local = 1;
		policy_verdict(&id, &f, allow, &local);
		if ((remote.verdict != local.verdict) != (matters != 0))
			fail_msg("kind %s bits %d: rcpts_matter %d, verdicts %s/%s",
			    identity_kind_name(id.kind), bits, matters,
			    proto_verdict_name(remote.verdict), proto_verdict_name(local.verdict));
	}
}

/* The longest mailbox still fits in the reply text, whole. */
static void
test_refuse_text_long_mailbox(void **state)
{
	struct identity id = ident(M);
	struct policy_facts f = { 0, 1, 0 };
	struct policy_decision d;
	size_t local = ADDRESS_MAX - 1 - strlen("@example.com");
	const char *p;
	(void)state;

	memset(id.mailbox, 'a', local);
	snprintf(id.mailbox + local, sizeof id.mailbox - local, "@example.com");
	assert_int_equal(strlen(id.mailbox), ADDRESS_MAX - 1);
	policy_verdict(&id, &f, 0, &d);
	assert_int_equal(d.verdict, VERDICT_REFUSE);
	/* named whole, followed by the rest of the sentence, and not cut at the buffer's end */
	assert_non_null(p = strstr(d.text, id.mailbox));
	assert_int_equal(p[strlen(id.mailbox)], ' ');
	assert_true(strlen(d.text) < sizeof d.text - 1);

	/* and the longest account name */
	id = ident(A);
	memset(id.account, 'b', ACCOUNT_NAME_MAX - 1);
	id.account[ACCOUNT_NAME_MAX - 1] = '\0';
	f.account_suspended = 1;
	policy_verdict(&id, &f, 0, &d);
	assert_non_null(p = strstr(d.text, id.account));
	assert_int_equal(p[strlen(id.account)], ' ');
	assert_true(strlen(d.text) < sizeof d.text - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_table),
		cmocka_unit_test(test_verdict_all_combinations),
		cmocka_unit_test(test_rcpts_matter_table),
		cmocka_unit_test(test_rcpts_matter_consistent),
		cmocka_unit_test(test_refuse_text_long_mailbox),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
