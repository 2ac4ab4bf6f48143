/*
 * libcurl, loaded on first use.  Linked into the binary, libcurl and the
 * libraries it pulls in (29 on Debian 12: TLS, Kerberos, LDAP, SSH, ...)
 * were mapped and relocated in every gateway, about 4 MiB of resident
 * memory, even when no module ever makes an upstream call.  The upstream
 * client calls libcurl only through this table, filled by mg_curl_load().
 */

#ifndef MG_CURL_H
#define MG_CURL_H

#include <stddef.h>

#include <curl/curl.h>

/* Every libcurl function the upstream client calls. */
#define MG_CURL_FUNCTIONS(F)                                                   \
    F(global_init)                                                             \
    F(global_cleanup)                                                          \
    F(easy_init)                                                               \
    F(easy_cleanup)                                                            \
    F(easy_reset)                                                              \
    F(easy_setopt)                                                             \
    F(easy_getinfo)                                                            \
    F(easy_strerror)                                                           \
    F(multi_init)                                                              \
    F(multi_cleanup)                                                           \
    F(multi_setopt)                                                            \
    F(multi_add_handle)                                                        \
    F(multi_remove_handle)                                                     \
    F(multi_assign)                                                            \
    F(multi_socket_action)                                                     \
    F(multi_info_read)                                                         \
    F(multi_strerror)                                                          \
    F(url)                                                                     \
    F(url_cleanup)                                                             \
    F(url_get)                                                                 \
    F(url_set)                                                                 \
    F(url_strerror)                                                            \
    F(free)                                                                    \
    F(getdate)

/* Each member has the type of the function it stands for: curl_<name>. */
#define MG_CURL_MEMBER(name) __typeof__(curl_##name) *name;

typedef struct {
    MG_CURL_FUNCTIONS(MG_CURL_MEMBER)
} mg_curl_t;

extern mg_curl_t mg_curl;

/*
 * Load libcurl and resolve the table, once per process.  MG_OK, or
 * MG_ERROR with err saying what is missing and how to install it.
 */
int mg_curl_load(char *err, size_t errlen);

#endif /* MG_CURL_H */
