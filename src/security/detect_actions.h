/*
 * detect_actions: what the scraper detector's rules do (detect.h holds
 * the rules), and the feeds the detector gets from outside the served_*
 * chokepoint (public-room joins, new-device logins).
 *
 * Compiled into the API library (like containment.c): it reaches the
 * store, the event pipeline and the notifier through struct app.
 *
 * Actions, per rule that fires:
 * - record: the detector's log line (a warning) and counter only;
 * - alert: queued to one alert thread, which posts an m.notice into the
 *   security room (created on the first alert by the server notices
 *   account "@server:<server_name>", named "Security alerts", remembered
 *   in that account's global account data DETECT_SECURITY_ROOM_TYPE; every
 *   admin invited, re-invited if they left) and, if
 *   scraper_detection.alert_webhook_url is set, POSTs the same alert as
 *   JSON to it (libcurl, DETECT_WEBHOOK_TIMEOUT_MS at most). Every alert
 *   carries the exposure summary so far. At most DETECT_ALERTS_QUEUED
 *   wait; more are dropped and logged (the detector's log line stays);
 * - throttle: kept by the detector; http_authenticate refuses the
 *   account's non-write requests with 429 M_LIMIT_EXCEEDED meanwhile;
 * - suspend, lock: security_suspend / security_lock, at once, on the
 *   thread that observed the read (the next read must already be refused).
 *   Every containment is also alerted, so the admins learn of it.
 *
 * Threads: detect_actions_start / _stop from the main thread, once each
 * (app must outlive _stop); the observe functions from any thread.
 */
#ifndef CHAPPE_SECURITY_DETECT_ACTIONS_H
#define CHAPPE_SECURITY_DETECT_ACTIONS_H

struct app;

#define DETECT_ALERTS_QUEUED      64
#define DETECT_WEBHOOK_TIMEOUT_MS 5000
/* global account data of the notices account: {"room_id": ...} */
#define DETECT_SECURITY_ROOM_TYPE "org.chappe.security_room"

/* Start the detector with app->cfg's rules (nothing when disabled) and
 * the alert thread. 0, or -1 (logged). */
int detect_actions_start(struct app *app);
/* Stop the detector; alerts still queued are sent first. */
void detect_actions_stop(void);

/* user_id has joined room_id: counted when the room's join rule is
 * public (a public room is what a scraper can reach). */
void detect_join_observe(struct app *app, const char *user_id, const char *room_id);
/* user_id signed in on the new device device_id from ip: counted when
 * the account has other devices and none was last seen from ip. Call
 * before the new device is stored. */
void detect_login_observe(struct app *app, const char *user_id, const char *ip);

#endif
