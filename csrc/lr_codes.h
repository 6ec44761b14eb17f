/*
 * lr_codes.h - spreading-code generators: GPS L1 C/A and LunaNet AFS.
 *
 * Each generator writes one period of a code as chips, one byte per chip
 * holding the logic level 0 or 1 (the signal maps logic 0 -> +1, logic 1 -> -1,
 * LSIS-AFS V1.0 Table 8; the same for GPS).  Chip 0 is the first chip sent.
 *
 *   GPS L1 C/A       1023-chip Gold code, PRN 1..37    IS-GPS-200 §3.3.2.3, Table 3-Ia
 *   AFS-I primary    2046-chip Gold code, PRN 1..210   LSIS-AFS V1.0 App. C
 *   AFS-Q primary    10230-chip Weil code, PRN 1..210  LSIS-AFS V1.0 §2.3.5.2, App. D
 *   AFS-Q secondary  4-chip code S0..S3               LSIS-AFS V1.0 Table 10
 *   AFS-Q tertiary   1500-chip Weil code, PRN 1..210  LSIS-AFS V1.0 §2.3.5.2, App. E
 *
 * For the AFS-Q secondary code the "prn" argument is the code index 0..3
 * (S0..S3); LSIS Table 11 assigns S[(prn - 1) mod 4] to node prn.
 *
 * The per-PRN parameters (G2 delays, Weil and insertion indices) are the
 * standard's tables.  The Weil indices are still {LSIS-TBC-2020} and LSIS-222
 * Note-1 asks for them to stay configurable, so the Weil and Gold generators
 * are also offered with explicit parameters.
 *
 * Buffers: the caller owns out[0 .. n_out-1]; the functions write the first
 * <length> bytes and retain nothing.  They keep up to about 12 KB of scratch
 * on the stack.
 *
 * Return codes: the number of chips written (the code length) on success;
 * LR_E_ARG for an unknown kind, a PRN or a parameter out of range;
 * LR_E_SPACE if n_out is smaller than the code length (nothing is written).
 */
#ifndef LR_CODES_H
#define LR_CODES_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_code_kind {
    LR_CODE_GPS_L1CA = 0,
    LR_CODE_AFS_I = 1,
    LR_CODE_AFS_Q_PRIMARY = 2,
    LR_CODE_AFS_Q_SECONDARY = 3,
    LR_CODE_AFS_Q_TERTIARY = 4
};

enum lr_code_sizes {
    LR_GPS_L1CA_CHIPS = 1023,
    LR_AFS_I_CHIPS = 2046,
    LR_AFS_Q_PRIMARY_CHIPS = 10230,
    LR_AFS_Q_SECONDARY_CHIPS = 4,
    LR_AFS_Q_TERTIARY_CHIPS = 1500,
    LR_GPS_L1CA_PRN_MAX = 37,
    LR_AFS_PRN_MAX = 210
};

/* Chips in one period of a code kind, or LR_E_ARG for an unknown kind. */
int64_t lr_code_length(int kind);

/* Largest PRN a kind accepts (3 for the secondary code index), or LR_E_ARG. */
int64_t lr_code_prn_max(int kind);

/* One period of the code of this kind and PRN into out.  See the file comment. */
int64_t lr_code_generate(int kind, int prn, uint8_t *out, size_t n_out);

/* AFS-I Gold code with G2 delayed by g2_delay chips (0..2046). */
int64_t lr_afs_i_gold(int g2_delay, uint8_t *out, size_t n_out);

/* AFS-Q primary Weil code with Weil index k (1..5111) and insertion index
 * p (1..10223): 0110100 inserted before Weil chip p (1-based). */
int64_t lr_afs_q_primary_weil(int k, int p, uint8_t *out, size_t n_out);

/* AFS-Q tertiary Weil code with Weil index k (1..749), a 0 appended. */
int64_t lr_afs_q_tertiary_weil(int k, uint8_t *out, size_t n_out);
/* LR_CDEF_END */

#endif /* LR_CODES_H */
