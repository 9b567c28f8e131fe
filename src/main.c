/* chappe: a Matrix homeserver. See README.md and docs/architecture.md. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
	fputs("usage: chappe serve --data-dir DIR [--listen IP:PORT] [--server-name NAME]\n"
	      "       chappe serve --config FILE\n"
	      "       chappe check-config FILE\n"
	      "       chappe admin (--config FILE | --data-dir DIR) VERB ...\n"
	      "         create-user NAME [--admin] [--password-file F]\n"
	      "         list-users\n"
	      "         reset-password NAME [--password-file F]\n"
	      "         deactivate NAME [--erase]\n"
	      "         lock|unlock|suspend|unsuspend|whois|joined-rooms NAME\n"
	      "         room-list\n"
	      "         send-notice NAME TEXT, broadcast-notice TEXT, room-shutdown ROOM_ID\n"
	      "           (through the running server: --token T or CHAPPE_ADMIN_TOKEN)\n"
	      "       chappe audit (--config FILE | --data-dir DIR) verify\n"
	      "       chappe audit (--config FILE | --data-dir DIR) exposure USER [--since T]\n"
	      "         [--until T] [--format json|markdown|html] [--no-event-ids]\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "check-config") == 0)
		return cli_check_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "admin") == 0)
		return cli_admin(argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return cli_audit(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "chappe: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
