/*
 * lr_test.h - the C core's minimal test harness.
 *
 * A test file is one program: TEST(name) { ... } blocks registered in main()
 * with RUN(name).  CHECK failures print file:line and the expression, and the
 * program exits non-zero at the end.  Built with ASan and UBSan by csrc/Makefile.
 */
#ifndef LR_TEST_H
#define LR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lr_test_failures;
static int lr_test_checks;

#define CHECK(expr)                                                                  \
    do {                                                                             \
        lr_test_checks++;                                                            \
        if (!(expr)) {                                                               \
            lr_test_failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                      \
    do {                                                                                    \
        long long lr_a_ = (long long)(a), lr_b_ = (long long)(b);                           \
        lr_test_checks++;                                                                   \
        if (lr_a_ != lr_b_) {                                                               \
            lr_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__, \
                    __LINE__, #a, #b, lr_a_, lr_b_);                                        \
        }                                                                                   \
    } while (0)

#define TEST(name) static void name(void)
#define RUN(name)                        \
    do {                                 \
        int before_ = lr_test_failures;  \
        name();                          \
        fprintf(stderr, "%s %s\n", lr_test_failures == before_ ? "ok  " : "FAIL", #name); \
    } while (0)

#define TEST_EXIT()                                                                   \
    do {                                                                              \
        fprintf(stderr, "%d checks, %d failed\n", lr_test_checks, lr_test_failures); \
        return lr_test_failures ? 1 : 0;                                              \
    } while (0)

/* xorshift64*: deterministic pseudo-random bytes for tests. */
static inline uint64_t lr_test_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static inline void lr_test_fill(uint64_t *s, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(lr_test_rand(s) >> 56);
}

#endif
