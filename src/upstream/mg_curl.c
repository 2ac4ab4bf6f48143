/*
 * Loading libcurl at run time (see mg_curl.h for why).  The handle is
 * kept for the life of the process: libcurl is never unloaded, so
 * nothing resolved here can dangle.
 */

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "mg_core.h"
#include "mg_curl.h"

/* The soname every libcurl 7 and 8 has had. */
#define CURL_LIBRARY "libcurl.so.4"

mg_curl_t mg_curl;

static void *curl_dl;

/* One function of the table, or NULL with err naming it. */
static void *
resolve(const char *name, char *err, size_t errlen)
{
    void *fn = dlsym(curl_dl, name);

    if (fn == NULL) {
        snprintf(err, errlen,
                 "%s has no %s(): libcurl is older than this gateway "
                 "needs; install a current one (apt-get install -y "
                 "libcurl4)",
                 CURL_LIBRARY, name);
    }

    return fn;
}

/* Look curl_<name> up into mg_curl.name; a missing one fails the load. */
#define MG_CURL_RESOLVE(name)                                                  \
    fn = resolve("curl_" #name, err, errlen);                                  \
    if (fn == NULL) {                                                          \
        goto fail;                                                             \
    }                                                                          \
    memcpy(&mg_curl.name, &fn, sizeof(fn));

int
mg_curl_load(char *err, size_t errlen)
{
    void *fn;

    if (curl_dl != NULL) {
        return MG_OK;
    }

    curl_dl = dlopen(CURL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (curl_dl == NULL) {
        snprintf(err, errlen,
                 "cannot load libcurl, which upstream calls need (%s); "
                 "install it with \"apt-get install -y libcurl4\"",
                 dlerror());
        return MG_ERROR;
    }

    MG_CURL_FUNCTIONS(MG_CURL_RESOLVE)

    return MG_OK;

fail:
    dlclose(curl_dl);
    curl_dl = NULL;
    memset(&mg_curl, 0, sizeof(mg_curl));

    return MG_ERROR;
}
