/*
 * fault: the table of armed fault points. A handful of points are armed in
 * any test, so a small array under a mutex is enough; when nothing is armed
 * fault_check costs one relaxed atomic load.
 */
#define LOG_MODULE "fault"
#include "fault.h"

#include "err.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fault_mode { FM_ERROR, FM_ONCE, FM_NTH, FM_DELAY, FM_CRASH, FM_CRASH_NTH, FM_ON, FM_ON_ONCE };

#define FAULT_MAX 64
#define FAULT_NAME_MAX 96
/* delay:MS above one hour is a typo, not a test */
#define FAULT_DELAY_MAX_MS 3600000

struct fault {
    char name[FAULT_NAME_MAX];
    enum fault_mode mode;
    uint64_t arg;
    uint64_t hits;
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[FAULT_MAX];
static int nfaults;
static atomic_int any_armed;

bool fault_compiled_in(void)
{
#ifdef FLOE_FAULTS
    return true;
#else
    return false;
#endif
}

/* Decimal digits only: strtoull alone would take "-1" (as ULLONG_MAX), "+5"
 * and leading blanks. */
static int parse_u64(const char *s, uint64_t *ret)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

static struct fault *find(const char *name);

static int parse_one(const char *item, size_t len, struct fault *f, struct err *e)
{
    const char *eq = memchr(item, '=', len);
    if (!eq || eq == item)
        return err_set(e, FLOE_EBADINPUT, "fault spec '%.*s': expected name=mode", (int)len, item);
    size_t nlen = (size_t)(eq - item);
    if (nlen >= FAULT_NAME_MAX)
        return err_set(e, FLOE_EBADINPUT, "fault spec '%.*s': name too long", (int)len, item);
    memcpy(f->name, item, nlen);
    f->name[nlen] = '\0';
    char mode[64];
    size_t mlen = len - nlen - 1;
    if (mlen >= sizeof(mode))
        return err_set(e, FLOE_EBADINPUT, "fault spec '%.*s': mode too long", (int)len, item);
    memcpy(mode, eq + 1, mlen);
    mode[mlen] = '\0';
    f->arg = 0;
    f->hits = 0;
    const char *colon = strchr(mode, ':');
    const char *arg = colon ? colon + 1 : NULL;
    size_t base = colon ? (size_t)(colon - mode) : mlen;
    /* error-always, error-once and delay-ms are aliases of error, once and delay */
    struct { const char *name; enum fault_mode mode; bool has_arg; } modes[] = {
        { "error", FM_ERROR, false }, { "once", FM_ONCE, false }, { "nth", FM_NTH, true },
        { "delay", FM_DELAY, true }, { "crash", FM_CRASH, false }, { "crash-nth", FM_CRASH_NTH, true },
        { "on", FM_ON, false }, { "on-once", FM_ON_ONCE, false },
        { "error-always", FM_ERROR, false }, { "error-once", FM_ONCE, false },
        { "delay-ms", FM_DELAY, true },
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strlen(modes[i].name) != base || strncmp(modes[i].name, mode, base) != 0)
            continue;
        if (modes[i].has_arg != (arg != NULL))
            return err_set(e, FLOE_EBADINPUT, "fault spec '%s': mode %s %s", f->name,
                           modes[i].name,
                           modes[i].has_arg ? "needs an argument" : "takes no argument");
        if (arg && parse_u64(arg, &f->arg) < 0)
            return err_set(e, FLOE_EBADINPUT, "fault spec '%s': '%s' is not a number", f->name, arg);
        if (modes[i].mode == FM_DELAY && f->arg > FAULT_DELAY_MAX_MS)
            return err_set(e, FLOE_EBADINPUT, "fault spec '%s': delay %llu ms is over %d ms",
                           f->name, (unsigned long long)f->arg, FAULT_DELAY_MAX_MS);
        if ((modes[i].mode == FM_NTH || modes[i].mode == FM_CRASH_NTH) && f->arg == 0)
            return err_set(e, FLOE_EBADINPUT, "fault spec '%s': N starts at 1", f->name);
        f->mode = modes[i].mode;
        return 0;
    }
    return err_set(e, FLOE_EBADINPUT,
                   "fault spec '%s': unknown mode '%s' (error, once, nth:N, delay:MS, crash, crash-nth:N, on, on-once; "
                   "aliases error-always, error-once, delay-ms:MS)",
                   f->name, mode);
}

