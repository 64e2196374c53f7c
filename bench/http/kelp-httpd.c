/* The kelp side of bench/http: one loop, one thread, serving a fixed
 * 100-byte body for GET / over HTTP/1.1 and h2c, as nginx does there. */
#include <signal.h>
#include <stdio.h>

#include "base/base.h"
#include "http/http.h"
#include "log/log.h"
#include "loop/loop.h"

static const char body[] = "kelp bench body: the same one hundred bytes of payload that nginx "
			   "serves from a file in this bench.\n";

static void serve(struct http_exchange *ex, void *ud)
{
	http_respond(ex, 200, "text/plain", body, sizeof(body) - 1);
}

struct sigctx {
	struct loop_signals s;
	struct loop *l;
};

static void on_signal(struct loop_signals *s, int signo)
{
	loop_stop(container_of(s, struct sigctx, s)->l);
}


int main(int argc, char **argv)
{
	struct logger lg = log_default("kelp-httpd");
	struct loop *l = NULL;
	struct http_server *srv = NULL;
	struct sigctx sc = {.s.fn = on_signal};
	sigset_t set;
	int r;

	_Static_assert(sizeof(body) - 1 == 100, "the bench body is 100 bytes");
	if (argc < 2) {
		fprintf(stderr, "usage: kelp-httpd ADDR:PORT\n");
		return 2;
	}
	r = loop_new(&(struct loop_config){.log = &lg}, &l);
	if (r < 0) {
		log_error(&lg, "loop", LOG_ERR(r));
		return 1;
	}
	sc.l = l;
	r = http_server_new(l, &(struct http_server_config){.listen = argv[1], .handler = serve,
							     .log = &lg},
			    &srv);
	if (r < 0) {
		log_error(&lg, "listen", LOG_S("addr", argv[1]), LOG_ERR(r));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	loop_signals_start(l, &sc.s, &set);
	log_info(&lg, "serving", LOG_S("addr", http_server_address(srv)));
	loop_run(l);
	loop_signals_stop(l, &sc.s);
	http_server_free(srv);
	loop_free(l);
	return 0;
}
