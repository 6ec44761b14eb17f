/* Tests of lr_jsonl: integers at their limits, booleans, spliced text, line ends, the gather and
 * every error return. */
#include "../lr_jsonl.h"
#include "lr_test.h"

#include <inttypes.h>

static int64_t i64s[] = {0, -1, 9, 10, 99, 100, INT64_MAX, INT64_MIN, -1234567890123LL};
static uint64_t u64s[] = {0, 1, 9, 10, 99, 100, UINT64_MAX, 18446744073709551614ULL, 1000000000000000000ULL};
static uint8_t bools[] = {0, 1, 2, 0, 255, 1, 0, 0, 1};

TEST(integers_and_booleans_match_printf_row_by_row)
{
    struct lr_jsonl_column cols[3] = {
        {"{\"a\":", 5, LR_JSONL_I64, i64s, NULL, NULL, NULL},
        {",\"b\":", 5, LR_JSONL_U64, u64s, NULL, NULL, NULL},
        {",\"c\":", 5, LR_JSONL_BOOL, bools, NULL, NULL, NULL},
    };
    char out[2048], want[2048];
    uint64_t ends[9];
    int64_t n = lr_jsonl_format(cols, 3, 9, "}\n", 2, out, sizeof out, ends);
    size_t w = 0;
    for (int i = 0; i < 9; i++) {
        w += (size_t)snprintf(want + w, sizeof want - w, "{\"a\":%" PRId64 ",\"b\":%" PRIu64 ",\"c\":%s}\n",
                              i64s[i], u64s[i], bools[i] ? "true" : "false");
        CHECK_EQ(ends[i], w);
    }
    CHECK_EQ(n, (int64_t)w);
    CHECK(n > 0 && memcmp(out, want, w) == 0);
}

TEST(every_digit_count_matches_printf_either_side_of_each_power_of_ten)
{
    uint64_t u[60];
    size_t n = 0;
    uint64_t p = 1;
    for (int k = 0; k < 20; k++, p *= 10) {
        u[n++] = p - 1;
        u[n++] = p;
        u[n++] = p + 1;
    }
    struct lr_jsonl_column col = {"", 0, LR_JSONL_U64, u, NULL, NULL, NULL};
    char out[60 * 24], want[60 * 24];
    uint64_t ends[60];
    int64_t got = lr_jsonl_format(&col, 1, n, "\n", 1, out, sizeof out, ends);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += (size_t)snprintf(want + w, sizeof want - w, "%" PRIu64 "\n", u[i]);
    CHECK_EQ(got, (int64_t)w);
    CHECK(got > 0 && memcmp(out, want, w) == 0);
}

TEST(text_is_spliced_as_given)
{
    const char text[] = "\"x\\n\"null1.5";
    int64_t starts[] = {0, 5, 9}, ends_[] = {5, 9, 12};
    struct lr_jsonl_column col = {"{\"t\":", 5, LR_JSONL_TEXT, NULL, text, starts, ends_};
    char out[64];
    uint64_t ends[3];
    int64_t n = lr_jsonl_format(&col, 1, 3, "}\n", 2, out, sizeof out, ends);
    const char want[] = "{\"t\":\"x\\n\"}\n{\"t\":null}\n{\"t\":1.5}\n";
    CHECK_EQ(n, (int64_t)strlen(want));
    CHECK(n > 0 && memcmp(out, want, (size_t)n) == 0);
}

TEST(a_short_output_is_lr_e_space_at_every_size)
{
    struct lr_jsonl_column cols[2] = {
        {"{\"a\":", 5, LR_JSONL_I64, i64s, NULL, NULL, NULL},
        {",\"b\":", 5, LR_JSONL_U64, u64s, NULL, NULL, NULL},
    };
    char big[4096];
    uint64_t ends[9];
    int64_t full = lr_jsonl_format(cols, 2, 9, "}\n", 2, big, sizeof big, ends);
    CHECK(full > 0);
    /* the writer asks for 21 octets of room per value, so a buffer that fits exactly may
     * still be refused; what is never allowed is writing past n_out */
    for (size_t cap = 0; cap < (size_t)full; cap++) {
        char *out = malloc(cap ? cap : 1);
        CHECK_EQ(lr_jsonl_format(cols, 2, 9, "}\n", 2, out, cap, ends), LR_E_SPACE);
        free(out);
    }
}

TEST(bad_arguments_are_lr_e_arg)
{
    char out[64];
    uint64_t ends[2];
    struct lr_jsonl_column bad_kind = {"", 0, 7, i64s, NULL, NULL, NULL};
    CHECK_EQ(lr_jsonl_format(&bad_kind, 1, 2, "", 0, out, sizeof out, ends), LR_E_ARG);
    struct lr_jsonl_column no_values = {"", 0, LR_JSONL_I64, NULL, NULL, NULL, NULL};
    CHECK_EQ(lr_jsonl_format(&no_values, 1, 2, "", 0, out, sizeof out, ends), LR_E_ARG);
    int64_t starts[] = {3, 0}, stops[] = {1, 0};
    struct lr_jsonl_column backwards = {"", 0, LR_JSONL_TEXT, NULL, "abcd", starts, stops};
    CHECK_EQ(lr_jsonl_format(&backwards, 1, 2, "", 0, out, sizeof out, ends), LR_E_ARG);
    CHECK_EQ(lr_jsonl_format(NULL, 0, 0, NULL, 0, NULL, 0, NULL), 0);
}

TEST(gather_puts_lines_in_the_order_given)
{
    const char text[] = "a\nbb\nccc\n";
    uint64_t ends[] = {2, 5, 9};
    int64_t order[] = {2, 0, 1, 0};
    char out[32];
    int64_t n = lr_jsonl_gather(text, ends, 3, order, 4, out, sizeof out);
    CHECK_EQ(n, 11);
    CHECK(n == 11 && memcmp(out, "ccc\na\nbb\na\n", 11) == 0);
    CHECK_EQ(lr_jsonl_gather(text, ends, 3, order, 4, out, 10), LR_E_SPACE);
    int64_t past[] = {3};
    CHECK_EQ(lr_jsonl_gather(text, ends, 3, past, 1, out, sizeof out), LR_E_ARG);
    int64_t neg[] = {-1};
    CHECK_EQ(lr_jsonl_gather(text, ends, 3, neg, 1, out, sizeof out), LR_E_ARG);
}

int main(void)
{
    RUN(integers_and_booleans_match_printf_row_by_row);
    RUN(every_digit_count_matches_printf_either_side_of_each_power_of_ten);
    RUN(text_is_spliced_as_given);
    RUN(a_short_output_is_lr_e_space_at_every_size);
    RUN(bad_arguments_are_lr_e_arg);
    RUN(gather_puts_lines_in_the_order_given);
    TEST_EXIT();
}
