/* Tests of lr_jsonl: integers at their limits, booleans, spliced text, line ends, parts interleaved and
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

TEST(every_narrow_integer_kind_matches_printf_at_its_limits)
{
    int32_t i32[] = {INT32_MIN, -1, 0, 9, INT32_MAX};
    uint32_t u32[] = {0, 9, 10, 4294967295u, 1000000000u};
    int16_t i16[] = {INT16_MIN, -10, 0, 99, INT16_MAX};
    uint16_t u16[] = {0, 100, 9999, 10000, 65535};
    int8_t i8[] = {INT8_MIN, -1, 0, 10, INT8_MAX};
    uint8_t u8[] = {0, 9, 99, 100, 255};
    struct lr_jsonl_column cols[6] = {
        {"{\"a\":", 5, LR_JSONL_I32, i32, NULL, NULL, NULL}, {",\"b\":", 5, LR_JSONL_U32, u32, NULL, NULL, NULL},
        {",\"c\":", 5, LR_JSONL_I16, i16, NULL, NULL, NULL}, {",\"d\":", 5, LR_JSONL_U16, u16, NULL, NULL, NULL},
        {",\"e\":", 5, LR_JSONL_I8, i8, NULL, NULL, NULL}, {",\"f\":", 5, LR_JSONL_U8, u8, NULL, NULL, NULL},
    };
    char out[1024], want[1024];
    uint64_t ends[5];
    int64_t n = lr_jsonl_format(cols, 6, 5, "}\n", 2, out, sizeof out, ends);
    size_t w = 0;
    for (int i = 0; i < 5; i++)
        w += (size_t)snprintf(want + w, sizeof want - w,
                              "{\"a\":%" PRId32 ",\"b\":%" PRIu32 ",\"c\":%d,\"d\":%u,\"e\":%d,\"f\":%u}\n", i32[i],
                              u32[i], i16[i], u16[i], i8[i], u8[i]);
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
    struct lr_jsonl_column bad_kind = {"", 0, 42, i64s, NULL, NULL, NULL};
    CHECK_EQ(lr_jsonl_format(&bad_kind, 1, 2, "", 0, out, sizeof out, ends), LR_E_ARG);
    struct lr_jsonl_column no_values = {"", 0, LR_JSONL_I64, NULL, NULL, NULL, NULL};
    CHECK_EQ(lr_jsonl_format(&no_values, 1, 2, "", 0, out, sizeof out, ends), LR_E_ARG);
    int64_t starts[] = {3, 0}, stops[] = {1, 0};
    struct lr_jsonl_column backwards = {"", 0, LR_JSONL_TEXT, NULL, "abcd", starts, stops};
    CHECK_EQ(lr_jsonl_format(&backwards, 1, 2, "", 0, out, sizeof out, ends), LR_E_ARG);
    CHECK_EQ(lr_jsonl_format(NULL, 0, 0, NULL, 0, NULL, 0, NULL), 0);
}

static uint64_t work_space[(sizeof(uint32_t) * (8 + 3 * LR_JSONL_BLOCK) + 4096) / 8];

TEST(parts_come_out_interleaved_in_the_order_given)
{
    int64_t a_vals[] = {10, 11, 12};
    uint8_t b_vals[] = {1, 0};
    struct lr_jsonl_column a_col = {"{\"a\":", 5, LR_JSONL_I64, a_vals, NULL, NULL, NULL};
    struct lr_jsonl_column b_col = {"{\"b\":", 5, LR_JSONL_BOOL, b_vals, NULL, NULL, NULL};
    struct lr_jsonl_part parts[2] = {{&a_col, 1, 3, "}\n", 2}, {&b_col, 1, 2, "}}\n", 3}};
    uint32_t part_of[] = {0, 1, 0, 1, 0, 0};
    int64_t row_of[] = {0, 0, 1, 1, 2, 0};
    const char want[] = "{\"a\":10}\n{\"b\":true}}\n{\"a\":11}\n{\"b\":false}}\n{\"a\":12}\n{\"a\":10}\n";
    size_t len = sizeof want - 1, index = lr_jsonl_parts_index_octets(2), done = 99;
    CHECK(index % 8 == 0 && index >= sizeof(uint32_t) * (3 + 3 * LR_JSONL_BLOCK));
    char out[128];
    int64_t n = lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, sizeof work_space, out, sizeof out, &done);
    CHECK_EQ(n, (int64_t)len);
    CHECK(n == (int64_t)len && memcmp(out, want, len) == 0);
    CHECK_EQ(done, 6);
    /* an out that holds the first three lines (and part of the fourth) takes three; the rest
     * follows from there */
    size_t three = strlen("{\"a\":10}\n{\"b\":true}}\n{\"a\":11}\n");
    memset(out, 0, sizeof out);
    n = lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, sizeof work_space, out, three + 5, &done);
    CHECK_EQ(n, (int64_t)three);
    CHECK_EQ(done, 3);
    n = lr_jsonl_format_parts(parts, 2, part_of + 3, row_of + 3, 3, work_space, sizeof work_space, out + three,
                              sizeof out - three, &done);
    CHECK_EQ(n, (int64_t)(len - three));
    CHECK(memcmp(out, want, len) == 0);
    CHECK_EQ(done, 3);
    /* a scratch of one line's room: the block is cut down to one line at a time, same text */
    memset(out, 0, sizeof out);
    n = lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, index + 5 + 21 + 3, out, sizeof out, &done);
    CHECK(n == (int64_t)len && memcmp(out, want, len) == 0);
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, index + 8, out, sizeof out, &done),
             LR_E_SPACE);
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, index, out, sizeof out, &done), LR_E_SPACE);
    /* an out too small for the first line */
    for (size_t cap = 0; cap < strlen("{\"a\":10}\n"); cap++)
        CHECK_EQ(lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, sizeof work_space, out, cap, &done),
                 LR_E_SPACE);
    uint32_t no_part[] = {2};
    int64_t row0[] = {0};
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, no_part, row0, 1, work_space, sizeof work_space, out, sizeof out, &done),
             LR_E_ARG);
    uint32_t part1[] = {1};
    int64_t past[] = {2}, neg[] = {-1};
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, part1, past, 1, work_space, sizeof work_space, out, sizeof out, &done),
             LR_E_ARG);
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, part1, neg, 1, work_space, sizeof work_space, out, sizeof out, &done),
             LR_E_ARG);
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, part1, row0, 1, NULL, 0, out, sizeof out, &done), LR_E_ARG);
    struct lr_jsonl_column bad_kind = {"", 0, 42, a_vals, NULL, NULL, NULL};
    struct lr_jsonl_part bad = {&bad_kind, 1, 1, "", 0};
    CHECK_EQ(lr_jsonl_format_parts(&bad, 1, no_part, row0, 0, work_space, sizeof work_space, out, sizeof out, &done),
             LR_E_ARG);
    CHECK_EQ(lr_jsonl_format_parts(NULL, 0, NULL, NULL, 0, NULL, 0, NULL, 0, &done), 0);
    CHECK_EQ(lr_jsonl_format_parts(parts, 2, part_of, row_of, 6, work_space, sizeof work_space, out, sizeof out,
                                   NULL), LR_E_ARG);
}

