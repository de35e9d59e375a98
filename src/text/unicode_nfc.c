/* NFC as Unicode's UAX #15 defines it: decompose every character fully
 * (Hangul syllables arithmetically), sort each run of combining marks by
 * canonical combining class, then compose each mark with the last starter
 * when nothing between them blocks it. */
#include "unicode_nfc.h"

#include <stdlib.h>

#include "utf8.h"

enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7 };
enum { L_COUNT = 19, V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT };

static int in_ranges(const nfc_range *r, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid - 1;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static int ccc_of(uint32_t cp) {
    if (cp < 0x300) return 0;
    int lo = 0, hi = nfc_n_ccc - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < nfc_ccc[mid].lo) hi = mid - 1;
        else if (cp > nfc_ccc[mid].hi) lo = mid + 1;
        else return nfc_ccc[mid].ccc;
    }
    return 0;
}

static const nfc_decomp *decomp_of(uint32_t cp) {
    int lo = 0, hi = nfc_n_decomps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < nfc_decomps[mid].cp) hi = mid - 1;
        else if (cp > nfc_decomps[mid].cp) lo = mid + 1;
        else return &nfc_decomps[mid];
    }
    return NULL;
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = nfc_n_pairs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const nfc_pair *p = &nfc_pairs[mid];
        if (a < p->a || (a == p->a && b < p->b)) hi = mid - 1;
        else if (a > p->a || b > p->b) lo = mid + 1;
        else return p->composite;
    }
    return 0;
}

int nfc_quick_check(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0xCC) { /* below U+0300: nothing changes */
            i += (size_t)utf8_len_lead(p[i]);
            continue;
        }
        uint32_t cp;
        int k = utf8_decode(p + i, n - i, &cp);
        if (k <= 0) return 0;
        if (in_ranges(nfc_unstable, nfc_n_unstable, cp)) return 0;
        i += (size_t)k;
    }
    return 1;
}

size_t nfc_normalize(const char *s, size_t n, char *out) {
    const uint8_t *p = (const uint8_t *)s;
    /* a character decomposes into at most 4 code points (Hangul: 3) */
    uint32_t *cps = malloc((4 * n + 1) * sizeof *cps);
    if (!cps) return (size_t)-1;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = utf8_decode(p + i, n - i, &cp);
        if (k <= 0) { /* not expected (the text is valid); keep going */
            cp = 0xFFFD;
            k = 1;
        }
        i += (size_t)k;
        const nfc_decomp *d;
        if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
            uint32_t si = cp - S_BASE;
            cps[m++] = L_BASE + si / N_COUNT;
            cps[m++] = V_BASE + (si % N_COUNT) / T_COUNT;
            if (si % T_COUNT) cps[m++] = T_BASE + si % T_COUNT;
        } else if (cp >= 0xC0 && (d = decomp_of(cp)) != NULL) {
            for (int j = 0; j < d->len; j++) cps[m++] = nfc_decomp_pool[d->off + j];
        } else {
            cps[m++] = cp;
        }
    }
    /* canonical ordering: a stable insertion sort of each run of marks */
    for (size_t i = 1; i < m; i++) {
        int c = ccc_of(cps[i]);
        if (c == 0) continue;
        uint32_t v = cps[i];
        size_t j = i;
        while (j > 0 && ccc_of(cps[j - 1]) > c) {
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = v;
    }
    /* composition */
    size_t o = 0;
    long starter = -1;
    int last_ccc = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t cp = cps[i];
        int c = ccc_of(cp);
        if (starter >= 0) {
            int adjacent = (size_t)starter == o - 1;
            if (adjacent || (last_ccc != 0 && last_ccc < c)) {
                uint32_t comp = compose(cps[starter], cp);
                if (comp) {
                    cps[starter] = comp;
                    continue;
                }
            }
        }
        if (c == 0) starter = (long)o;
        last_ccc = c;
        cps[o++] = cp;
    }
    size_t len = 0;
    for (size_t i = 0; i < o; i++) len += (size_t)utf8_encode(cps[i], out + len);
    free(cps);
    return len;
}
