/*
 * Eight bytes at a time: the word tests the JSON escaper (mg_util.c) and
 * the strict JSON check (mg_json_check.c) share.  Each marks a byte with
 * its high bit; no carry crosses from one byte to the next, so the marks
 * are exact per byte.
 */

#ifndef MG_SWAR_H
#define MG_SWAR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MG_SWAR_ONES 0x0101010101010101ull
#define MG_SWAR_LOW7 0x7f7f7f7f7f7f7f7full
#define MG_SWAR_HIGH 0x8080808080808080ull

/*
 * The bytes of v a JSON string cannot hold as they are: below 0x20, '"'
 * and '\\'.  Bytes from 0x80 up are not marked.
 */
static inline uint64_t
mg_swar_json_special(uint64_t v)
{
    uint64_t q = v ^ (MG_SWAR_ONES * '"');
    uint64_t bs = v ^ (MG_SWAR_ONES * '\\');

    /* High bit set: the byte is 0x20 or above, is not '"', not '\\'. */
    uint64_t ge = ((v & MG_SWAR_LOW7) + MG_SWAR_ONES * (0x80 - 0x20)) | v;
    uint64_t nq = ((q & MG_SWAR_LOW7) + MG_SWAR_LOW7) | q;
    uint64_t nb = ((bs & MG_SWAR_LOW7) + MG_SWAR_LOW7) | bs;

    return ~(ge & nq & nb) & MG_SWAR_HIGH;
}

/* The index of the first byte in memory that m marks (m is not 0). */
static inline size_t
mg_swar_first(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) / 8;
#else
    unsigned char bytes[8];
    size_t i = 0;

    memcpy(bytes, &m, 8);
    while (bytes[i] == 0) {
        i++;
    }

    return i;
#endif
}

#endif /* MG_SWAR_H */
