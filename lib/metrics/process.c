/* lib/metrics: the standard process_* metrics, read from /proc at scrape time. */
#include "metrics/metrics-internal.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>

/* Fields of /proc/self/stat we use, counted as proc(5) numbers them. */
enum {
	STAT_UTIME = 14,
	STAT_STIME = 15,
	STAT_STARTTIME = 22,
	STAT_VSIZE = 23,
	STAT_RSS = 24,
};

static int stat_field(unsigned field, double *ret)
{
	struct buf b = {0};
	int err = read_file("/proc/self/stat", 4096, &b);
	if (err < 0)
		return err;
	/* comm (field 2) may hold spaces and parentheses: count from the last ')'. */
	char *p = strrchr(b.data, ')');
	unsigned n = 2;
	err = -EBADMSG;
	while (p && *p) {
		while (*p == ' ' || *p == ')')
			p++;
		if (!*p)
			break;
		n++;
		if (n == field) {
			*ret = strtod(p, NULL);
			err = 0;
			break;
		}
		p += strcspn(p, " ");
	}
	buf_free(&b);
	return err;
}

static double cpu_seconds(void *userdata)
{
	double u, s;
	if (stat_field(STAT_UTIME, &u) < 0 || stat_field(STAT_STIME, &s) < 0)
		return NAN;
	return (u + s) / (double)sysconf(_SC_CLK_TCK);
}

static double resident_bytes(void *userdata)
{
	double pages;
	if (stat_field(STAT_RSS, &pages) < 0)
		return NAN;
	return pages * (double)sysconf(_SC_PAGESIZE);
}

static double virtual_bytes(void *userdata)
{
	double v;
	return stat_field(STAT_VSIZE, &v) < 0 ? NAN : v;
}

static double open_fds(void *userdata)
{
	DIR *d = opendir("/proc/self/fd");
	double n = 0;

	if (!d)
		return NAN;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* The directory stream held one fd of its own. */
	return n - 1;
}

static double max_fds(void *userdata)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return NAN;
	return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

static double start_time(void *userdata)
{
	struct buf b = {0};
	double ticks, btime = NAN;

	if (stat_field(STAT_STARTTIME, &ticks) < 0 || read_file("/proc/stat", 1 << 20, &b) < 0)
		return NAN;
	/* Boot time in seconds since the epoch; the process started ticks later. */
	const char *p = strstr(b.data, "\nbtime ");
	if (p)
		btime = strtod(p + 7, NULL);
	buf_free(&b);
	return btime + ticks / (double)sysconf(_SC_CLK_TCK);
}

int metrics_register_process(struct metrics_registry *r)
{
	static const struct {
		const char *name;
		const char *help;
		enum metric_type type;
		metrics_func_t fn;
	} m[] = {
		{"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
		 METRIC_COUNTER, cpu_seconds},
		{"process_resident_memory_bytes", "Resident memory size in bytes.", METRIC_GAUGE,
		 resident_bytes},
		{"process_virtual_memory_bytes", "Virtual memory size in bytes.", METRIC_GAUGE,
		 virtual_bytes},
		{"process_open_fds", "Number of open file descriptors.", METRIC_GAUGE, open_fds},
		{"process_max_fds", "Maximum number of open file descriptors.", METRIC_GAUGE,
		 max_fds},
		{"process_start_time_seconds",
		 "Start time of the process since unix epoch in seconds.", METRIC_GAUGE,
		 start_time},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(m); i++) {
		int err = m[i].type == METRIC_COUNTER
				  ? metrics_counter_func_new(r, m[i].name, m[i].help, m[i].fn, NULL)
				  : metrics_gauge_func_new(r, m[i].name, m[i].help, m[i].fn, NULL);
		if (err < 0)
			return err;
	}
	return 0;
}
