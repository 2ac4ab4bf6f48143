/*
 * Loading modules.  The descriptor is checked before anything in it is
 * trusted: the ABI version first (it sits at offset 0 in every version),
 * then the build signature, part by part, so the message says exactly
 * what to rebuild.
 */

#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_module.h"

mg_module_slot_t *mg_modules;
size_t mg_nmodules;
const mg_module_slot_t *mg_module_initialising;

mg_phase_entry_t *mg_phase_handlers[MG_PHASE_COUNT];
size_t mg_nphase_handlers[MG_PHASE_COUNT];

mg_tool_entry_t *mg_tools;
size_t mg_ntools;

/* Copy the value of part `key` from a signature into out. */
static int
signature_part(const char *sig, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key), n;
    const char *p = sig, *end;

    while (p && *p) {
        end = strchr(p, ',');
        n = end ? (size_t)(end - p) : strlen(p);

        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            n -= klen + 1;
            if (n >= outlen) {
                n = outlen - 1;
            }
            memcpy(out, p + klen + 1, n);
            out[n] = '\0';
            return 1;
        }

        p = end ? end + 1 : NULL;
    }

    return 0;
}

static void
signature_diff(const char *mine, const char *theirs, char *err, size_t errlen,
               const char *path)
{
    char key[32], a[64], b[64];
    const char *p = mine, *eq, *end;
    size_t n;

    while (p && *p) {
        eq = strchr(p, '=');
        end = strchr(p, ',');
        if (eq == NULL) {
            break;
        }

        n = (size_t)(eq - p) < sizeof(key) - 1 ? (size_t)(eq - p)
                                               : sizeof(key) - 1;
        memcpy(key, p, n);
        key[n] = '\0';

        signature_part(mine, key, a, sizeof(a));
        if (!signature_part(theirs, key, b, sizeof(b))) {
            snprintf(b, sizeof(b), "(missing)");
        }

        if (strcmp(a, b) != 0) {
            snprintf(err, errlen,
                     "module \"%s\" was built with %s=%s, this gateway "
                     "with %s=%s; rebuild the module with the same "
                     "configure options and headers",
                     path, key, b, key, a);
            return;
        }

        p = end ? end + 1 : NULL;
    }

    snprintf(err, errlen,
             "module \"%s\" has build signature \"%.100s\", this gateway "
             "\"%s\"; rebuild the module",
             path, theirs, mine);
}

int
mg_module_check(const mg_module_t *m, const char *path, char *err,
                size_t errlen)
{
    if (m->abi_version != MG_ABI_VERSION) {
        snprintf(err, errlen,
                 "module \"%s\" was built for module ABI version %u, this "
                 "gateway has version %u; rebuild the module against this "
                 "gateway's include/mcpgw/",
                 path, (unsigned)m->abi_version, (unsigned)MG_ABI_VERSION);
        return MG_ERROR;
    }

    if (m->signature == NULL || strcmp(m->signature, MG_BUILD_SIGNATURE)) {
        signature_diff(MG_BUILD_SIGNATURE, m->signature ? m->signature : "",
                       err, errlen, path);
        return MG_ERROR;
    }

    if (m->name == NULL || m->name[0] == '\0') {
        snprintf(err, errlen, "module \"%s\" has no name", path);
        return MG_ERROR;
    }

    return MG_OK;
}

int
mg_tool_name_valid(const char *name)
{
    size_t i;
    char c;

    for (i = 0; name[i]; i++) {
        c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
            return 0;
        }
    }

    return i >= 1 && i <= MG_TOOL_NAME_MAX;
}

const mg_tool_entry_t *
mg_tool_find(const char *name)
{
    size_t i;

    for (i = 0; i < mg_ntools; i++) {
        if (strcmp(mg_tools[i].tool->name, name) == 0) {
            return &mg_tools[i];
        }
    }

    return NULL;
}

