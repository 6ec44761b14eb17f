/* lr_codes.c - spreading-code generators; see lr_codes.h. */
#include "lr_codes.h"

#include <string.h>

/* IS-GPS-200 Table 3-Ia: G2 delay in chips for PRN 1..37 (PRN 34 and 37 share one code). */
static const int16_t gps_l1ca_g2_delay[LR_GPS_L1CA_PRN_MAX] = {
    5,   6,   7,   8,   17,  18,  139, 140, 141, 251, 252, 254, 255, 256, 257, 258, 469, 470, 471,
    472, 473, 474, 509, 512, 513, 514, 515, 516, 859, 860, 861, 862, 863, 950, 947, 948, 950,
};

/* LSIS-AFS V1.0 App. C, Tables C-1..C-5: AFS-I G2 delay in chips for PRN 1..210. */
static const int16_t afs_i_g2_delay[LR_AFS_PRN_MAX] = {
    1845, 1071, 170, 2035, 1214, 1292, 1284, 1894, 1537, 735, 561, 1789, 1453, 196, 1040, 326,
    1787, 982, 1030, 1380, 1932, 1188, 390, 714, 303, 1001, 707, 1984, 139, 182, 1891, 1247,
    1434, 2000, 1843, 865, 616, 514, 449, 1173, 24, 1383, 1940, 1594, 1765, 752, 145, 1615,
    1666, 1372, 1634, 1068, 1181, 879, 1153, 1621, 927, 1848, 402, 413, 1090, 657, 609, 1547,
    370, 271, 1353, 635, 299, 697, 152, 678, 1329, 15, 1974, 1884, 1868, 277, 302, 9, 603, 1583,
    848, 1234, 1568, 510, 1303, 1921, 823, 1187, 1299, 824, 672, 2034, 1388, 13, 223, 1840,
    1161, 1132, 365, 2, 924, 1373, 959, 220, 1542, 188, 264, 453, 68, 715, 75, 1095, 938, 1316,
    394, 1156, 166, 969, 269, 179, 957, 400, 625, 1513, 1796, 100, 1660, 1454, 1613, 1064, 844,
    518, 320, 661, 2031, 694, 1143, 1167, 1885, 833, 1601, 903, 399, 1896, 899, 133, 556, 331,
    198, 212, 1024, 1070, 1972, 1573, 884, 1177, 1691, 533, 480, 751, 447, 734, 973, 857, 1767,
    1548, 1876, 614, 1017, 1978, 275, 1141, 1252, 1952, 1714, 1067, 557, 522, 1159, 545, 1580,
    610, 935, 1134, 780, 691, 1038, 1418, 295, 916, 1654, 624, 706, 1033, 1633, 790, 1451, 1300,
    459, 106, 861, 1541, 114, 1381, 1945, 1069, 242, 356,
};

/* LSIS-AFS V1.0 App. D, Tables D-2..D-6: AFS-Q primary Weil index k for PRN 1..210
 * (the IS-GPS-800 L1Cp values). */
static const int16_t afs_q_weil_k[LR_AFS_PRN_MAX] = {
    5111, 5109, 5108, 5106, 5103, 5101, 5100, 5098, 5095, 5094, 5093, 5091, 5090, 5081, 5080,
    5069, 5068, 5054, 5044, 5027, 5026, 5014, 5004, 4980, 4915, 4909, 4893, 4885, 4832, 4824,
    4591, 3706, 5092, 4986, 4965, 4920, 4917, 4858, 4847, 4790, 4770, 4318, 4126, 3961, 3790,
    4911, 4881, 4827, 4795, 4789, 4725, 4675, 4539, 4535, 4458, 4197, 4096, 3484, 3481, 3393,
    3175, 2360, 1852, 5065, 5063, 5055, 5012, 4981, 4952, 4934, 4932, 4786, 4762, 4640, 4601,
    4563, 4388, 3820, 3687, 5052, 5051, 5047, 5039, 5015, 5005, 4984, 4975, 4974, 4972, 4962,
    4913, 4907, 4903, 4833, 4778, 4721, 4661, 4660, 4655, 4623, 4590, 4548, 4461, 4442, 4347,
    4259, 4256, 4166, 4155, 4109, 4100, 4023, 3998, 3979, 3903, 3568, 5088, 5050, 5020, 4990,
    4982, 4966, 4949, 4947, 4937, 4935, 4906, 4901, 4872, 4865, 4863, 4818, 4785, 4781, 4776,
    4775, 4754, 4696, 4690, 4658, 4607, 4599, 4596, 4530, 4524, 4451, 4441, 4396, 4340, 4335,
    4296, 4267, 4168, 4149, 4097, 4061, 3989, 3966, 3789, 3775, 3622, 3523, 3515, 3492, 3345,
    3235, 3169, 3157, 3082, 3072, 3032, 3030, 4582, 4595, 4068, 4871, 4514, 4439, 4122, 4948,
    4774, 3923, 3411, 4745, 4195, 4897, 3047, 4185, 4354, 5077, 4042, 2111, 4311, 5024, 4352,
    4678, 5034, 5085, 3646, 4868, 3668, 4211, 2883, 2850, 2815, 2542, 2492, 2376, 2036, 1920,
};

