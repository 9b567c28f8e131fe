/* versions.c: discovery — /versions, .well-known, /capabilities
 * (data/api/client-server/versions.yaml, wellknown.yaml, capabilities.yaml). */
#include <stdio.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "config/config.h"

void api_versions(struct request *req)
{
	json_t *v = json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]",
	                      "r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4",
	                      "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11",
	                      "v1.12");
	res_json(req, 200, json_pack("{s:o,s:{}}", "versions", v, "unstable_features"));
}

void api_wellknown_client(struct request *req)
{
	res_json(req, 200, json_pack("{s:{s:s}}", "m.homeserver", "base_url",
	                             APP(req)->cfg->public_baseurl));
}

/* The delegated server for federation: host[:port] of public_baseurl,
 * with the scheme's default port made explicit. */
void api_wellknown_server(struct request *req)
{
	const char *url = APP(req)->cfg->public_baseurl;
	bool tls = strncmp(url, "https://", 8) == 0;
	const char *host = strstr(url, "://");
	char buf[300];
	const char *after;
	size_t n;

	host = host ? host + 3 : url;
	n = strcspn(host, "/");
	if (n >= sizeof(buf) - 8)
		n = sizeof(buf) - 8;
	memcpy(buf, host, n);
	buf[n] = '\0';
	/* An IPv6 literal's colons are inside the brackets. */
	after = buf[0] == '[' ? strchr(buf, ']') : buf;
	if (after && !strchr(after, ':'))
		strcat(buf, tls ? ":443" : ":80");
	res_json(req, 200, json_pack("{s:s}", "m.server", buf));
}

void api_capabilities(struct request *req)
{
	json_t *caps = json_pack(
	    "{s:{s:b},s:{s:s,s:{s:s,s:s,s:s}},s:{s:b},s:{s:b},s:{s:b},s:{s:b}}",
	    "m.change_password", "enabled", 1,
	    "m.room_versions", "default", APP(req)->cfg->default_room_version,
	    "available", "10", "stable", "11", "stable",
	    "12", "stable",
	    "m.set_displayname", "enabled", 1,
	    "m.set_avatar_url", "enabled", 1,
	    "m.3pid_changes", "enabled", 0,
	    "m.get_login_token", "enabled", 0);
	res_json(req, 200, json_pack("{s:o}", "capabilities", caps));
}