/*
 * Suggestions for a tool name nobody offers.  Two names are near when
 * they hold the same words in another order ("list_tokens" for
 * "tokens_list"; words split at '_', '.' and '-', letters compared
 * without case), or when a few edits turn one into the other.
 */
#define SUGGEST_WORDS 8

static size_t
name_words(const char *s, char words[][MG_TOOL_NAME_MAX + 1], size_t max)
{
    size_t n = 0, len = 0;

    for (;; s++) {
        if (*s == '_' || *s == '.' || *s == '-' || *s == '\0') {
            if (len > 0) {
                words[n++][len] = '\0';
                len = 0;
            }
            if (*s == '\0') {
                return n;
            }
        } else if (n == max) {
            return max + 1; /* more words than compared */
        } else if (len < MG_TOOL_NAME_MAX) {
            words[n][len++] = (char)tolower((unsigned char)*s);
        }
    }
}

static int
word_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int
same_words(const char *a, const char *b)
{
    char wa[SUGGEST_WORDS][MG_TOOL_NAME_MAX + 1];
    char wb[SUGGEST_WORDS][MG_TOOL_NAME_MAX + 1];
    size_t na = name_words(a, wa, SUGGEST_WORDS);
    size_t nb = name_words(b, wb, SUGGEST_WORDS);
    size_t i;

    if (na != nb || na == 0 || na > SUGGEST_WORDS) {
        return 0;
    }

    qsort(wa, na, sizeof(wa[0]), word_cmp);
    qsort(wb, nb, sizeof(wb[0]), word_cmp);
    for (i = 0; i < na; i++) {
        if (strcmp(wa[i], wb[i]) != 0) {
            return 0;
        }
    }

    return 1;
}

#define LC(c) tolower((unsigned char)(c))

/* Edits (insert, delete, replace, swap two neighbours) from a to b. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, MG_TOOL_NAME_MAX), lb = strlen(b);
    size_t d[3][MG_TOOL_NAME_MAX + 1];
    size_t i, j, v, *prev2 = d[0], *prev = d[1], *cur = d[2], *t;

    for (j = 0; j <= lb; j++) {
        prev[j] = j;
    }

    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            v = prev[j - 1] + (LC(a[i - 1]) != LC(b[j - 1]));
            if (prev[j] + 1 < v) {
                v = prev[j] + 1;
            }
            if (cur[j - 1] + 1 < v) {
                v = cur[j - 1] + 1;
            }
            if (i > 1 && j > 1 && LC(a[i - 1]) == LC(b[j - 2]) &&
                LC(a[i - 2]) == LC(b[j - 1]) && prev2[j - 2] + 1 < v) {
                v = prev2[j - 2] + 1;
            }
            cur[j] = v;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }

    return prev[lb];
}

const char *
mg_tool_suggest(const char *name)
{
    const char *best = NULL;
    size_t i, d, best_d, len = strlen(name);

    if (len == 0 || len > MG_TOOL_NAME_MAX) {
        return NULL;
    }

    for (i = 0; i < mg_ntools; i++) {
        if (same_words(name, mg_tools[i].tool->name)) {
            return mg_tools[i].tool->name;
        }
    }

    /* A quarter of the name's letters, at most 2, may change. */
    best_d = len / 4 < 2 ? len / 4 : 2;
    for (i = 0; i < mg_ntools; i++) {
        d = edit_distance(name, mg_tools[i].tool->name);
        if (d > 0 && d <= best_d && (best == NULL || d < best_d)) {
            best = mg_tools[i].tool->name;
            best_d = d;
        }
    }

    return best;
}