/* LSIS-AFS V1.0 App. D, Tables D-2..D-6: AFS-Q primary insertion index p (1-based). */
static const int16_t afs_q_weil_p[LR_AFS_PRN_MAX] = {
    412, 161, 1, 303, 207, 4971, 4496, 5, 4557, 485, 253, 4676, 1, 66, 4485, 282, 193, 5211,
    729, 4848, 982, 5955, 9805, 670, 464, 29, 429, 394, 616, 9457, 4429, 4771, 365, 9705, 9489,
    4193, 9947, 824, 864, 347, 677, 6544, 6312, 9804, 278, 9461, 444, 4839, 4144, 9875, 197,
    1156, 4674, 10035, 4504, 5, 9937, 430, 5, 355, 909, 1622, 6284, 9429, 77, 932, 5973, 377,
    10000, 951, 6212, 686, 9352, 5999, 9912, 9620, 635, 4951, 5453, 4658, 4800, 59, 318, 571,
    565, 9947, 4654, 148, 3929, 293, 178, 10142, 9683, 137, 565, 35, 5949, 2, 5982, 825, 9614,
    9790, 5613, 764, 660, 4870, 4950, 4881, 1151, 9977, 5122, 10074, 4832, 77, 4698, 1002, 5549,
    9606, 9228, 604, 4678, 4854, 4122, 9471, 5026, 272, 1027, 317, 691, 509, 9708, 5033, 9938,
    4314, 10140, 4790, 9823, 6093, 469, 1215, 799, 756, 9994, 4843, 5271, 9661, 6255, 5203, 203,
    10070, 30, 103, 5692, 32, 9826, 76, 59, 6831, 958, 1471, 10070, 553, 5487, 55, 208, 645,
    5268, 1873, 427, 367, 1404, 5652, 5, 368, 451, 9595, 1030, 1324, 692, 9819, 4520, 9911, 278,
    642, 6330, 5508, 1872, 5445, 10131, 422, 4918, 787, 9864, 9753, 9859, 328, 1, 4733, 164,
    135, 174, 132, 538, 176, 198, 595, 574, 321, 596, 491,
};

/* LSIS-AFS V1.0 App. E, Tables E-2..E-6: AFS-Q tertiary Weil index k for PRN 1..210. */
static const int16_t afs_q_tertiary_k[LR_AFS_PRN_MAX] = {
    1, 229, 237, 241, 253, 254, 255, 256, 257, 267, 276, 283, 301, 319, 327, 328, 333, 334, 335,
    339, 340, 346, 347, 350, 354, 356, 357, 361, 364, 365, 366, 368, 373, 378, 381, 382, 383,
    384, 386, 387, 389, 390, 394, 397, 398, 400, 401, 407, 408, 414, 415, 416, 426, 431, 432,
    433, 436, 437, 438, 439, 440, 441, 447, 448, 449, 450, 451, 459, 460, 461, 463, 467, 468,
    469, 471, 474, 475, 477, 480, 481, 485, 487, 488, 489, 490, 491, 492, 495, 496, 498, 500,
    502, 507, 509, 510, 513, 515, 517, 520, 521, 524, 525, 526, 527, 528, 529, 531, 533, 538,
    540, 542, 543, 544, 549, 551, 552, 553, 554, 555, 556, 557, 562, 568, 570, 573, 574, 575,
    576, 577, 578, 579, 580, 582, 586, 591, 592, 594, 595, 596, 597, 598, 599, 601, 604, 605,
    606, 607, 608, 609, 610, 612, 616, 617, 618, 619, 621, 622, 627, 628, 631, 633, 635, 638,
    639, 640, 645, 647, 648, 649, 650, 651, 654, 656, 658, 660, 661, 662, 665, 668, 669, 671,
    674, 675, 676, 678, 680, 682, 683, 684, 686, 687, 688, 689, 690, 691, 697, 698, 702, 705,
    707, 710, 716, 717, 718, 720, 722, 723, 725, 726, 729,
};

