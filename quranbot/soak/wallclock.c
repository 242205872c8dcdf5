/* Steps one process's wall clock and nothing else, for the soak's NTP fault.
 *
 * Preloaded into the bot (LD_PRELOAD), it adds an offset in seconds to CLOCK_REALTIME and its
 * coarse twin, gettimeofday() and time(). The monotonic clocks, which every sleep, timeout and
 * audio deadline is measured on, are left alone, as NTP leaves them. The offset is a little-endian
 * int64 in the file named by QURANBOT_WALLCLOCK_OFFSET, mapped shared, so a write to that file by
 * the soak steps the clock at once, with no system call per reading.
 *
 * Written because libfaketime 0.9.10 (Debian 12) breaks Python's time.sleep when it fakes only the
 * wall clock (clock_nanosleep on the real monotonic clock answers EINVAL).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime;
static const volatile int64_t *offset_seconds;

static void map_offset(void)
{
    const char *path = getenv("QURANBOT_WALLCLOCK_OFFSET");
    if (path == NULL)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    void *map = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED)
        offset_seconds = map;
}

__attribute__((constructor)) static void load(void)
{
    real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    map_offset();
}

static int64_t offset(void)
{
    return offset_seconds != NULL ? *offset_seconds : 0;
}

static int true_clock_gettime(clockid_t clock, struct timespec *ts)
{
    if (real_clock_gettime == NULL) /* called by another library's constructor, before ours */
        real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    return real_clock_gettime(clock, ts);
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    int rc = true_clock_gettime(clock, ts);
    if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        ts->tv_sec += offset();
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz; /* obsolete; glibc itself ignores it */
    struct timespec now;
    int rc = clock_gettime(CLOCK_REALTIME, &now);
    if (rc == 0) {
        tv->tv_sec = now.tv_sec;
        tv->tv_usec = now.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return (time_t)-1;
    if (out != NULL)
        *out = now.tv_sec;
    return now.tv_sec;
}