TEST(many_blocks_of_parts_give_each_part_formatted_alone_in_stream_order)
{
    /* three parts, 2000 lines (four blocks) in a pseudo-random order of parts */
    enum { N = 2000 };
    static uint64_t vals[3][N];
    static uint32_t part_of[N];
    static int64_t row_of[N];
    static char alone[3][N * 100], out[N * 100], want[N * 100];
    static uint64_t ends[3][N];
    static uint64_t big_work[(4 * (4 + 3 * LR_JSONL_BLOCK) + (1 << 16)) / 8];
    size_t done = 0;
    struct lr_jsonl_column cols[3][2];
    struct lr_jsonl_part parts[3];
    const char *keys[3] = {"{\"x\":", "{\"long key\":", "{\"k\":"};
    for (int k = 0; k < 3; k++) {
        for (int r = 0; r < N; r++)
            vals[k][r] = (uint64_t)r * 7919u * (uint64_t)(k + 1) << (k * 20);
        cols[k][0] = (struct lr_jsonl_column){keys[k], strlen(keys[k]), LR_JSONL_U64, vals[k], NULL, NULL, NULL};
        cols[k][1] = (struct lr_jsonl_column){",\"v\":", 5, LR_JSONL_U64, vals[k], NULL, NULL, NULL};
        parts[k] = (struct lr_jsonl_part){cols[k], 2, N, "}\n", 2};
        CHECK(lr_jsonl_format(cols[k], 2, N, "}\n", 2, alone[k], sizeof alone[k], ends[k]) > 0);
    }
    uint32_t x = 12345;
    size_t next[3] = {0, 0, 0}, at = 0;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t k = (x >> 16) % 3;
        part_of[i] = k;
        row_of[i] = (int64_t)next[k];
        size_t a = next[k] ? ends[k][next[k] - 1] : 0, b = ends[k][next[k]];
        memcpy(want + at, alone[k] + a, b - a);
        at += b - a;
        next[k]++;
    }
    int64_t n = lr_jsonl_format_parts(parts, 3, part_of, row_of, N, big_work, sizeof big_work, out, sizeof out, &done);
    CHECK_EQ(n, (int64_t)at);
    CHECK(n == (int64_t)at && memcmp(out, want, at) == 0);
    CHECK_EQ(done, N);
    /* the same through an out of 1000 octets at a time: every line once, in order */
    size_t got = 0, from = 0;
    while (from < N) {
        n = lr_jsonl_format_parts(parts, 3, part_of + from, row_of + from, N - from, big_work, sizeof big_work,
                                  out + got, 1000, &done);
        CHECK(n > 0 && done > 0);
        if (n <= 0 || !done)
            break;
        got += (size_t)n;
        from += done;
    }
    CHECK(got == at && memcmp(out, want, at) == 0);
}

int main(void)
{
    RUN(integers_and_booleans_match_printf_row_by_row);
    RUN(every_narrow_integer_kind_matches_printf_at_its_limits);
    RUN(every_digit_count_matches_printf_either_side_of_each_power_of_ten);
    RUN(text_is_spliced_as_given);
    RUN(a_short_output_is_lr_e_space_at_every_size);
    RUN(bad_arguments_are_lr_e_arg);
    RUN(parts_come_out_interleaved_in_the_order_given);
    RUN(many_blocks_of_parts_give_each_part_formatted_alone_in_stream_order);
    TEST_EXIT();
}