/* LSIS-AFS V1.0 Table 10: secondary codes S0..S3, leftmost chip first. */
static const uint8_t afs_q_secondary[4][LR_AFS_Q_SECONDARY_CHIPS] = {
    {1, 1, 1, 0}, {0, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 1}};

/* IS-GPS-800 §3.2.2.1.1 / LSIS App. D: 7 chips inserted into the Weil sequence. */
static const uint8_t weil_insert[7] = {0, 1, 1, 0, 1, 0, 0};

#define LEGENDRE_PRIMARY 10223
#define LEGENDRE_TERTIARY 1499

static uint32_t parity32(uint32_t v)
{
    v ^= v >> 16;
    v ^= v >> 8;
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return v & 1u;
}

/* Fibonacci shift register with stages 1..n, all ones at start: each shift
 * outputs stage n, moves stage k to k+1 and loads stage 1 with the parity of
 * the tap stages (bit k-1 of taps = stage k). */
static void lfsr_run(int n, uint32_t taps, uint8_t *out, size_t len)
{
    uint32_t state = (1u << n) - 1u, mask = state;
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)((state >> (n - 1)) & 1u);
        uint32_t fb = parity32(state & taps);
        state = ((state << 1) | fb) & mask;
    }
}

/* Legendre sequence: L(0) = 0, L(t) = 1 for a nonzero quadratic residue t mod n
 * (IS-GPS-800 §3.2.2.1.1, LSIS App. D Table D-1, App. E Table E-1). */
static void legendre(int n, uint8_t *leg)
{
    memset(leg, 0, (size_t)n);
    for (int64_t i = 1; i <= (n - 1) / 2; i++)
        leg[(i * i) % n] = 1;
}

static int64_t gps_l1ca(int prn, uint8_t *out, size_t n_out)
{
    if (prn < 1 || prn > LR_GPS_L1CA_PRN_MAX)
        return LR_E_ARG;
    if (n_out < LR_GPS_L1CA_CHIPS)
        return LR_E_SPACE;
    /* IS-GPS-200 §3.3.2.3, Figure 3-10: G1 = 1 + x^3 + x^10,
     * G2 = 1 + x^2 + x^3 + x^6 + x^8 + x^9 + x^10, both preset to all ones;
     * the code is G1 XOR G2 delayed by the PRN's delay. */
    uint8_t g1[LR_GPS_L1CA_CHIPS], g2[LR_GPS_L1CA_CHIPS];
    lfsr_run(10, (1u << 2) | (1u << 9), g1, LR_GPS_L1CA_CHIPS);
    lfsr_run(10, (1u << 1) | (1u << 2) | (1u << 5) | (1u << 7) | (1u << 8) | (1u << 9), g2,
             LR_GPS_L1CA_CHIPS);
    int d = gps_l1ca_g2_delay[prn - 1];
    for (int i = 0; i < LR_GPS_L1CA_CHIPS; i++)
        out[i] = g1[i] ^ g2[(i - d + LR_GPS_L1CA_CHIPS) % LR_GPS_L1CA_CHIPS];
    return LR_GPS_L1CA_CHIPS;
}

int64_t lr_afs_i_gold(int g2_delay, uint8_t *out, size_t n_out)
{
    enum { PERIOD = 2047 };
    if (g2_delay < 0 || g2_delay >= PERIOD)
        return LR_E_ARG;
    if (n_out < LR_AFS_I_CHIPS)
        return LR_E_SPACE;
    /* LSIS App. C: g1 = x^11 + x^2 + 1, g2 = x^11 + x^8 + x^5 + x^2 + 1, both
     * preset to all ones and restarted every 2046 chips (one 2 ms symbol). */
    uint8_t g1[PERIOD], g2[PERIOD];
    lfsr_run(11, (1u << 1) | (1u << 10), g1, PERIOD);
    lfsr_run(11, (1u << 1) | (1u << 4) | (1u << 7) | (1u << 10), g2, PERIOD);
    for (int i = 0; i < LR_AFS_I_CHIPS; i++)
        out[i] = g1[i] ^ g2[(i - g2_delay + PERIOD) % PERIOD];
    return LR_AFS_I_CHIPS;
}