int fault_set(const char *spec, struct err *e)
{
    struct fault parsed[FAULT_MAX];
    int n = 0;
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0) {
            if (n == FAULT_MAX)
                return err_set(e, FLOE_ELIMIT, "fault spec: more than %d points", FAULT_MAX);
            int r = parse_one(p, len, &parsed[n], e);
            if (r < 0)
                return r;
            n++;
        }
        p += len + (comma ? 1 : 0);
    }
    pthread_mutex_lock(&fault_lock);
    /* count the new names first: a spec that does not fit arms nothing */
    int fresh = 0;
    for (int i = 0; i < n; i++) {
        bool seen = find(parsed[i].name) != NULL;
        for (int k = 0; k < i && !seen; k++)
            seen = strcmp(parsed[k].name, parsed[i].name) == 0;
        fresh += !seen;
    }
    if (nfaults + fresh > FAULT_MAX) {
        pthread_mutex_unlock(&fault_lock);
        return err_set(e, FLOE_ELIMIT, "fault spec: more than %d points", FAULT_MAX);
    }
    for (int i = 0; i < n; i++) {
        int j;
        for (j = 0; j < nfaults; j++)
            if (strcmp(faults[j].name, parsed[i].name) == 0)
                break;
        if (j == nfaults)
            nfaults++;
        faults[j] = parsed[i];
    }
    atomic_store(&any_armed, nfaults > 0);
    pthread_mutex_unlock(&fault_lock);
    return 0;
}

int fault_init_from_env(struct err *e)
{
    const char *spec = getenv("FLOE_FAULTS");
    if (!spec || !*spec)
        return 0;
    if (!fault_compiled_in())
        return err_set(e, FLOE_EUNSUPPORTED,
                       "FLOE_FAULTS is set but this build has no fault points (meson -Dfaults=true)");
    int r = fault_set(spec, e);
    if (r == 0)
        log_warn("fault points armed: %s", spec);
    return r;
}

void fault_clear(void)
{
    pthread_mutex_lock(&fault_lock);
    nfaults = 0;
    atomic_store(&any_armed, 0);
    pthread_mutex_unlock(&fault_lock);
}

static struct fault *find(const char *name)
{
    for (int i = 0; i < nfaults; i++)
        if (strcmp(faults[i].name, name) == 0)
            return &faults[i];
    return NULL;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int fault_check(const char *name)
{
    if (!atomic_load_explicit(&any_armed, memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&fault_lock);
    struct fault *f = find(name);
    if (!f) {
        pthread_mutex_unlock(&fault_lock);
        return 0;
    }
    uint64_t hit = ++f->hits;
    enum fault_mode mode = f->mode;
    uint64_t arg = f->arg;
    pthread_mutex_unlock(&fault_lock);
    switch (mode) {
    case FM_ERROR:
        return FLOE_EFAULT;
    case FM_ONCE:
        return hit == 1 ? FLOE_EFAULT : 0;
    case FM_NTH:
        return hit == arg ? FLOE_EFAULT : 0;
    case FM_DELAY:
        sleep_ms(arg);
        return 0;
    case FM_CRASH:
    case FM_CRASH_NTH:
        if (mode == FM_CRASH || hit == arg) {
            log_warn("fault point %s: crashing (hit %llu)", name, (unsigned long long)hit);
            _exit(FAULT_CRASH_STATUS);
        }
        return 0;
    case FM_ON:
    case FM_ON_ONCE:
        return 0;
    }
    return 0;
}

bool fault_on(const char *name)
{
    if (!atomic_load_explicit(&any_armed, memory_order_relaxed))
        return false;
    pthread_mutex_lock(&fault_lock);
    struct fault *f = find(name);
    bool on = false;
    if (f) {
        uint64_t hit = ++f->hits;
        on = f->mode == FM_ON || (f->mode == FM_ON_ONCE && hit == 1);
        if (f->mode == FM_CRASH || (f->mode == FM_CRASH_NTH && hit == f->arg)) {
            pthread_mutex_unlock(&fault_lock);
            log_warn("fault point %s: crashing", name);
            _exit(FAULT_CRASH_STATUS);
        }
    }
    pthread_mutex_unlock(&fault_lock);
    return on;
}

uint64_t fault_hits(const char *name)
{
    pthread_mutex_lock(&fault_lock);
    struct fault *f = find(name);
    uint64_t h = f ? f->hits : 0;
    pthread_mutex_unlock(&fault_lock);
    return h;
}
