/*
 * The control endpoint for tests, on loopback only:
 *   GET|POST|DELETE /__sandbox/faults   list, set ({...} or [{...}]),
 *                                       clear (all, or ?route=...)
 *   POST /__sandbox/tokens              seed a token directly
 *   POST /__sandbox/reset               back to the seeded state
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

static void
control_fail(mg_http_request_t *r, const sb_err_t *err)
{
    sb_reply(r, err->status, NULL, sb_error_envelope(err->code, err->message));
}

static void
control_result(mg_http_request_t *r, cJSON *result)
{
    sb_reply(r, 200, NULL, sb_envelope(1, result));
}

static cJSON *
faults_json(const sb_ctx_t *sb)
{
    cJSON *list = cJSON_CreateArray();
    size_t i;

    for (i = 0; i < sb->nfaults; i++) {
        cJSON_AddItemToArray(list, sb_fault_json(&sb->faults[i]));
    }

    return list;
}

/* All of a POST's faults are checked before any is set. */
static void
faults_post(sb_ctx_t *sb, mg_http_request_t *r, const cJSON *body)
{
    sb_fault_t faults[SB_FAULTS_MAX];
    const cJSON *item;
    size_t i, n = 0;
    sb_err_t err;

    if (cJSON_IsObject(body)) {
        if (sb_fault_from_json(body, &faults[0], &err) != MG_OK) {
            control_fail(r, &err);
            return;
        }
        n = 1;

    } else if (cJSON_IsArray(body) &&
               cJSON_GetArraySize(body) <= SB_FAULTS_MAX) {
        cJSON_ArrayForEach(item, body)
        {
            if (sb_fault_from_json(item, &faults[n], &err) != MG_OK) {
                control_fail(r, &err);
                return;
            }
            n++;
        }

    } else {
        sb_fail(&err, 400, 1001, "POST a fault object or a list of at most %d",
                SB_FAULTS_MAX);
        control_fail(r, &err);
        return;
    }

    for (i = 0; i < n; i++) {
        if (sb_fault_set(sb, &faults[i], &err) != MG_OK) {
            control_fail(r, &err);
            return;
        }

        mg_log(MG_LOG_INFO, "cfsandbox: fault set on \"%s\"", faults[i].route);
    }

    control_result(r, faults_json(sb));
}

static void
faults_delete(sb_ctx_t *sb, mg_http_request_t *r)
{
    char route[256];
    size_t n;
    cJSON *res;
    int rc;

    rc = sb_query_get(mg_http_query(r), "route", route, sizeof(route));
    if (rc < 0) {
        sb_reply(r, 400, NULL,
                 sb_error_envelope(1001,
                                   "route is too long or badly "
                                   "encoded"));
        return;
    }

    n = sb_fault_clear(sb, rc ? route : NULL);

    res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "cleared", (double)n);
    control_result(r, res);
}

static int
parse_body(mg_http_request_t *r, cJSON **out)
{
    const char *body;
    size_t len;

    body = mg_http_body(r, &len);
    *out = cJSON_ParseWithLength(body, len);

    if (*out == NULL) {
        sb_reply(r, 400, NULL,
                 sb_error_envelope(6007, "Malformed JSON in request body"));
        return MG_ERROR;
    }

    return MG_OK;
}

static int
id_taken(const sb_ctx_t *sb, const char *id)
{
    size_t i;

    for (i = 0; i < sb->ntokens; i++) {
        if (strcmp(sb->tokens[i]->id, id) == 0) {
            return 1;
        }
    }

    return 0;
}

/* Optional owner, id, value and issued_on of a seeded token. */
static int
seed_extras(sb_ctx_t *sb, sb_token_t *t, const cJSON *body, sb_err_t *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, "value");
    const cJSON *issued = cJSON_GetObjectItemCaseSensitive(body, "issued_on");

    if (cJSON_IsString(id)) {
        if (!sb_is_hex_id(id->valuestring) || id_taken(sb, id->valuestring)) {
            return sb_fail(err, 400, 1001,
                           "id must be 32 lower-case hex digits and not "
                           "in use");
        }
        memcpy(t->id, id->valuestring, SB_ID_LEN + 1);
    }

    t->issued_on = time(NULL);
    if (cJSON_IsString(issued) &&
        sb_time_parse(issued->valuestring, &t->issued_on) != MG_OK) {
        return sb_fail(err, 400, 1001,
                       "issued_on must be like 2030-01-01T00:00:00Z");
    }
    t->modified_on = t->issued_on;

    if (!cJSON_IsString(value)) {
        if (sb_token_roll(sb, t) != MG_OK) {
            return sb_fail(err, 500, 1000, "no randomness for a secret");
        }
        return MG_OK;
    }

    if (!sb_secret_valid(value->valuestring) ||
        sb_store_secret_taken(sb, value->valuestring)) {
        return sb_fail(err, 400, 1001,
                       "value must be %d to %d letters, digits, '_' or '-' "
                       "and not in use",
                       SB_SECRET_MIN, SB_SECRET_MAX);
    }

    memcpy(t->secret, value->valuestring, strlen(value->valuestring) + 1);

    return MG_OK;
}

