/*
 * The module loader: dlopen, compatibility checks, configuration, and
 * the tables of tools and phase hooks the MCP layer runs.
 */

#ifndef MG_MODULE_H
#define MG_MODULE_H

#include "mg_conf.h"

typedef struct {
    const mg_module_t *desc;
    void *handle;
    void *ctx;
    char *path;
    unsigned initialised : 1;
} mg_module_slot_t;

typedef struct {
    mg_phase_handler_pt handler;
    mg_module_slot_t *module;
} mg_phase_entry_t;

typedef struct {
    const mg_tool_t *tool;
    mg_module_slot_t *module;
} mg_tool_entry_t;

extern mg_module_slot_t *mg_modules;
extern size_t mg_nmodules;

extern mg_phase_entry_t *mg_phase_handlers[MG_PHASE_COUNT];
extern size_t mg_nphase_handlers[MG_PHASE_COUNT];

extern mg_tool_entry_t *mg_tools;
extern size_t mg_ntools;

/*
 * Check a descriptor against this gateway.  Returns MG_OK, or MG_ERROR
 * with err naming the module and what differs.
 */
int mg_module_check(const mg_module_t *m, const char *path, char *err,
                    size_t errlen);

#define MG_TOOL_NAME_MAX 128

/* 1 when name is a valid MCP tool name ([A-Za-z0-9_.-], 1 to 128). */
int mg_tool_name_valid(const char *name);

/* The module whose init runs now, or NULL: names what it listens on. */
extern const mg_module_slot_t *mg_module_initialising;

/* Load and configure every module the configuration lists. */
int mg_modules_load(mg_config_t *cf);

/* Call each module's init, in load order. */
int mg_modules_init(void);

/* Call each module's exit in reverse order, then unload them. */
void mg_modules_unload(void);

const mg_tool_entry_t *mg_tool_find(const char *name);

/* The offered tool a misspelt name most likely meant, or NULL. */
const char *mg_tool_suggest(const char *name);

#endif /* MG_MODULE_H */
