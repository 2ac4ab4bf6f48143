/*
 * The JSON schemas of the read-only tools, as tools/list shows them.
 *
 * Every outputSchema admits both the tool's result and the error shape
 * {error: {code, message, details}}, because the official SDK client
 * validates structuredContent against it even when isError is true.
 * Timestamps are plain strings (RFC 3339, UTC) without "format", and a
 * field Cloudflare may send as null says so in its type.
 */

#include "cf_module.h"

#define S_ID "{\"type\":\"string\",\"pattern\":\"^[0-9a-f]{32}$\""

#define S_ACCOUNT_ID                                                           \
    "\"account_id\":" S_ID                                                     \
    ",\"description\":\"The account (32 hex) whose "                           \
    "account-owned tokens to work on. Without it: the user's own tokens, "     \
    "or those of the gateway's configured default account.\"}"

#define S_TIME                                                                 \
    "{\"type\":[\"string\",\"null\"],\"description\":\"RFC 3339, UTC: "        \
    "YYYY-MM-DDTHH:MM:SSZ\"}"

#define S_ERROR                                                                \
    "\"error\":{\"type\":\"object\",\"description\":\"Set instead of the "     \
    "result when the call failed: code (invalid_arguments, "                   \
    "cloudflare_error, rate_limited, upstream_unavailable, "                   \
    "bad_upstream_response, shutting_down, ...), a message saying what to "    \
    "change, and details.\",\"properties\":{"                                  \
    "\"code\":{\"type\":\"string\"},"                                          \
    "\"message\":{\"type\":\"string\"},"                                       \
    "\"details\":{}},"                                                         \
    "\"required\":[\"code\",\"message\"]}"

#define S_GROUP                                                                \
    "{\"type\":\"object\",\"properties\":{"                                    \
    "\"id\":{\"type\":\"string\"},"                                            \
    "\"name\":{\"type\":\"string\"},"                                          \
    "\"scopes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"        \
    "\"required\":[\"id\",\"name\",\"scopes\"]}"

#define S_POLICY                                                               \
    "{\"type\":\"object\",\"properties\":{"                                    \
    "\"id\":{\"type\":\"string\"},"                                            \
    "\"effect\":{\"type\":\"string\",\"enum\":[\"allow\",\"deny\"]},"          \
    "\"permission_groups\":{\"type\":\"array\",\"items\":{"                    \
    "\"type\":\"object\",\"properties\":{"                                     \
    "\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},"            \
    "\"required\":[\"id\"]}},"                                                 \
    "\"resources\":{\"type\":\"object\",\"description\":\"Resource keys "      \
    "such as com.cloudflare.api.account.<id> or "                              \
    "com.cloudflare.api.account.zone.<id>, to \\\"*\\\" or to a nested "       \
    "map.\"}}}"

#define S_TOKEN                                                                \
    "{\"type\":\"object\",\"properties\":{"                                    \
    "\"id\":{\"type\":\"string\"},"                                            \
    "\"name\":{\"type\":\"string\"},"                                          \
    "\"status\":{\"type\":\"string\",\"description\":\"active, disabled "      \
    "or expired\"},"                                                           \
    "\"issued_on\":" S_TIME ",\"modified_on\":" S_TIME                         \
    ",\"last_used_on\":" S_TIME ",\"not_before\":" S_TIME                      \
    ",\"expires_on\":" S_TIME                                                  \
    ","                                                                        \
    "\"policies\":{\"type\":\"array\",\"items\":" S_POLICY                     \
    "},"                                                                       \
    "\"condition\":{\"type\":[\"object\",\"null\"],\"description\":"           \
    "\"{request_ip: {in: [cidr], not_in: [cidr]}}\"}},"                        \
    "\"required\":[\"id\"]}"

/* token_permission_groups_list */