static void
tokens_post(sb_ctx_t *sb, mg_http_request_t *r, const cJSON *body)
{
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(body, "owner");
    const char *acct = "";
    sb_token_t *t;
    sb_err_t err;

    if (cJSON_IsString(owner)) {
        acct = owner->valuestring;
        if (sb_account_find(sb, acct) == NULL) {
            sb_fail(&err, 400, 1001,
                    "owner must be the id of a seeded account, or absent "
                    "for a user token");
            control_fail(r, &err);
            return;
        }
    }

    t = sb_token_new(acct);
    if (t == NULL) {
        sb_fail(&err, 500, 1000, "out of memory");
        control_fail(r, &err);
        return;
    }

    if (sb_payload_apply(sb, t, body, 1, &err) != MG_OK ||
        seed_extras(sb, t, body, &err) != MG_OK ||
        sb_store_quota(sb, acct, &err) != MG_OK) {
        sb_token_free(t);
        control_fail(r, &err);
        return;
    }

    if (sb_store_add(sb, t) != MG_OK) {
        sb_token_free(t);
        sb_fail(&err, 500, 1000, "out of memory");
        control_fail(r, &err);
        return;
    }

    mg_log(MG_LOG_INFO, "cfsandbox: token %s seeded", t->id);

    control_result(r, sb_token_json(t, time(NULL), 1));
}

/* Back to the seeded tokens and the configured faults. */
int
sb_reset(sb_ctx_t *sb)
{
    memcpy(sb->faults, sb->conf_faults, sizeof(sb->faults));
    sb->nfaults = sb->nconf_faults;

    return sb_seed_tokens(sb);
}

static void
reset_post(sb_ctx_t *sb, mg_http_request_t *r)
{
    cJSON *res;

    if (sb_reset(sb) != MG_OK) {
        sb_reply(r, 500, NULL,
                 sb_error_envelope(1000,
                                   "the seed token could not be "
                                   "rebuilt"));
        return;
    }

    mg_log(MG_LOG_INFO, "cfsandbox: reset to the seeded state");

    res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "tokens", (double)sb->ntokens);
    cJSON_AddNumberToObject(res, "faults", (double)sb->nfaults);
    control_result(r, res);
}

static void
not_found(mg_http_request_t *r)
{
    sb_reply(r, 404, NULL, sb_error_envelope(7003, "No route for the URI"));
}

void
sb_control_handle(sb_ctx_t *sb, mg_http_request_t *r)
{
    const char *what = mg_http_path(r) + strlen(SB_CONTROL_PREFIX);
    const char *m = mg_http_method_name(r);
    cJSON *body = NULL;

    if (!mg_http_peer_is_loopback(r)) {
        mg_log(MG_LOG_INFO, "cfsandbox: control refused to %s",
               mg_http_peer(r));
        sb_reply(r, 403, NULL,
                 sb_error_envelope(10000,
                                   "The sandbox control endpoint "
                                   "answers loopback clients only"));
        return;
    }

    if (strcmp(what, "faults") == 0 && strcmp(m, "GET") == 0) {
        control_result(r, faults_json(sb));

    } else if (strcmp(what, "faults") == 0 && strcmp(m, "DELETE") == 0) {
        faults_delete(sb, r);

    } else if (strcmp(what, "reset") == 0 && strcmp(m, "POST") == 0) {
        reset_post(sb, r);

    } else if ((strcmp(what, "faults") == 0 || strcmp(what, "tokens") == 0) &&
               strcmp(m, "POST") == 0) {
        if (parse_body(r, &body) != MG_OK) {
            return;
        }

        if (what[0] == 'f') {
            faults_post(sb, r, body);
        } else {
            tokens_post(sb, r, body);
        }
        cJSON_Delete(body);

    } else {
        not_found(r);
    }
}
