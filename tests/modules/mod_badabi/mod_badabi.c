/*
 * A test-only module built as if for another gateway: its descriptor
 * claims a future ABI version and a debug build, so the loader must
 * refuse it and say why.
 */

#include <mcpgw/mcpgw.h>

mg_module_t mg_module = {
    MG_ABI_VERSION + 1,
    "abi=2,ptr=8,long=8,cjson=1.7,debug=1,asan=0",
    "badabi",
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};