/* Check a tool's schemas parse as JSON objects, so tools/list is sound. */
static int
tool_schemas_valid(const mg_tool_t *t, const char *path)
{
    const char *texts[2] = {t->input_schema, t->output_schema};
    cJSON *j;
    int i;

    if (t->input_schema == NULL) {
        mg_conf_error(NULL, "module \"%s\": tool \"%s\" has no inputSchema",
                      path, t->name);
        return MG_ERROR;
    }

    for (i = 0; i < 2; i++) {
        if (texts[i] == NULL) {
            continue;
        }
        j = cJSON_Parse(texts[i]);
        if (j == NULL || !cJSON_IsObject(j)) {
            mg_conf_error(NULL,
                          "module \"%s\": tool \"%s\" has an %s that is "
                          "not a JSON object",
                          path, t->name, i ? "outputSchema" : "inputSchema");
            cJSON_Delete(j);
            return MG_ERROR;
        }
        cJSON_Delete(j);
    }

    return MG_OK;
}

static int
register_tools(mg_module_slot_t *slot)
{
    const mg_tool_t *t;

    for (t = slot->desc->tools; t && t->name; t++) {
        if (!mg_tool_name_valid(t->name)) {
            mg_conf_error(NULL,
                          "module \"%s\": tool name \"%.40s\" is not valid; "
                          "use 1 to 128 of A-Z a-z 0-9 _ - .",
                          slot->path, t->name);
            return MG_ERROR;
        }

        if (mg_tool_find(t->name)) {
            mg_conf_error(NULL,
                          "module \"%s\": tool \"%s\" is already provided by "
                          "another module",
                          slot->path, t->name);
            return MG_ERROR;
        }

        if (t->handler == NULL || tool_schemas_valid(t, slot->path)) {
            if (t->handler == NULL) {
                mg_conf_error(NULL,
                              "module \"%s\": tool \"%s\" has no "
                              "handler",
                              slot->path, t->name);
            }
            return MG_ERROR;
        }

        mg_tools =
            mg_realloc(mg_tools, (mg_ntools + 1) * sizeof(mg_tool_entry_t));
        mg_tools[mg_ntools].tool = t;
        mg_tools[mg_ntools].module = slot;
        mg_ntools++;
    }

    return MG_OK;
}

static int
register_hooks(mg_module_slot_t *slot)
{
    const mg_hook_t *h;
    size_t n;

    for (h = slot->desc->hooks; h && h->handler; h++) {
        if ((unsigned)h->phase >= MG_PHASE_COUNT) {
            mg_conf_error(NULL, "module \"%s\": hook for unknown phase %d",
                          slot->path, (int)h->phase);
            return MG_ERROR;
        }

        n = mg_nphase_handlers[h->phase];
        mg_phase_handlers[h->phase] = mg_realloc(
            mg_phase_handlers[h->phase], (n + 1) * sizeof(mg_phase_entry_t));
        mg_phase_handlers[h->phase][n].handler = h->handler;
        mg_phase_handlers[h->phase][n].module = slot;
        mg_nphase_handlers[h->phase] = n + 1;
    }

    return MG_OK;
}

/* "echo" → "<path>/mod_echo.so"; anything with a '/' is a path as is. */
static char *
module_file(const mg_config_t *cf, const char *name)
{
    char buf[4096], *dir;

    if (strchr(name, '/')) {
        return mg_conf_resolve(name);
    }

    dir = mg_conf_resolve(cf->modules_path);
    snprintf(buf, sizeof(buf), "%s/mod_%s.so", dir, name);
    free(dir);

    return mg_strdup(buf);
}

/* The modules.load setting, for errors with a line number. */
static const mg_conf_t *
load_setting(mg_config_t *cf)
{
    const mg_conf_t *root = (const mg_conf_t *)config_root_setting(&cf->lc);

    return mg_conf_child(mg_conf_child(root, "modules"), "load");
}

