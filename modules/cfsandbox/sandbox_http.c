/*
 * Cloudflare's envelope: every answer is {success, errors, messages,
 * result} (plus result_info on collections), failures with result null.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

cJSON *
sb_envelope(int success, cJSON *result)
{
    cJSON *env = cJSON_CreateObject();

    cJSON_AddBoolToObject(env, "success", success);
    cJSON_AddItemToObject(env, "errors", cJSON_CreateArray());
    cJSON_AddItemToObject(env, "messages", cJSON_CreateArray());
    cJSON_AddItemToObject(env, "result", result ? result : cJSON_CreateNull());

    return env;
}

cJSON *
sb_error_envelope(int code, const char *message)
{
    cJSON *env = sb_envelope(0, NULL);
    cJSON *e = cJSON_CreateObject();

    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToArray(cJSON_GetObjectItem(env, "errors"), e);

    return env;
}

/* Send the envelope (taking it) and end the request. */
void
sb_reply(mg_http_request_t *r, int status, const char *headers, cJSON *envelope)
{
    char *body = cJSON_PrintUnformatted(envelope);

    cJSON_Delete(envelope);

    if (body == NULL) {
        mg_log(MG_LOG_ERR, "cfsandbox: out of memory for an answer");
        mg_http_respond(r, 500, "application/json", headers, "", 0);
        return;
    }

    mg_http_respond(r, status, "application/json", headers, body, strlen(body));
    free(body);
}

void
sb_reply_result(sb_req_t *q, cJSON *result, cJSON *result_info, cJSON *messages)
{
    cJSON *env = sb_envelope(1, result);

    if (messages) {
        cJSON_ReplaceItemInObject(env, "messages", messages);
    }

    if (result_info) {
        cJSON_AddItemToObject(env, "result_info", result_info);
    }

    sb_reply(q->r, 200, q->headers[0] ? q->headers : NULL, env);
}

void
sb_reply_error(sb_req_t *q, const sb_err_t *err)
{
    mg_log(MG_LOG_INFO, "cfsandbox: %s %s: %d, code %d", q->method, q->path,
           err->status, err->code);

    sb_reply(q->r, err->status, q->headers[0] ? q->headers : NULL,
             sb_error_envelope(err->code, err->message));
}

void
sb_reply_fail(sb_req_t *q, int status, int code, const char *fmt, ...)
{
    sb_err_t err;
    va_list ap;

    err.status = status;
    err.code = code;

    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);

    sb_reply_error(q, &err);
}

/*
 * The request body as JSON.  An empty body is NULL when not required.
 * On a malformed body this answers (400, code 6007) and returns MG_ERROR.
 */
int
sb_read_json(sb_req_t *q, int required, cJSON **out)
{
    const char *body;
    size_t len;

    *out = NULL;
    body = mg_http_body(q->r, &len);

    if (len == 0 && !required) {
        return MG_OK;
    }

    *out = len ? cJSON_ParseWithLength(body, len) : NULL;
    if (*out == NULL) {
        sb_reply_fail(q, 400, 6007, "Malformed JSON in request body");
        return MG_ERROR;
    }

    return MG_OK;
}