const char cf_schema_groups_in[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":120,"
    "\"description\":\"A group name, exact (\\\"DNS Write\\\") or a "
    "case-insensitive part of one (\\\"dns\\\").\"},"
    "\"scope\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200,"
    "\"description\":\"Only groups of this scope: "
    "com.cloudflare.api.account, com.cloudflare.api.account.zone, "
    "com.cloudflare.api.user, com.cloudflare.edge.r2.bucket, or the last "
    "part of one (account, zone, user, bucket).\"}," S_ACCOUNT_ID
    "},\"additionalProperties\":false}";

const char cf_schema_groups_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"permission_groups\":{\"type\":\"array\",\"items\":" S_GROUP "}," S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"permission_groups\"]},"
    "{\"required\":[\"error\"]}]}";

/* tokens_list */

const char cf_schema_list_in[] =
    "{\"type\":\"object\",\"properties\":{" S_ACCOUNT_ID
    ","
    "\"page\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000,"
    "\"description\":\"Read only this page (from 1) instead of every "
    "page.\"},"
    "\"per_page\":{\"type\":\"integer\",\"minimum\":5,\"maximum\":50,"
    "\"description\":\"Tokens per page, 5 to 50; default 20 for one page, "
    "50 when reading every page.\"},"
    "\"name_contains\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":120,\"description\":\"Only tokens whose name contains "
    "this text, ignoring case.\"}"
    "},\"additionalProperties\":false}";

const char cf_schema_list_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"tokens\":{\"type\":\"array\",\"items\":" S_TOKEN
    "},"
    "\"result_info\":{\"type\":\"object\",\"properties\":{"
    "\"page\":{\"type\":\"integer\"},"
    "\"per_page\":{\"type\":\"integer\"},"
    "\"count\":{\"type\":\"integer\",\"description\":\"Tokens in this "
    "result, after name_contains.\"},"
    "\"filtered_out\":{\"type\":\"integer\",\"description\":\"Tokens "
    "read that name_contains left out; 0 without it.\"},"
    "\"total_count\":{\"type\":[\"integer\",\"null\"],\"description\":"
    "\"Tokens Cloudflare holds, before name_contains.\"},"
    "\"total_pages\":{\"type\":[\"integer\",\"null\"]},"
    "\"pages_read\":{\"type\":\"integer\"}}},"
    "\"complete\":{\"type\":\"boolean\",\"description\":\"true when every "
    "page was read, so a token missing here does not exist.\"},"
    "\"next_page\":{\"type\":[\"integer\",\"null\"],\"description\":\"The "
    "page to ask for to read on; null when none is left or unknown.\"},"
    "\"note\":{\"type\":\"string\"}," S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"tokens\",\"result_info\",\"complete\"]},"
    "{\"required\":[\"error\"]}]}";

/* tokens_get */

const char cf_schema_get_in[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token_id\":" S_ID
    ",\"description\":\"The token's id (32 hex), as "
    "tokens_list shows it.\"}," S_ACCOUNT_ID
    "},\"required\":[\"token_id\"],\"additionalProperties\":false}";

const char cf_schema_get_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token\":" S_TOKEN "," S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"token\"]},{\"required\":[\"error\"]}]}";

/* tokens_verify */

const char cf_schema_verify_in[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256,"
    "\"description\":\"A token secret to check. It is sent to Cloudflare "
    "only as the credential of the verify call, and never stored, logged "
    "or returned. Without it, the gateway checks its own "
    "token.\"}," S_ACCOUNT_ID "},\"additionalProperties\":false}";

const char cf_schema_verify_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"string\"},"
    "\"status\":{\"type\":\"string\",\"description\":\"active, disabled "
    "or expired\"},"
    "\"name\":{\"type\":\"string\"},"
    "\"not_before\":" S_TIME ",\"expires_on\":" S_TIME
    ","
    "\"policies\":{\"type\":\"array\",\"items\":" S_POLICY
    "},"
    "\"policies_known\":{\"type\":\"boolean\",\"description\":\"true when "
    "the gateway could look the token up, so policies are its policies.\"},"
    "\"policies_unknown_reason\":{\"type\":\"string\"}," S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"id\",\"status\",\"policies_known\"]},"
    "{\"required\":[\"error\"]}]}";

/* The tools that write: tokens_create, tokens_update, tokens_delete, roll. */

#define S_GROUP_REF                                                            \
    "{\"anyOf\":[{\"type\":\"string\",\"description\":\"A group name, "        \
    "such as \\\"D1 Write\\\"\"},"                                             \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"}},"      \
    "\"required\":[\"id\"],\"additionalProperties\":false},"                   \
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"     \
    "\"scope\":{\"type\":\"string\",\"description\":\"account, zone, user, "   \
    "or a full scope, to pick among groups of one name\"}},"                   \
    "\"required\":[\"name\"],\"additionalProperties\":false}]}"

#define S_POLICY_IN                                                            \
    "{\"type\":\"object\",\"properties\":{"                                    \
    "\"effect\":{\"type\":\"string\",\"enum\":[\"allow\",\"deny\"],"           \
    "\"description\":\"allow (the default) or deny\"},"                        \
    "\"permission_groups\":{\"type\":\"array\",\"minItems\":1,"                \
    "\"items\":" S_GROUP_REF                                                   \
    "},"                                                                       \
    "\"resources\":{\"type\":\"object\",\"description\":\"Friendly: "          \
    "{accounts: [id or name], zones: [id or name], all_zones_of: [account "    \
    "id or name]}. Raw: Cloudflare's keys, flat "                              \
    "{\\\"com.cloudflare.api.account.<id>\\\": \\\"*\\\"} or nested "          \
    "{\\\"com.cloudflare.api.account.<id>\\\": "                               \
    "{\\\"com.cloudflare.api.account.zone.*\\\": \\\"*\\\"}}.\"}},"            \
    "\"required\":[\"permission_groups\",\"resources\"]}"

#define S_WHEN                                                                 \
    "\"expires_on\":{\"type\":\"string\",\"description\":\"RFC 3339, such "    \
    "as 2026-12-31T23:59:59Z; or use ttl.\"},"                                 \
    "\"ttl\":{\"type\":\"string\",\"pattern\":\"^[1-9][0-9]*[mhd]$\","         \
    "\"description\":\"How long the token lives: 90m, 12h, 7d.\"},"            \
    "\"not_before\":{\"type\":\"string\",\"description\":\"RFC 3339: the "     \
    "token works from then on; about now means at once.\"},"                   \
    "\"condition\":{\"type\":\"object\",\"description\":\"{request_ip: {in: "  \
    "[address or CIDR], not_in: [...]}}: the addresses the token works "       \
    "from.\"},"                                                                \
    "\"dry_run\":{\"type\":\"boolean\",\"description\":\"true: resolve "       \
    "everything and show the request, but send nothing.\"},"

#define S_DRY_RUN_OUT                                                          \
    "\"dry_run\":{\"type\":\"boolean\"},"                                      \
    "\"request\":{\"type\":\"object\",\"properties\":{"                        \
    "\"method\":{\"type\":\"string\"},\"path\":{\"type\":\"string\"},"         \
    "\"body\":{\"type\":\"object\"}}},"                                        \
    "\"note\":{\"type\":\"string\"},"

const char cf_schema_create_in[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":120,"
    "\"description\":\"A name unique among the owner's tokens.\"},"
    "\"policies\":{\"type\":\"array\",\"minItems\":1,\"items\":" S_POLICY_IN
    "}," S_WHEN S_ACCOUNT_ID
    "},\"required\":[\"name\",\"policies\"],"
    "\"additionalProperties\":false}";

const char cf_schema_create_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token\":" S_TOKEN
    ","
    "\"value_shown_once\":{\"type\":\"boolean\",\"description\":\"true: "
    "token.value is the secret, shown in this result only.\"}," S_DRY_RUN_OUT
        S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"token\"]},{\"required\":[\"dry_run\","
    "\"request\"]},{\"required\":[\"error\"]}]}";

const char cf_schema_update_in[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token_id\":" S_ID
    ",\"description\":\"The token to change (32 "
    "hex).\"},"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":120},"
    "\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"disabled\"]},"
    "\"policies\":{\"type\":\"array\",\"minItems\":1,\"items\":" S_POLICY_IN
    ",\"description\":\"Replaces every policy of the token.\"}," S_WHEN
        S_ACCOUNT_ID
    "},\"required\":[\"token_id\"],"
    "\"additionalProperties\":false}";

const char cf_schema_token_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token\":" S_TOKEN "," S_DRY_RUN_OUT S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"token\"]},{\"required\":[\"dry_run\","
    "\"request\"]},{\"required\":[\"error\"]}]}";

const char cf_schema_id_in[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token_id\":" S_ID
    ",\"description\":\"The token's id (32 hex), as "
    "tokens_list shows it.\"}," S_ACCOUNT_ID
    "},\"required\":[\"token_id\"],\"additionalProperties\":false}";

const char cf_schema_delete_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token_id\":{\"type\":\"string\"},"
    "\"deleted\":{\"type\":\"boolean\"},"
    "\"note\":{\"type\":\"string\"}," S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"token_id\",\"deleted\"]},"
    "{\"required\":[\"error\"]}]}";

const char cf_schema_roll_out[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"token_id\":{\"type\":\"string\"},"
    "\"value\":{\"type\":\"string\",\"description\":\"The new secret, "
    "shown in this result only.\"},"
    "\"value_shown_once\":{\"type\":\"boolean\"},"
    "\"note\":{\"type\":\"string\"}," S_ERROR
    "},"
    "\"anyOf\":[{\"required\":[\"token_id\",\"value\"]},"
    "{\"required\":[\"error\"]}]}";
