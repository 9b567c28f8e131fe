/*
 * log: leveled logging to stderr.
 *
 * Contract: log_msg() is thread-safe (one fprintf per line, stderr is locked
 * by stdio). The level is a process-wide setting chosen once at start
 * (log_set_level) before threads are spawned; it is one of the few named
 * singletons. Never log secrets: tokens, passwords, keys.
 */
#ifndef CHAPPE_UTIL_LOG_H
#define CHAPPE_UTIL_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARNING = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warning", "info", "debug"; returns -1 on an unknown name. */
int log_level_parse(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