int64_t lr_afs_q_primary_weil(int k, int p, uint8_t *out, size_t n_out)
{
    if (k < 1 || k > (LEGENDRE_PRIMARY - 1) / 2 || p < 1 || p > LEGENDRE_PRIMARY)
        return LR_E_ARG;
    if (n_out < LR_AFS_Q_PRIMARY_CHIPS)
        return LR_E_SPACE;
    uint8_t leg[LEGENDRE_PRIMARY];
    legendre(LEGENDRE_PRIMARY, leg);
    /* W(t; k) = L(t) XOR L((t + k) mod N); 0110100 goes before W chip p
     * (1-based), giving 10230 chips (IS-GPS-800 §3.2.2.1.1, LSIS App. D). */
    size_t o = 0;
    for (int t = 0; t < LEGENDRE_PRIMARY; t++) {
        if (t == p - 1) {
            memcpy(out + o, weil_insert, sizeof weil_insert);
            o += sizeof weil_insert;
        }
        out[o++] = leg[t] ^ leg[(t + k) % LEGENDRE_PRIMARY];
    }
    return LR_AFS_Q_PRIMARY_CHIPS;
}

int64_t lr_afs_q_tertiary_weil(int k, uint8_t *out, size_t n_out)
{
    if (k < 1 || k > (LEGENDRE_TERTIARY - 1) / 2)
        return LR_E_ARG;
    if (n_out < LR_AFS_Q_TERTIARY_CHIPS)
        return LR_E_SPACE;
    uint8_t leg[LEGENDRE_TERTIARY];
    legendre(LEGENDRE_TERTIARY, leg);
    /* LSIS App. E: the 1499-chip Weil code with a single 0 appended. */
    for (int t = 0; t < LEGENDRE_TERTIARY; t++)
        out[t] = leg[t] ^ leg[(t + k) % LEGENDRE_TERTIARY];
    out[LEGENDRE_TERTIARY] = 0;
    return LR_AFS_Q_TERTIARY_CHIPS;
}

int64_t lr_code_length(int kind)
{
    switch (kind) {
    case LR_CODE_GPS_L1CA:
        return LR_GPS_L1CA_CHIPS;
    case LR_CODE_AFS_I:
        return LR_AFS_I_CHIPS;
    case LR_CODE_AFS_Q_PRIMARY:
        return LR_AFS_Q_PRIMARY_CHIPS;
    case LR_CODE_AFS_Q_SECONDARY:
        return LR_AFS_Q_SECONDARY_CHIPS;
    case LR_CODE_AFS_Q_TERTIARY:
        return LR_AFS_Q_TERTIARY_CHIPS;
    default:
        return LR_E_ARG;
    }
}

int64_t lr_code_prn_max(int kind)
{
    switch (kind) {
    case LR_CODE_GPS_L1CA:
        return LR_GPS_L1CA_PRN_MAX;
    case LR_CODE_AFS_I:
    case LR_CODE_AFS_Q_PRIMARY:
    case LR_CODE_AFS_Q_TERTIARY:
        return LR_AFS_PRN_MAX;
    case LR_CODE_AFS_Q_SECONDARY:
        return 3;
    default:
        return LR_E_ARG;
    }
}

int64_t lr_code_generate(int kind, int prn, uint8_t *out, size_t n_out)
{
    int64_t max = lr_code_prn_max(kind);
    if (max < 0)
        return max;
    if (kind == LR_CODE_AFS_Q_SECONDARY) {
        if (prn < 0 || prn > max)
            return LR_E_ARG;
        if (n_out < LR_AFS_Q_SECONDARY_CHIPS)
            return LR_E_SPACE;
        memcpy(out, afs_q_secondary[prn], LR_AFS_Q_SECONDARY_CHIPS);
        return LR_AFS_Q_SECONDARY_CHIPS;
    }
    if (prn < 1 || prn > max)
        return LR_E_ARG;
    switch (kind) {
    case LR_CODE_GPS_L1CA:
        return gps_l1ca(prn, out, n_out);
    case LR_CODE_AFS_I:
        return lr_afs_i_gold(afs_i_g2_delay[prn - 1], out, n_out);
    case LR_CODE_AFS_Q_PRIMARY:
        return lr_afs_q_primary_weil(afs_q_weil_k[prn - 1], afs_q_weil_p[prn - 1], out, n_out);
    default:
        return lr_afs_q_tertiary_weil(afs_q_tertiary_k[prn - 1], out, n_out);
    }
}
