/* jsonparse - exit 0 if FILE is one valid JSON text, 1 if not, 2 on a
 * usage or I/O error.  Prints nothing.  Used by tests/jsoncorpus.sh. */
#include <stdlib.h>

#include "../json.h"
#include "../util.h"

int
main(int argc, char *argv[])
{
	struct buf b = {0};
	struct json j;
	int ok;

	if (argc != 2)
		return 2;
	if (readfile(argv[1], &b) < 0)
		return 2;
	/* json_parse_alloc runs both the counting and the filling pass */
	ok = json_parse_alloc(&j, b.p ? b.p : "", b.len) == 0;
	if (ok)
		json_free(&j);
	buf_free(&b);
	return ok ? 0 : 1;
}
