/* probe: the child (and stamp wrapper) of the PID-1 benchmark. One static C
 * program so that what is measured is the init, not a runtime's start-up.
 *
 *   probe stamp INIT ARGS...   record CLOCK_MONOTONIC in $BENCH_T0, exec INIT
 *   probe start                print now - $BENCH_T0 (ns): exec of init -> child's main
 *   probe idle                 print "ready", then wait for signals
 *   probe wait-term            print "ready"; on SIGTERM print the time (ns) and exit 0
 *   probe orphans N            hand N zombies to the init at once; print ns until all are reaped
 *   probe cleanup MS FILE      grandchild traps TERM, cleans up for MS, then creates FILE;
 *                              the direct child dies on TERM at once (shell -> java shape)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* async-signal-safe decimal print */
static void put_ll(long long v) {
	char buf[32];
	int i = sizeof buf;
	buf[--i] = '\n';
	if (v == 0) buf[--i] = '0';
	while (v > 0) { buf[--i] = '0' + v % 10; v /= 10; }
	write(1, buf + i, sizeof buf - i);
}

static void ready(void) { write(1, "ready\n", 6); }

static void on_term_print(int sig) { (void)sig; put_ll(now_ns()); _exit(0); }

static volatile sig_atomic_t got_term;
static void on_term_flag(int sig) { (void)sig; got_term = 1; }

static void sleep_ns(long long ns) {
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	const char *mode = argv[1];
	if (!strcmp(mode, "stamp") && argc > 2) {
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", now_ns());
		setenv("BENCH_T0", buf, 1);
		execv(argv[2], argv + 2);
		perror("exec");
		return 127;
	}
	if (!strcmp(mode, "start")) {
		long long t = now_ns();
		const char *t0 = getenv("BENCH_T0");
		if (!t0) return 3;
		put_ll(t - atoll(t0));
		return 0;
	}
	if (!strcmp(mode, "idle")) {
		ready();
		for (;;) pause();
	}
	if (!strcmp(mode, "wait-term")) {
		struct sigaction sa = { .sa_handler = on_term_print };
		sigaction(SIGTERM, &sa, NULL);
		ready();
		for (;;) pause();
	}
	if (!strcmp(mode, "orphans") && argc > 2) {
		/* A middle process forks n children that exit at once and stay
		 * zombies (it does not wait for them); when all are zombies it
		 * notes the time and exits, and the kernel hands the n zombies to
		 * the init at once. We measure until the last one is reaped. */
		int n = atoi(argv[2]);
		int ids[2];
		if (pipe(ids)) return 4;
		pid_t mid = fork();
		if (mid == 0) {
			close(ids[0]);
			pid_t *kids = calloc(n, sizeof *kids);
			for (int i = 0; i < n; i++) {
				pid_t p = fork();
				if (p == 0) _exit(0);
				if (p < 0) _exit(5);
				kids[i] = p;
			}
			char path[64], st[256];
			for (int i = 0; i < n; i++) { /* wait until each is a zombie */
				snprintf(path, sizeof path, "/proc/%d/stat", kids[i]);
				for (;;) {
					int fd = open(path, O_RDONLY);
					ssize_t r = fd < 0 ? -1 : read(fd, st, sizeof st - 1);
					if (fd >= 0) close(fd);
					if (r <= 0) _exit(6);
					st[r] = 0;
					char *c = strrchr(st, ')');
					if (c && c[1] == ' ' && c[2] == 'Z') break;
					sleep_ns(100000);
				}
			}
			write(ids[1], kids, n * sizeof *kids);
			long long t0 = now_ns();
			write(ids[1], &t0, sizeof t0);
			_exit(0); /* the zombies go to the init now */
		}
		close(ids[1]);
		pid_t *pids = calloc(n, sizeof *pids);
		long long t0;
		size_t want = n * sizeof *pids, got = 0;
		while (got < want) {
			ssize_t r = read(ids[0], (char *)pids + got, want - got);
			if (r <= 0) return 6;
			got += r;
		}
		if (read(ids[0], &t0, sizeof t0) != sizeof t0) return 7;
		waitpid(mid, NULL, 0);
		for (int i = 0; i < n; i++)
			while (kill(pids[i], 0) == 0) sleep_ns(50000); /* a zombie answers kill(0) */
		put_ll(now_ns() - t0);
		return 0;
	}
	if (!strcmp(mode, "cleanup") && argc > 3) {
		long long ms = atoll(argv[2]);
		const char *file = argv[3];
		pid_t g = fork();
		if (g == 0) {
			struct sigaction sa = { .sa_handler = on_term_flag };
			sigaction(SIGTERM, &sa, NULL);
			ready();
			while (!got_term) pause();
			sleep_ns(ms * 1000000LL);
			close(open(file, O_CREAT | O_WRONLY, 0644));
			_exit(0);
		}
		for (;;) pause(); /* default TERM action: die at once */
	}
	return 2;
}