static int
load_one(mg_config_t *cf, const char *name)
{
    mg_module_slot_t *slot;
    const mg_module_t *m;
    char err[1024];
    void *h;
    char *path;

    path = module_file(cf, name);

    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        mg_conf_error(load_setting(cf),
                      "cannot load module \"%s\": %s (modules.path is "
                      "relative to the prefix %s)",
                      name, dlerror(), mg_prefix);
        free(path);
        return MG_ERROR;
    }

    m = dlsym(h, MG_MODULE_SYMBOL);
    if (m == NULL) {
        mg_conf_error(NULL,
                      "\"%s\" is not an mcpgw module: it exports no \"%s\"",
                      path, MG_MODULE_SYMBOL);
        dlclose(h);
        free(path);
        return MG_ERROR;
    }

    if (mg_module_check(m, path, err, sizeof(err)) != MG_OK) {
        mg_conf_error(NULL, "%s", err);
        dlclose(h);
        free(path);
        return MG_ERROR;
    }

    mg_modules =
        mg_realloc(mg_modules, (mg_nmodules + 1) * sizeof(mg_module_slot_t));
    slot = &mg_modules[mg_nmodules++];
    memset(slot, 0, sizeof(*slot));
    slot->desc = m;
    slot->handle = h;
    slot->path = path;

    return MG_OK;
}

int
mg_modules_load(mg_config_t *cf)
{
    mg_module_slot_t *slot;
    size_t i;
    int rc = MG_OK;

    /* Load every module first: the slot array must not move later. */
    for (i = 0; i < cf->nmodules; i++) {
        if (load_one(cf, cf->modules[i]) != MG_OK) {
            rc = MG_ERROR;
        }
    }

    if (rc != MG_OK) {
        return rc;
    }

    for (i = 0; i < mg_nmodules; i++) {
        slot = &mg_modules[i];

        if (register_tools(slot) != MG_OK || register_hooks(slot) != MG_OK) {
            rc = MG_ERROR;
            continue;
        }

        if (slot->desc->configure &&
            slot->desc->configure(mg_conf_module_block(cf, cf->modules[i]),
                                  &slot->ctx) != MG_OK) {
            mg_conf_error(mg_conf_module_block(cf, cf->modules[i]),
                          "module \"%s\" refused its configuration",
                          slot->desc->name);
            rc = MG_ERROR;
        }
    }

    return rc;
}

int
mg_modules_init(void)
{
    mg_module_slot_t *slot;
    size_t i;
    int rc;

    for (i = 0; i < mg_nmodules; i++) {
        slot = &mg_modules[i];

        mg_module_initialising = slot;
        rc = slot->desc->init ? slot->desc->init(slot->ctx) : MG_OK;
        mg_module_initialising = NULL;

        if (rc != MG_OK) {
            mg_log(MG_LOG_EMERG, "module \"%s\" failed to start",
                   slot->desc->name);
            return MG_ERROR;
        }

        slot->initialised = 1;
        mg_log(MG_LOG_INFO, "module \"%s\" started (%s)", slot->desc->name,
               slot->path);
    }

    return MG_OK;
}

void
mg_modules_unload(void)
{
    mg_module_slot_t *slot;
    size_t i;

    for (i = mg_nmodules; i > 0; i--) {
        slot = &mg_modules[i - 1];

        if (slot->desc->exit && (slot->initialised || slot->ctx)) {
            slot->desc->exit(slot->ctx);
        }

        mg_log(MG_LOG_INFO, "module \"%s\" unloaded", slot->desc->name);
    }

    /* Close only after every exit ran: one module may use another's code. */
    for (i = mg_nmodules; i > 0; i--) {
        slot = &mg_modules[i - 1];
        dlclose(slot->handle);
        free(slot->path);
    }

    for (i = 0; i < MG_PHASE_COUNT; i++) {
        free(mg_phase_handlers[i]);
        mg_phase_handlers[i] = NULL;
        mg_nphase_handlers[i] = 0;
    }

    free(mg_tools);
    mg_tools = NULL;
    mg_ntools = 0;

    free(mg_modules);
    mg_modules = NULL;
    mg_nmodules = 0;
}
