/*
 * cli: the `chappe` command line. main() dispatches on the first word:
 *   serve          run the homeserver (serve.c)
 *   check-config   validate a homeserver.yaml (serve.c)
 *   admin          account administration against the data dir (admin.c)
 *   audit          the access ledger: verify, exposure (audit.c)
 * Each returns the process exit code.
 */
#ifndef CHAPPE_CLI_H
#define CHAPPE_CLI_H

struct config;

int cli_serve(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_admin(int argc, char **argv);
/* access ledger: verify the chain, exposure reports (audit.c) */
int cli_audit(int argc, char **argv);

/* Shared by serve and admin: load --config FILE, or DIR/homeserver.yaml
 * for --data-dir DIR. 0 or -1 with a message on stderr. */
int cli_config_open(struct config *cfg, const char *config_path, const char *data_dir);

#endif
