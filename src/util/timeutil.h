/* timeutil: wall-clock and monotonic milliseconds. Pure, thread-safe. */
#ifndef CHAPPE_UTIL_TIMEUTIL_H
#define CHAPPE_UTIL_TIMEUTIL_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (what Matrix calls origin_server_ts). */
int64_t time_now_ms(void);
/* Milliseconds on a monotonic clock, for timeouts and rate limits. */
int64_t time_mono_ms(void);

#endif
