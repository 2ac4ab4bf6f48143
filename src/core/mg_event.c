/*
 * The event loop the whole process shares, and timers on it.
 */

#include <stdlib.h>

#include <event2/event.h>

#include "mg_core.h"

static struct event_base *base;

struct event_base *
mg_event_base_create(void)
{
    base = event_base_new();

    return base;
}

void
mg_event_base_destroy(void)
{
    event_base_free(base);
    base = NULL;
}

struct event_base *
mg_event_base(void)
{
    return base;
}

struct mg_timer_s {
    struct event *ev;
    mg_timer_pt handler;
    void *arg;
};

static void
timer_fire(evutil_socket_t fd, short what, void *data)
{
    mg_timer_t *t = data;
    mg_timer_pt handler = t->handler;
    void *arg = t->arg;

    event_free(t->ev);
    free(t);

    handler(arg);
}

mg_timer_t *
mg_timer_add(unsigned msec, mg_timer_pt handler, void *arg)
{
    mg_timer_t *t = mg_calloc(1, sizeof(mg_timer_t));
    struct timeval tv;

    t->handler = handler;
    t->arg = arg;
    t->ev = evtimer_new(base, timer_fire, t);

    tv.tv_sec = msec / 1000;
    tv.tv_usec = (msec % 1000) * 1000;
    evtimer_add(t->ev, &tv);

    return t;
}

void
mg_timer_cancel(mg_timer_t *t)
{
    if (t == NULL) {
        return;
    }

    event_free(t->ev);
    free(t);
}
