/* apitool - drive api.c from the command line for end-to-end tests and
 * benchmarks, without the contree front end.
 *
 *   apitool [options] PATH
 *     -X METHOD      (default GET)
 *     -d JSON        request body (application/json)
 *     -q KEY=VALUE   query parameter (repeatable)
 *     -n             API_NOREPLAY (spawn/import semantics)
 *     -r N           repeat the call N times (keep-alive checks)
 *     -U FILE        upload FILE (POST /v1/files); "-" = stdin, chunked
 *     -O FILE        download PATH into FILE ("-" = stdout)
 *     -E OP          follow the events of OP; prints "TYPE DATA" lines
 *     -L LEVEL       debug, info, warning, error
 *     -t MS          read timeout
 *     -w MS          wait MS between repeats
 *     -s             print "conns N reqs N" on stderr at the end
 *     -1             no retries
 * Environment: CONTREE_URL, CONTREE_TOKEN (default test-token),
 * CONTREE_PROJECT (makes it an IAM profile), CONTREE_CA_FILE.
 * Prints "status N" then the body on stdout; errors go to stderr as
 * "error: MESSAGE" and the exit status is 1. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util.h"
#include "../api.h"

static int
evcb(void *arg, const char *type, const char *data, size_t len)
{
	(void)arg;
	printf("%s %.*s\n", type, (int)len, data);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct api_cfg cfg;
	struct api *a;
	struct api_resp r;
	struct buf body = {0};
	const char *method = "GET", *json = NULL, *up = NULL, *down = NULL;
	const char *ev = NULL, *q[64];
	int nq = 0, flags = 0, repeat = 1, stats = 0, c, i, rc = 0, wait = 0;
	long conns, reqs;

	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof cfg);
	while ((c = getopt(argc, argv, "X:d:q:nr:U:O:E:L:t:w:s1")) != -1) {
		switch (c) {
		case 'X': method = optarg; break;
		case 'd': json = optarg; break;
		case 'q': {
			char *eq = strchr(optarg, '=');

			if (!eq || nq >= 60)
				return 2;
			*eq = 0;
			q[nq++] = optarg;
			q[nq++] = eq + 1;
			break;
		}
		case 'n': flags |= API_NOREPLAY; break;
		case 'r': repeat = atoi(optarg); break;
		case 'U': up = optarg; break;
		case 'O': down = optarg; break;
		case 'E': ev = optarg; break;
		case 'L':
			loglevel = strcmp(optarg, "debug") == 0 ? LOG_DEBUG :
			    strcmp(optarg, "warning") == 0 ? LOG_WARNING :
			    strcmp(optarg, "error") == 0 ? LOG_ERROR : LOG_INFO;
			break;
		case 't': cfg.timeout_ms = atoi(optarg); break;
		case 's': stats = 1; break;
		case 'w': wait = atoi(optarg); break;
		case '1': cfg.noretry = 1; break;
		default:
			return 2;
		}
	}
	q[nq] = NULL;
	cfg.url = getenv("CONTREE_URL");
	cfg.token = getenv("CONTREE_TOKEN") ? getenv("CONTREE_TOKEN") :
	    "test-token";
	cfg.project = getenv("CONTREE_PROJECT");
	cfg.iam = cfg.project != NULL;
	cfg.cafile = getenv("CONTREE_CA_FILE");
	a = api_new(&cfg);
	if (!a) {
		fprintf(stderr, "error: %s\n", geterr());
		return 1;
	}
	for (i = 0; i < repeat && rc == 0; i++) {
		if (i > 0 && wait > 0)
			sleep_ms(wait);
		memset(&r, 0, sizeof r);
		buf_reset(&body);
		r.body = &body;
		if (ev) {
			rc = api_events(a, ev, evcb, NULL);
			if (rc == 1)
				printf("fallback\n");
			rc = rc < 0 ? -1 : 0;
			continue;
		}
		if (up) {
			int fd = strcmp(up, "-") == 0 ? 0 : open(up, O_RDONLY);
			struct stat st;

			if (fd < 0 || fstat(fd, &st) < 0) {
				perror(up);
				return 1;
			}
			rc = api_upload(a, fd, S_ISREG(st.st_mode) ?
			    st.st_size : -1, &r);
			if (fd)
				close(fd);
		} else if (down) {
			int fd = strcmp(down, "-") == 0 ? 1 :
			    open(down, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0) {
				perror(down);
				return 1;
			}
			rc = api_download(a, optind < argc ? argv[optind] :
			    "/", q, fd, NULL, NULL, &r);
			if (fd != 1)
				close(fd);
		} else {
			rc = api_call(a, method, optind < argc ? argv[optind] :
			    "/", q, json, flags, &r);
		}
		if (rc == 0 && !down) {
			printf("status %d\n", r.status);
			if (r.location[0])
				printf("location %s\n", r.location);
			if (body.len)
				fwrite(body.p, 1, body.len, stdout);
			printf("\n");
		}
	}
	if (rc < 0) {
		if (r.status)
			printf("status %d\n", r.status);
		fprintf(stderr, "error: %s\n", geterr());
	}
	if (stats) {
		api_stats(a, &conns, &reqs);
		fprintf(stderr, "conns %ld reqs %ld\n", conns, reqs);
	}
	api_free(a);
	buf_free(&body);
	return rc < 0 ? 1 : 0;
}
