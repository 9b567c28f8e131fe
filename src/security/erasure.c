#include "security/erasure.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"
#include "util/timeutil.h"

int erasure_mark(struct store *st, const char *user_id)
{
	char json[64];
	int64_t pos;

	snprintf(json, sizeof(json), "{\"erased_ts\":%lld}", (long long)time_now_ms());
	return store_account_data_put(st, user_id, NULL, ERASURE_ACCOUNT_DATA_TYPE, json, &pos) ==
	       STORE_OK ? 0 : -1;
}

bool erasure_is_erased(struct store *st, const char *user_id)
{
	char *text = NULL;
	bool erased = store_account_data_get(st, user_id, NULL, ERASURE_ACCOUNT_DATA_TYPE, &text) ==
	              STORE_OK;
	free(text);
	return erased;
}
