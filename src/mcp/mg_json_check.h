/*
 * Strict validation of JSON bodies from the network, run over the raw
 * bytes before cJSON sees them.
 */

#ifndef MG_JSON_CHECK_H
#define MG_JSON_CHECK_H

#include <stddef.h>

/* The nesting limit for bodies from the network. */
#define MG_JSON_MAX_DEPTH 64

/* Objects with up to this many keys have them compared pairwise for
 * duplicates; larger ones have them hashed and sorted. */
#define MG_JSON_PAIRWISE_KEYS 16

/*
 * Validate buf[0..len) as exactly one RFC 8259 JSON value, with only
 * space, tab, CR and LF around it.  Refused on top of the grammar:
 * invalid UTF-8 (overlong forms, surrogates, code points above U+10FFFF,
 * truncated sequences), any NUL byte, raw control characters and
 * \u0000 in strings, unpaired UTF-16 surrogate escapes, a key repeated
 * in one object (compared after decoding escapes), and nesting deeper
 * than max_depth (the outermost array or object is level 1; 0 allows
 * scalars only).
 *
 * Returns MG_OK, or MG_ERROR with a message in err (when err is not
 * NULL and errlen is not 0; truncated to fit) naming the problem and the
 * byte offset where it starts, counted from 0.  The message never holds
 * input bytes, except a key name of at most 32 printable ASCII
 * characters in "duplicate key" messages.  Runs in time linear in len
 * (n log n in the number of keys of an object) without recursion; the
 * memory it takes grows with the keys of the open objects, and is freed
 * before it returns.
 */
int mg_json_check(const char *buf, size_t len, unsigned max_depth, char *err,
                  size_t errlen);

#endif /* MG_JSON_CHECK_H */
